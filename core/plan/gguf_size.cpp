#include "core/plan/gguf_size.h"

#include <map>
#include <optional>

#include "core/infer/tokenizer_loaders.h"
#include "core/model/architecture.h"
#include "core/util/error.h"

namespace qb {
namespace {

using Metadata = std::map<std::string, GgufValue>;

constexpr uint64_t kStringLength = 8;  // u64 length before the bytes
constexpr uint64_t kTypeId = 4;        // u32 value type
constexpr uint64_t kArrayHeader = 4 + 8;  // u32 element type, u64 count
constexpr uint64_t kQuantizationVersion = 2;
constexpr std::string_view kSplitKeys[] = {"split.no", "split.count", "split.tensors.count"};

uint64_t scalar_bytes(GgufType type) {
    switch (type) {
        case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
        case GgufType::U16: case GgufType::I16: return 2;
        case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
        case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
        case GgufType::String: case GgufType::Array: break;
    }
    throw Error("gguf size", "no fixed size for a string or array");
}

uint64_t string_bytes(std::string_view s) { return kStringLength + s.size(); }

uint64_t value_bytes(const GgufValue& v) {
    if (v.type == GgufType::String) return string_bytes(v.as_string());
    if (v.type != GgufType::Array) return scalar_bytes(v.type);
    if (v.elem_type != GgufType::String) return kArrayHeader + v.array_size() * scalar_bytes(v.elem_type);
    uint64_t sum = kArrayHeader;
    for (const auto& s : v.as_strings()) sum += string_bytes(s);
    return sum;
}

uint64_t align_up(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

GgufValue u32(uint64_t v) { return {GgufType::U32, GgufType::U8, v}; }
GgufValue f32(double v) { return {GgufType::F32, GgufType::U8, v}; }
GgufValue flag(bool v) { return {GgufType::Bool, GgufType::U8, v}; }
GgufValue text(std::string v) { return {GgufType::String, GgufType::U8, std::move(v)}; }
GgufValue strings(std::vector<std::string> v) { return {GgufType::Array, GgufType::String, std::move(v)}; }
GgufValue numbers(GgufType elem, size_t count) {
    return {GgufType::Array, elem, std::vector<uint64_t>(count, 0)};
}

// A hyper-parameter as a converter writes it; nullopt when it would not be written.
std::optional<GgufValue> hparam_value(HParam p, const HyperParams& h) {
    switch (p) {
        case HParam::Vocab: return u32(uint64_t(h.n_vocab));
        case HParam::Embd: return u32(uint64_t(h.n_embd));
        case HParam::Layers: return u32(uint64_t(h.n_layer));
        case HParam::Heads: return u32(uint64_t(h.n_head));
        case HParam::HeadsKv: return u32(uint64_t(h.n_head_kv));
        case HParam::HeadDim:  // written only when it differs from n_embd / n_head
            if (h.n_head > 0 && h.head_dim == h.n_embd / h.n_head) return std::nullopt;
            return u32(uint64_t(h.head_dim));
        case HParam::Ff: return u32(uint64_t(h.n_ff));
        case HParam::Ctx: return h.n_ctx > 0 ? std::optional(u32(uint64_t(h.n_ctx))) : std::nullopt;
        case HParam::RopeDims: return u32(uint64_t(h.rope_dims));
        case HParam::RopeTheta: return f32(h.rope_theta);
        case HParam::NormEps: return f32(h.norm_eps);
        case HParam::ParallelResidual: return flag(h.parallel_residual);
        case HParam::RopeFraction: return std::nullopt;
    }
    return std::nullopt;
}

void add_tokenizer(Metadata& m, const Model& model) {
    if (model.tokenizer.kind == TokenizerSource::Kind::None) return;
    const Tokenizer tokenizer = load_tokenizer(model.tokenizer);
    const Vocabulary& v = tokenizer.vocabulary();
    const bool spm = v.algorithm == TokenizerAlgorithm::SentencePiece;
    m["tokenizer.ggml.model"] = text(spm ? "llama" : "gpt2");
    m["tokenizer.ggml.tokens"] = strings(v.pieces);
    if (spm) m["tokenizer.ggml.scores"] = numbers(GgufType::F32, v.scores.size());
    m["tokenizer.ggml.token_type"] = numbers(GgufType::I32, v.types.size());
    if (!v.merges.empty()) {
        std::vector<std::string> merges;
        for (const auto& [a, b] : v.merges) merges.push_back(a + " " + b);
        m["tokenizer.ggml.merges"] = strings(std::move(merges));
    }
    const std::pair<const char*, int32_t> ids[] = {{"bos", v.bos_id}, {"eos", v.eos_id}, {"unknown", v.unk_id}, {"padding", v.pad_id}};
    for (const auto& [name, id] : ids)
        if (id >= 0) m[std::string("tokenizer.ggml.") + name + "_token_id"] = u32(uint64_t(id));
    m["tokenizer.ggml.add_bos_token"] = flag(v.add_bos);
    m["tokenizer.ggml.add_eos_token"] = flag(false);
}

Metadata converted_metadata(const Model& model) {
    const Architecture& arch = architecture_by_name(model.architecture);
    Metadata m;
    m["general.architecture"] = text(arch.gguf_name);
    auto name = model.metadata.find("name");
    m["general.name"] = text(name != model.metadata.end() ? name->second : model.source_path.stem().string());
    for (const auto& source : arch.hparams)
        if (!source.gguf_key.empty())
            if (auto value = hparam_value(source.param, model.hparams))
                m[arch.gguf_name + "." + source.gguf_key] = *value;
    add_tokenizer(m, model);
    return m;
}

// The metadata a GGUF export starts from; `exact` tells whether it is the source's own.
Metadata export_metadata(const Model& model, bool& exact) {
    exact = model.gguf != nullptr;
    Metadata m = exact ? std::static_pointer_cast<const GgufFile>(model.gguf)->metadata() : converted_metadata(model);
    for (auto key : kSplitKeys) m.erase(std::string(key));
    // Only their size matters here; the exporter fills in the file type it writes.
    m["general.quantization_version"] = u32(kQuantizationVersion);
    m["general.file_type"] = u32(0);
    return m;
}

std::string gguf_tensor_name(const std::string& canonical) {
    return is_bias(canonical) ? canonical : canonical + ".weight";
}

}  // namespace

uint64_t gguf_kv_bytes(const std::string& key, const GgufValue& value) {
    return string_bytes(key) + kTypeId + value_bytes(value);
}

GgufSizeEstimate estimate_gguf_size(const ResolvedPlan& plan, const Model& model) {
    if (plan.target != PlanTarget::Gguf)
        throw Error("gguf size", "the plan was resolved for " + std::string(plan_target_name(plan.target)) + ", not gguf");
    GgufSizeEstimate e;
    const Metadata metadata = export_metadata(model, e.exact);
    e.basis = e.exact ? "metadata of " + model.source_path.filename().string()
                      : "estimated converter metadata (hyper-parameters and tokenizer)";
    if (auto it = metadata.find("general.alignment"); it != metadata.end()) e.alignment = uint64_t(it->second.as_int());
    for (const auto& [key, value] : metadata) e.metadata_bytes += gguf_kv_bytes(key, value);
    for (const auto& t : plan.tensors) {
        e.tensor_info_bytes += string_bytes(gguf_tensor_name(t.name)) + 4 + 8 * t.shape.size() + 4 + 8;
        e.data_bytes += t.bytes;
        e.padding_bytes += align_up(t.bytes, e.alignment) - t.bytes;
    }
    const uint64_t head = e.header_bytes + e.metadata_bytes + e.tensor_info_bytes;
    e.padding_bytes += align_up(head, e.alignment) - head;
    return e;
}

}  // namespace qb
