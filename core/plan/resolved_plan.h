// Resolving a QuantPlan against a model and an export target: the per-tensor decision (format or keep,
// algorithm, options, and where the decision came from) plus exact budget accounting, before anything runs.
//
// Targets (a table in resolved_plan.cpp); what each can store is the exporter's rule
// (core/export/export_plan.h storage_problem), so a resolved plan is always exportable:
//   gguf              formats with a ggml type; 1-D tensors (norms, biases) stay f32 and position
//                     embeddings are kept, as llama.cpp does; kept tensors keep their source type if
//                     ggml can store it, else f32
//   safetensors-fake  any format (the exporter stores the dequantized values); kept tensors: f16, the
//                     exporter's default dtype
//   gptq              2/3/4/8-bit integer grids per group or channel whose rows fill int32 words, or a plain
//                     float (an unquantized module); only the blocks' matrices are quantized; kept: f16
//   analysis          any format; kept tensors stay in their source format
// Every target keeps 1-D tensors. Rules and defaults skip tensors a target does not quantize; an
// override asking to quantize one is an error.
//
// A choice the target cannot honour (unknown or decode-only format, a format it cannot store, a row
// length that is not a multiple of the format's block or group) is an Error naming the tensor and the
// reason, or, when the plan (or the caller) asks for fallback, replaced by the fallback table of
// llama.cpp's llama_tensor_get_type: q4_k -> q5_0, q5_k -> q5_1, q6_k -> q8_0,
// q2_k / q3_k / iq4_xs -> iq4_nl, anything else -> f16; and f16 when the fallback does not fit either.
// Likewise an algorithm that cannot produce the tensor's format (core/algo/algorithm.h) is an Error, or
// with fallback replaced by rtn, which produces every format. Plain float formats take no algorithm.
//
// Budget: bytes are exact stored bytes (format.tensor_bytes: codes, scales, zeros and headers included);
// bits per weight = 8 * bytes / parameters over the planned tensors. A tied `output` is planned and
// counted as its own tensor, as llama.cpp's quantized files store it.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/export/export_plan.h"
#include "core/model/model.h"
#include "core/plan/quant_plan.h"
#include "core/quant/format.h"

namespace qb {

enum class PlanTarget { Gguf, SafetensorsFake, Gptq, Analysis };

std::string_view plan_target_name(PlanTarget target);
PlanTarget plan_target_by_name(std::string_view name);  // throws Error("target", "unknown target ... (known: ...)")
std::string plan_target_names();                        // "gguf, safetensors-fake, gptq, analysis"
std::optional<ExportTarget> plan_exporter(PlanTarget target);  // nullopt for analysis

enum class DecisionOrigin {
    Default,
    Rule,
    Override,
    NotQuantized,  // the target never quantizes this tensor (1-D, position embeddings, outside GPTQ's blocks)
};

struct TensorAssignment {
    std::string name;  // canonical
    std::vector<int64_t> shape;
    int64_t rows = 0, cols = 0;
    const FormatInfo* format = nullptr;  // stored format: the quantized one, or the kept tensor's storage
    bool keep = false;                   // stored unquantized
    std::string algorithm;               // empty when kept or converted to a plain float format
    nlohmann::json options = nlohmann::json::object();
    DecisionOrigin origin = DecisionOrigin::Default;
    int rule = 0;                  // 1-based rule number when origin == Rule
    std::string rule_note;         // that rule's note
    std::string requested;         // format asked for, when a fallback replaced it
    std::string fallback_problem;  // why it was replaced
    std::string requested_algorithm;  // algorithm asked for, when it cannot produce the format and rtn stands in
    std::string algorithm_problem;    // why
    std::string not_quantized_why; // origin == NotQuantized: the target's reason
    uint64_t bytes = 0;

    int64_t parameters() const { return rows * cols; }
    double bits_per_weight() const;
    bool quantized() const { return !keep && format && format->kind != FormatKind::Float; }
    // "default", "rule 2 (attn_v in use_more_bits layers)", "override", "rule 3: keep", "kept: 1-D tensor",
    // "default: fallback from q4_k: row length 64 is not a multiple of q4_k's block of 256".
    std::string reason() const;
};

struct ResolvedPlan {
    std::string plan_name;
    PlanTarget target = PlanTarget::Analysis;
    std::vector<TensorAssignment> tensors;  // model order

    uint64_t total_bytes() const;
    uint64_t quantized_bytes() const;  // tensors with a quantized format
    int64_t parameters() const;
    double bits_per_weight() const;
    size_t fallback_count() const;
    const TensorAssignment* find(std::string_view name) const;
};

struct ResolveOptions {
    std::optional<bool> fallback;  // overrides plan.fallback when set
};

// Throws Error(tensor name, reason) for an invalid choice (see above), Error("plan override", ...) for an
// override naming no tensor of the model, and validate_plan()'s errors.
ResolvedPlan resolve_plan(const QuantPlan& plan, const Model& model, PlanTarget target, const ResolveOptions& options = {});

// Why `format` cannot hold `tensor` on `target` (cannot be produced, the exporter cannot store it, the
// row is not a multiple of its block); empty when it can.
std::string target_storage_problem(const FormatInfo& format, const TensorView& tensor, PlanTarget target);

// The format the fallback table puts in place of `format` for `tensor` on `target`.
const FormatInfo& fallback_format(const FormatInfo& format, const TensorView& tensor, PlanTarget target);

}  // namespace qb
