// llama-quantize's presets as plans. preset_plan() expands a preset for one model into a QuantPlan:
// the preset's default type plus one rule per group of tensors that llama.cpp's llama_tensor_get_type
// (commit c392e509) gives another type: attn_v / ffn_down in the use_more_bits layers, attn_output and
// attn_qkv upgrades, the output matrix (q8_0 when its rows do not fit the default type's block, else
// q6_k), the grouped-query-attention and 80-layer (70B-class) adjustments. Fallback is on, so rows that
// do not fit a type get llama.cpp's fallback types when the plan is resolved. Not modelled: Falcon,
// mixtures of experts (n_expert is ignored), imatrix-dependent choices and the IQ1/IQ2/IQ3 mixes.
//
// Quantbench models always carry `output` as its own tensor (a view of token_embd when tied), so
// llama.cpp's rule for files without one (token_embd takes the output type) never applies; this matches
// what llama.cpp did with a GGUF source that stores output.weight, as the stories260K files show.
#pragma once
#include <span>
#include <string_view>

#include "core/model/model.h"
#include "core/plan/quant_plan.h"

namespace qb {

struct PresetInfo {
    std::string_view name;            // "q4_k_m"
    std::string_view default_format;  // registry format of most tensors: "q4_k"
    int llama_file_type;              // llama_ftype, the value of GGUF general.file_type
    std::string_view description;
};

std::span<const PresetInfo> presets();
const PresetInfo* find_preset(std::string_view name);    // case-insensitive; nullptr when unknown
const PresetInfo& preset_by_name(std::string_view name); // throws Error("preset", "unknown preset ... (known: ...)")

QuantPlan preset_plan(std::string_view name, const Model& model);

}  // namespace qb
