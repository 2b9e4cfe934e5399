// The neutral description of an export that the quantize pipeline (or the CLI) hands to the exporters:
// which tensors of the source model go into the output, in which storage format, and who produces
// their bytes. Bytes are asked for one tensor at a time, in file order, while the file is written, so
// an export holds one tensor in memory (plus what the producer itself keeps).
//
// Producers return the tensor encoded in its output format in canonical layout (core/model/model.h:
// GGUF row layout, [out, in] matrices). The exporters apply the target's own layout (Hugging Face row
// permutations and transposes, GPTQ packing) themselves.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/architecture.h"
#include "core/model/model.h"

namespace qb {

class JobControl;

enum class ExportTarget {
    Gguf,         // one .gguf file, per-tensor ggml types
    Safetensors,  // a Hugging Face folder, every tensor dequantized to the plan's dtype ("fake-quant")
    Gptq,         // a Hugging Face folder in the GPTQ v1 packed layout (AutoGPTQ / GPTQModel)
};

std::string_view export_target_name(ExportTarget target);  // "gguf", "safetensors", "gptq"
ExportTarget export_target_by_name(std::string_view name);  // throws Error("usage", ...)

using TensorProducer = std::function<std::vector<uint8_t>()>;

struct ExportTensor {
    std::string name;                    // canonical name: "blk.0.attn_q", "blk.0.attn_q.bias"
    const FormatInfo* format = nullptr;  // output format; nullptr keeps the source tensor's stored format
    TensorProducer produce;              // empty: the source's bytes (keep) or their round-to-nearest encoding
    // GPTQ act-order only: the produced integer-grid bytes hold the input columns permuted, stored column
    // j being input column act_order[j] (so group k covers act_order[k*G .. k*G+G-1]). Empty: identity.
    std::vector<int32_t> act_order;
};

struct ExportPlan {
    ExportTarget target = ExportTarget::Gguf;
    std::filesystem::path output;       // the .gguf file, or the folder for safetensors and gptq
    std::vector<ExportTensor> tensors;  // file order
    // safetensors: the dtype of every tensor; gptq: of every tensor that is not packed. f16, bf16 or f32.
    std::string dtype = "f16";
    std::map<std::string, std::string> metadata;  // extra string entries (GGUF KVs, safetensors __metadata__)
    std::string summary;  // one line recorded as provenance; empty: the count of each output format
    int threads = 0;      // for decoding and round-to-nearest encoding; <= 0: all hardware threads
};

// A linear layer of a block (a 2-D weight inside blk.N): what GPTQ packs.
bool is_gptq_linear(const TensorView& tensor);

// Why `source` cannot be stored as `format` in the target (empty when it can): the reason names the
// format and the shape rule ("row length 172 is not a multiple of q8_0's block of 32").
std::string storage_problem(ExportTarget target, const TensorView& source, const FormatInfo& format);

// Throws Error(plan.output, "tensor 'blk.0.ffn_down': <reason>") for the first tensor the target cannot
// store, an unknown or repeated name, a missing tensor, or an output that would overwrite the source.
// Every source tensor must be listed except a tied `output` (left out: the output file ties it too) and,
// for Hugging Face targets, tensors that have no Hugging Face name (GGUF-only tensors such as rope_freqs).
void validate_export_plan(const ExportPlan& plan, const Model& source);

// Exact size of the GGUF file the plan writes (header, metadata, tensor infos, padding, data).
uint64_t expected_file_size(const ExportPlan& plan, const Model& source);

// Writes the plan's output atomically (a failure or cancellation leaves nothing) and returns its size in
// bytes (for folders: the model.safetensors file). When `intended` is given it receives the model the
// output is meant to hold: the source's description with every exported tensor in its output format,
// canonical layout, as round-trip validation (core/export/roundtrip.h) compares it with the file.
uint64_t export_model(const Model& source, const ExportPlan& plan, const JobControl* job = nullptr,
                      Model* intended = nullptr);

// ---- for the exporters ----

// A plan entry resolved against the source: output format and a producer that is never empty.
struct PlannedTensor {
    std::string name;
    const TensorView* source = nullptr;
    const FormatInfo* format = nullptr;
    TensorProducer produce;
    std::vector<int32_t> act_order;
};

// Validates the plan and resolves its entries; producers check the size of what they return. With
// `intended`, they also record it there; finish_intended() completes it once the output is written (after
// a failure its content is unspecified).
std::vector<PlannedTensor> resolve_export_plan(const ExportPlan& plan, const Model& source, Model* intended);
void finish_intended(const ExportPlan& plan, const Model& source, Model* intended);

// The tensor's stored bytes in canonical layout (Hugging Face row permutations and transposes undone).
std::vector<uint8_t> canonical_bytes(const TensorView& tensor, int threads = 0);

// A hyper-parameter's value as GGUF and config.json state it; nullopt when the model does not have it
// (unknown context length, no rotary embedding).
std::optional<double> hparam_number(HParam param, const HyperParams& hparams);
bool is_count(HParam param);  // a whole number (sizes, counts), as opposed to a real or a flag

// "q8_0 x30, f16 x5, f32 x11" (or plan.summary when set).
std::string plan_summary(const ExportPlan& plan, const std::vector<PlannedTensor>& tensors);

// True when the source has a tied output and the plan leaves `output` out.
bool plan_ties_output(const ExportPlan& plan, const Model& source);

// The output dtype of Hugging Face targets as a format (f16, bf16 or f32); Error("usage", ...) otherwise.
const FormatInfo& plan_dtype(const ExportPlan& plan);

}  // namespace qb
