#include "core/export/export_plan.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/export/gguf_export.h"
#include "core/export/hf_layout.h"
#include "core/export/safetensors_export.h"
#include "core/model/architecture.h"
#include "core/util/error.h"

namespace qb {
namespace {

namespace fs = std::filesystem;

std::string gptq_problem(const TensorView& source, const FormatInfo& format) {
    const bool linear = is_gptq_linear(source);
    if (format.kind != FormatKind::IntGrid) {
        if (linear && format.kind != FormatKind::Float)
            return format.name + " is not an integer grid (GPTQ stores linear layers as integer grids or unquantized)";
        return format.decode_row ? "" : format.name + " cannot be decoded";
    }
    if (!linear) return "GPTQ packs only the linear layers of the blocks, not " + source.name;
    const GridParams& g = format.grid;
    if (g.bits != 2 && g.bits != 3 && g.bits != 4 && g.bits != 8) return "GPTQ packs 2, 3, 4 or 8 bits, not " + format.name;
    if (g.group == kPerTensor) return "GPTQ has no per-tensor scale (" + format.name + "); use a per-channel (pc) grid";
    const int64_t out = source.shape[0], in = source.shape[1];
    if (in * g.bits % 32 != 0)
        return "the input dimension " + std::to_string(in) + " does not fill whole int32 words of " +
               std::to_string(g.bits) + "-bit values (qweight)";
    if (out * g.bits % 32 != 0)
        return "the output dimension " + std::to_string(out) + " does not fill whole int32 words of " +
               std::to_string(g.bits) + "-bit zero points (qzeros)";
    return {};
}

std::string safetensors_problem(const FormatInfo& format) {
    return format.decode_row ? "" : format.name + " cannot be decoded";
}

bool needs_hf_name(ExportTarget target) { return target != ExportTarget::Gguf; }

void check_not_overwriting_input(const ExportPlan& plan, const Model& source) {
    const std::string subject = plan.output.string();
    std::error_code ec;
    std::set<std::string> inputs{source.source_path.string()};
    for (const auto& t : source.tensors)
        if (!t.source_file.empty()) inputs.insert(t.source_file);
    for (const auto& input : inputs) {
        const bool same = fs::exists(plan.output, ec) && fs::equivalent(plan.output, input, ec);
        const fs::path folder = fs::path(input).parent_path().empty() ? fs::path(".") : fs::path(input).parent_path();
        const bool inside = plan.target != ExportTarget::Gguf && fs::exists(plan.output, ec) &&
                            fs::equivalent(plan.output, folder, ec);
        if (same || inside) throw Error(subject, "the output would overwrite the input model " + input);
    }
}

void check_names(const ExportPlan& plan, const Model& source) {
    const std::string subject = plan.output.string();
    std::set<std::string> listed;
    for (const auto& t : plan.tensors) {
        if (!source.find(t.name)) throw Error(subject, "tensor '" + t.name + "': the model has no such tensor");
        if (!listed.insert(t.name).second) throw Error(subject, "tensor '" + t.name + "' is listed twice");
    }
    for (const auto& t : source.tensors) {
        if (listed.count(t.name) || (t.name == "output" && source.hparams.tied_embeddings)) continue;
        if (needs_hf_name(plan.target) && !hf_placement(source, t.name)) continue;
        throw Error(subject, "tensor '" + t.name + "' is missing from the export plan");
    }
}

const FormatInfo& output_format(const ExportTensor& entry, const TensorView& source, const std::string& subject) {
    if (entry.format) return *entry.format;
    if (!source.format) throw Error(subject, "tensor '" + entry.name + "': its stored type cannot be decoded or kept");
    return *source.format;
}

std::string act_order_problem(ExportTarget target, const ExportTensor& entry, const FormatInfo& format, int64_t cols) {
    if (target != ExportTarget::Gptq || format.kind != FormatKind::IntGrid)
        return "an act-order permutation needs an integer grid in a GPTQ export";
    std::vector<bool> seen(size_t(cols), false);
    for (int32_t column : entry.act_order) {
        if (column < 0 || column >= cols || seen[size_t(column)])
            return "the act-order list is not a permutation of the " + std::to_string(cols) + " input columns";
        seen[size_t(column)] = true;
    }
    return int64_t(entry.act_order.size()) == cols
               ? ""
               : "the act-order list is not a permutation of the " + std::to_string(cols) + " input columns";
}

void check_entry(const ExportPlan& plan, const ExportTensor& entry, const TensorView& source) {
    const std::string subject = plan.output.string();
    const FormatInfo& format = output_format(entry, source, subject);
    std::string problem = storage_problem(plan.target, source, format);
    if (problem.empty() && !entry.produce && entry.format && entry.format != source.format && !format.can_encode())
        problem = format.name + " can be read but not produced";
    if (problem.empty() && !entry.act_order.empty()) problem = act_order_problem(plan.target, entry, format, source.cols());
    if (!problem.empty()) throw Error(subject, "tensor '" + entry.name + "': " + problem);
}

// Each reads its source tensor once and drops its mapped pages, so an export's resident memory stays at
// one tensor instead of growing with the pages of every tensor read so far.
TensorProducer default_producer(const TensorView& source, const FormatInfo& format, bool keep, int threads) {
    if (keep)
        return [&source, threads] {
            std::vector<uint8_t> bytes = canonical_bytes(source, threads);
            source.evict_pages();
            return bytes;
        };
    return [&source, &format, threads] {
        const std::vector<float> values = source.to_f32(threads);
        source.evict_pages();
        return encode_tensor(format, values, source.rows(), source.cols(), nullptr, threads);
    };
}

// What the intended model shows for a produced tensor: the bytes produced, decoded to f32 in input-column
// order when the columns were permuted for act-order.
TensorView intended_view(const PlannedTensor& t, std::vector<uint8_t> bytes, int threads) {
    TensorView v;
    v.name = t.name;
    v.source_name = t.name;
    v.shape = t.source->shape;
    v.format = t.format;
    auto owned = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
    if (!t.act_order.empty()) {
        const int64_t rows = v.rows(), cols = v.cols();
        const std::vector<float> permuted = decode_tensor(*t.format, *owned, rows, cols, threads);
        std::vector<float> values(permuted.size());
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < cols; ++j)
                values[size_t(r * cols + t.act_order[size_t(j)])] = permuted[size_t(r * cols + j)];
        v.format = &format_by_name("f32");
        owned = std::make_shared<std::vector<uint8_t>>(encode_tensor(*v.format, values, rows, cols));
    }
    v.data = *owned;
    v.keep_alive = owned;
    return v;
}

TensorProducer size_checked(TensorProducer inner, const PlannedTensor& t, const std::string& subject) {
    return [inner = std::move(inner), &view = *t.source, &format = *t.format, name = t.name, subject] {
        std::vector<uint8_t> bytes = inner();
        const size_t expected = format.tensor_bytes(view.rows(), view.cols());
        if (bytes.size() != expected)
            throw Error(subject, "tensor '" + name + "': producer gave " + std::to_string(bytes.size()) + " bytes, " +
                                     format.name + " of its shape needs " + std::to_string(expected));
        return bytes;
    };
}

// t's producer, also appending what it produces to the intended model.
TensorProducer recorded(const PlannedTensor& t, Model* intended, int threads) {
    return [inner = t.produce, description = PlannedTensor{t.name, t.source, t.format, {}, t.act_order}, intended, threads] {
        std::vector<uint8_t> bytes = inner();
        intended->tensors.push_back(intended_view(description, bytes, threads));
        return bytes;
    };
}

}  // namespace

bool is_gptq_linear(const TensorView& t) { return t.shape.size() == 2 && tensor_layer(t.name) >= 0 && !is_bias(t.name); }

std::string_view export_target_name(ExportTarget target) {
    switch (target) {
        case ExportTarget::Gguf: return "gguf";
        case ExportTarget::Safetensors: return "safetensors";
        case ExportTarget::Gptq: return "gptq";
    }
    return "?";
}

ExportTarget export_target_by_name(std::string_view name) {
    for (ExportTarget t : {ExportTarget::Gguf, ExportTarget::Safetensors, ExportTarget::Gptq})
        if (export_target_name(t) == name) return t;
    throw Error("usage", "unknown export target '" + std::string(name) + "' (known: gguf, safetensors, gptq)");
}

std::string storage_problem(ExportTarget target, const TensorView& source, const FormatInfo& format) {
    if (std::string shape = format.shape_problem(source.cols()); !shape.empty()) return shape;
    switch (target) {
        case ExportTarget::Gguf: return format.gguf_storable() ? "" : format.name + " has no GGUF tensor type";
        case ExportTarget::Safetensors: return safetensors_problem(format);
        case ExportTarget::Gptq: return gptq_problem(source, format);
    }
    return {};
}

const FormatInfo& plan_dtype(const ExportPlan& plan) {
    if (plan.dtype != "f16" && plan.dtype != "bf16" && plan.dtype != "f32")
        throw Error("usage", "dtype '" + plan.dtype + "' is not one of f16, bf16, f32");
    return format_by_name(plan.dtype);
}

void validate_export_plan(const ExportPlan& plan, const Model& source) {
    if (plan.output.empty()) throw Error("export", "no output path");
    if (needs_hf_name(plan.target)) plan_dtype(plan);
    check_not_overwriting_input(plan, source);
    check_names(plan, source);
    for (const auto& entry : plan.tensors) {
        const TensorView& view = source.tensor(entry.name);
        if (needs_hf_name(plan.target) && !hf_placement(source, entry.name))
            throw Error(plan.output.string(), "tensor '" + entry.name + "' has no Hugging Face name");
        check_entry(plan, entry, view);
    }
}

std::vector<PlannedTensor> resolve_export_plan(const ExportPlan& plan, const Model& source, Model* intended) {
    validate_export_plan(plan, source);
    if (intended) {
        *intended = source;
        intended->tensors.clear();
        intended->tensors.reserve(plan.tensors.size() + 1);
    }
    std::vector<PlannedTensor> planned;
    for (const auto& entry : plan.tensors) {
        PlannedTensor t{entry.name, &source.tensor(entry.name), nullptr, entry.produce, entry.act_order};
        t.format = &output_format(entry, *t.source, plan.output.string());
        const bool keep = t.format == t.source->format && !entry.produce;
        if (!t.produce) t.produce = default_producer(*t.source, *t.format, keep, plan.threads);
        t.produce = size_checked(std::move(t.produce), t, plan.output.string());
        if (intended && keep) intended->tensors.push_back(*t.source);
        else if (intended) t.produce = recorded(t, intended, plan.threads);
        planned.push_back(std::move(t));
    }
    return planned;
}

void finish_intended(const ExportPlan& plan, const Model& source, Model* intended) {
    if (!intended) return;
    intended->hparams.tied_embeddings = plan_ties_output(plan, source);
    if (intended->hparams.tied_embeddings) {
        TensorView output = intended->tensor("token_embd");
        output.name = "output";
        intended->tensors.push_back(std::move(output));
    }
}

bool plan_ties_output(const ExportPlan& plan, const Model& source) {
    return source.hparams.tied_embeddings && source.find("output") &&
           std::none_of(plan.tensors.begin(), plan.tensors.end(), [](const ExportTensor& t) { return t.name == "output"; });
}

std::vector<uint8_t> canonical_bytes(const TensorView& tensor, int threads) {
    if (!tensor.format) throw Error(tensor.source_file, "tensor '" + tensor.source_name + "' has no decodable format");
    const FormatInfo& f = *tensor.format;
    if (!tensor.stored_transposed && tensor.row_order.empty()) return {tensor.data.begin(), tensor.data.end()};
    if (!tensor.stored_transposed && f.header_bytes == 0) {
        const size_t row_bytes = f.row_bytes(tensor.cols());
        std::vector<uint8_t> out(tensor.data.size());
        for (size_t r = 0; r < tensor.row_order.size(); ++r)
            std::memcpy(out.data() + r * row_bytes, tensor.data.data() + size_t(tensor.row_order[r]) * row_bytes, row_bytes);
        return out;
    }
    // Re-encoding decoded values reproduces them exactly only for element-wise formats.
    if (f.block_values != 1 || !f.can_encode())
        throw Error(tensor.source_file, "tensor '" + tensor.source_name + "' is stored transposed as " + f.name +
                                            ", which cannot be rewritten in canonical layout without re-quantizing it");
    return encode_tensor(f, tensor.to_f32(threads), tensor.rows(), tensor.cols(), nullptr, threads);
}

std::string plan_summary(const ExportPlan& plan, const std::vector<PlannedTensor>& tensors) {
    if (!plan.summary.empty()) return plan.summary;
    std::vector<std::pair<std::string, int>> counts;
    for (const auto& t : tensors) {
        auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == t.format->name; });
        if (it == counts.end()) counts.emplace_back(t.format->name, 1);
        else ++it->second;
    }
    std::string s;
    for (const auto& [name, n] : counts) s += (s.empty() ? "" : ", ") + name + " x" + std::to_string(n);
    return s;
}

std::optional<double> hparam_number(HParam param, const HyperParams& hp) {
    switch (param) {
        case HParam::Vocab: return double(hp.n_vocab);
        case HParam::Embd: return double(hp.n_embd);
        case HParam::Layers: return double(hp.n_layer);
        case HParam::Heads: return double(hp.n_head);
        case HParam::HeadsKv: return double(hp.n_head_kv);
        case HParam::HeadDim: return double(hp.head_dim);
        case HParam::Ff: return double(hp.n_ff);
        case HParam::Ctx: return hp.n_ctx > 0 ? std::optional(double(hp.n_ctx)) : std::nullopt;
        case HParam::RopeDims: return hp.rope_dims > 0 ? std::optional(double(hp.rope_dims)) : std::nullopt;
        case HParam::RopeFraction: return double(hp.rope_dims) / double(hp.head_dim);
        case HParam::RopeTheta: return hp.rope_dims > 0 ? std::optional(hp.rope_theta) : std::nullopt;
        case HParam::NormEps: return hp.norm_eps;
        case HParam::ParallelResidual: return hp.parallel_residual ? 1.0 : 0.0;
    }
    return std::nullopt;
}

bool is_count(HParam param) {
    return param != HParam::RopeFraction && param != HParam::RopeTheta && param != HParam::NormEps &&
           param != HParam::ParallelResidual;
}

uint64_t expected_file_size(const ExportPlan& plan, const Model& source) {
    if (plan.target != ExportTarget::Gguf) throw Error("export", "expected_file_size() describes GGUF outputs only");
    return gguf_export_layout(source, plan).file_size;
}

uint64_t export_model(const Model& source, const ExportPlan& plan, const JobControl* job, Model* intended) {
    switch (plan.target) {
        case ExportTarget::Gguf: return export_gguf(source, plan, job, intended);
        case ExportTarget::Safetensors: return export_safetensors(source, plan, job, intended);
        case ExportTarget::Gptq: return export_gptq(source, plan, job, intended);
    }
    return 0;
}

}  // namespace qb
