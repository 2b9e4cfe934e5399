// The supported network families as data. Each entry maps the tensor names of every source (Hugging
// Face, GGUF, llama2.c) to canonical names, gives each tensor's canonical shape in hyper-parameter
// terms, says how Hugging Face storage differs from the canonical layout, and where the
// hyper-parameters live in config.json and in GGUF metadata ("<gguf_name>.<key>").
//
// Canonical names are GGUF names without ".weight": "token_embd", "position_embd", "blk.3.attn_q",
// "blk.3.attn_qkv", "output_norm", "output"; biases end in ".bias" ("blk.3.attn_q.bias"). In GGUF
// files a tensor is named canonical + ".weight" (biases keep their name). The canonical row layout is
// GGUF's: interleaved rotary pairs for llama/mistral q/k, [all q | all k | all v] rows for fused QKV,
// [out, in] matrices.
#pragma once
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/model.h"

namespace qb {

// A size in a canonical shape, in hyper-parameter terms.
enum class Dim {
    Vocab,
    Embd,
    Ff,
    Ctx,
    QRows,    // n_head * head_dim
    KvRows,   // n_head_kv * head_dim
    QkvRows,  // QRows + 2 * KvRows
};

// How a Hugging Face tensor is stored relative to its canonical layout.
enum class HfLayout {
    Same,
    RotaryHalfQ,  // rows of each q head in rotate-half order: permuted back to interleaved pairs (n_head heads)
    RotaryHalfK,  // the same for k with n_head_kv heads
    QkvPerHead,   // fused rows grouped per head [q k v][q k v]...: regrouped to [all q | all k | all v]
    Transposed,   // Conv1D weight stored [in, out]
};

struct TensorRule {
    std::string canonical;        // "blk.{N}.attn_q"; {N} stands for the layer index
    std::vector<Dim> shape;       // canonical shape of the weight; its bias, if any, is {shape[0]}
    std::vector<std::string> hf;  // HF names of the weight (alternatives); the bias ends ".bias" instead of ".weight"
    std::string llama2c;          // llama2.c / Meta name, empty if that format has no such tensor
    HfLayout hf_layout = HfLayout::Same;
    bool required = true;
};

enum class HParam {
    Vocab, Embd, Layers, Heads, HeadsKv, HeadDim, Ff, Ctx,
    RopeDims, RopeFraction, RopeTheta, NormEps, ParallelResidual,
};

struct HParamSource {
    HParam param;
    std::vector<std::string> config_keys;  // config.json keys, the first one present wins
    std::string gguf_key;                  // key after "<gguf_name>.", empty if GGUF does not store it
};

struct Architecture {
    std::string name;                        // registry name: "llama", "gpt-neox"
    std::vector<std::string> hf_model_types; // config.json "model_type" values
    std::vector<std::string> hf_classes;     // config.json "architectures" values
    std::string gguf_name;                   // GGUF general.architecture
    std::vector<TensorRule> tensors;         // canonical order: globals, block tensors, globals
    std::vector<std::string> hf_ignored;     // name suffixes of HF buffers that are not weights
    std::vector<HParamSource> hparams;
    std::map<HParam, double> defaults;       // used when no source states the value
};

std::span<const Architecture> architectures();
std::string supported_architecture_names();  // "llama, mistral, qwen2, gpt2, gpt-neox"
// Lookups throw Error(subject, "unknown architecture 'x' (supported: ...)").
const Architecture& architecture_by_name(std::string_view name, const std::string& subject = "architecture");
const Architecture& architecture_for_hf(std::string_view model_type, const std::vector<std::string>& classes,
                                        const std::string& subject);
const Architecture& architecture_for_gguf(std::string_view general_architecture, const std::string& subject);

// A source tensor name resolved against an architecture.
struct CanonicalName {
    std::string name;                  // "blk.3.attn_q.bias"
    const TensorRule* rule = nullptr;  // nullptr: a GGUF tensor outside the table, kept under its own name
    int layer = -1;
    bool bias = false;
};
// nullopt when the name is not a tensor of the architecture in that source format.
std::optional<CanonicalName> canonical_name(const Architecture& arch, SourceFormat source, std::string_view name);
bool is_ignored_hf_buffer(const Architecture& arch, std::string_view name);
std::string source_name(SourceFormat source, const TensorRule& rule, int layer);
// Rows of a tensor (or elements of its bias) as Hugging Face stores them: canonical row i is HF row
// order[i]; empty for layouts that keep rows in place (Same, Transposed). Throws Error(subject, ...)
// naming `tensor` when the rows do not split into the heads.
std::vector<int32_t> hf_row_order(HfLayout layout, int64_t rows, const HyperParams& hp, const std::string& subject,
                                  const std::string& tensor);
const HParamSource* hparam_source(const Architecture& arch, HParam param);
std::string_view hparam_label(HParam param);  // "attention heads"

// Facts about a canonical name: role "attn_q" (also for "blk.3.attn_q.bias"), layer 3 (-1 outside the blocks).
std::string tensor_role(std::string_view canonical);
int tensor_layer(std::string_view canonical);
bool is_bias(std::string_view canonical);

}  // namespace qb
