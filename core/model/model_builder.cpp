#include "core/model/model_builder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <tuple>

#include "core/util/error.h"

namespace qb {
namespace {

struct Mapped {
    CanonicalName name;
    const SourceTensor* source = nullptr;
    std::vector<int64_t> shape;  // canonical shape
};

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

bool hf_transposed(const Mapped& m, SourceFormat source) {
    return source == SourceFormat::Safetensors && m.name.rule && !m.name.bias &&
           m.name.rule->hf_layout == HfLayout::Transposed;
}

std::vector<Mapped> map_names(const Model& model, const Architecture& arch, const std::vector<SourceTensor>& sources) {
    const std::string subject = model.source_path.string();
    std::vector<Mapped> mapped;
    std::map<std::string, const SourceTensor*> by_canonical;
    for (const auto& s : sources) {
        auto name = canonical_name(arch, model.source_format, s.name);
        if (!name) {
            if (model.source_format == SourceFormat::Safetensors && is_ignored_hf_buffer(arch, s.name)) continue;
            throw Error(subject, "tensor '" + s.name + "' is not part of a " + arch.name + " model");
        }
        auto [it, fresh] = by_canonical.emplace(name->name, &s);
        if (!fresh)
            throw Error(subject, "tensors '" + it->second->name + "' and '" + s.name + "' both map to " + name->name);
        Mapped m{std::move(*name), &s, s.shape};
        if (hf_transposed(m, model.source_format)) std::reverse(m.shape.begin(), m.shape.end());
        mapped.push_back(std::move(m));
    }
    return mapped;
}

const Mapped* find_mapped(const std::vector<Mapped>& mapped, std::string_view canonical) {
    for (const auto& m : mapped)
        if (m.name.name == canonical) return &m;
    return nullptr;
}

// Values that tensor shapes imply, for sources that leave them out (gpt2's n_inner: null, llama2.c).
std::optional<double> implied_by_shapes(HParam p, const std::vector<Mapped>& mapped) {
    auto dim = [&](std::string_view name, size_t axis) -> std::optional<double> {
        const Mapped* m = find_mapped(mapped, name);
        if (!m || m->shape.size() <= axis) return std::nullopt;
        return double(m->shape[axis]);
    };
    switch (p) {
        case HParam::Vocab: return dim("token_embd", 0);
        case HParam::Embd: return dim("token_embd", 1);
        case HParam::Ff: return dim("blk.0.ffn_up", 0);
        case HParam::Ctx: return dim("position_embd", 0);
        case HParam::Layers: {
            int last = -1;
            for (const auto& m : mapped) last = std::max(last, m.name.layer);
            return last >= 0 ? std::optional<double>(last + 1) : std::nullopt;
        }
        default: return std::nullopt;
    }
}

// Sizes are whole numbers up to 2^30, so products of two or three of them cannot overflow; anything
// else (NaN, 1e300, 2.5) counts as invalid.
int64_t count_value(std::optional<double> v) {
    if (!v || !std::isfinite(*v) || *v < 0 || *v > double(1 << 30) || *v != std::floor(*v)) return -1;
    return int64_t(*v);
}

HyperParams resolve_hparams(const Model& model, const Architecture& arch, const std::vector<Mapped>& mapped,
                            const HParamLookup& stated) {
    const std::string subject = model.source_path.string();
    auto value = [&](HParam p) -> std::optional<double> {
        if (auto v = stated(p)) return v;
        if (auto v = implied_by_shapes(p, mapped)) return v;
        if (auto it = arch.defaults.find(p); it != arch.defaults.end()) return it->second;
        return std::nullopt;
    };
    auto invalid = [&](HParam p, std::optional<double> v) {
        return Error(subject, "missing or invalid hyper-parameter: " + std::string(hparam_label(p)) +
                                  (v ? " (" + std::to_string(*v) + ")" : ""));
    };
    auto count = [&](HParam p, int64_t fallback) -> int64_t {
        const auto v = value(p);
        if (!v && fallback > 0) return fallback;
        const int64_t n = count_value(v);
        if (n <= 0) throw invalid(p, v);
        return n;
    };
    auto real = [&](HParam p, double low, double high) -> double {
        const auto v = value(p);
        if (!v || !(*v >= low && *v <= high)) throw invalid(p, v);  // also rejects NaN
        return *v;
    };
    HyperParams hp;
    hp.n_vocab = count(HParam::Vocab, 0);
    hp.n_embd = count(HParam::Embd, 0);
    hp.n_layer = count(HParam::Layers, 0);
    hp.n_head = count(HParam::Heads, 0);
    hp.n_head_kv = count(HParam::HeadsKv, hp.n_head);
    hp.head_dim = count(HParam::HeadDim, hp.n_embd / hp.n_head);
    hp.n_ff = count(HParam::Ff, 0);
    hp.n_ctx = std::max<int64_t>(count_value(value(HParam::Ctx)), 0);  // an unknown context length is allowed
    hp.rope_dims = value(HParam::RopeDims) ? count(HParam::RopeDims, 0)
                                           : std::lround(real(HParam::RopeFraction, 0.0, 1.0) * double(hp.head_dim));
    if (hp.rope_dims > 0) hp.rope_theta = real(HParam::RopeTheta, 1.0, 1e12);
    hp.norm_eps = real(HParam::NormEps, 0.0, 1.0);
    hp.parallel_residual = value(HParam::ParallelResidual).value_or(0) != 0;
    if (hp.n_head % hp.n_head_kv != 0)
        throw Error(subject, "attention heads (" + std::to_string(hp.n_head) + ") is not a multiple of key/value heads (" +
                                 std::to_string(hp.n_head_kv) + ")");
    if (hp.rope_dims > hp.head_dim || hp.rope_dims % 2 != 0)
        throw Error(subject, "rotary dimensions (" + std::to_string(hp.rope_dims) + ") must be even and at most the head dimension (" +
                                 std::to_string(hp.head_dim) + ")");
    return hp;
}

int64_t dim_value(Dim d, const HyperParams& hp) {
    switch (d) {
        case Dim::Vocab: return hp.n_vocab;
        case Dim::Embd: return hp.n_embd;
        case Dim::Ff: return hp.n_ff;
        case Dim::Ctx: return hp.n_ctx;
        case Dim::QRows: return hp.n_head * hp.head_dim;
        case Dim::KvRows: return hp.n_head_kv * hp.head_dim;
        case Dim::QkvRows: return (hp.n_head + 2 * hp.n_head_kv) * hp.head_dim;
    }
    return -1;
}

std::vector<int64_t> expected_shape(const Mapped& m, const HyperParams& hp) {
    const auto& dims = m.name.rule->shape;
    if (m.name.bias) return {dim_value(dims.front(), hp)};
    std::vector<int64_t> shape;
    for (Dim d : dims) shape.push_back(dim_value(d, hp));
    return shape;
}

void check_shapes_and_layers(const Model& model, const std::vector<Mapped>& mapped, const HyperParams& hp) {
    const std::string subject = model.source_path.string();
    for (const auto& m : mapped) {
        if (m.name.layer >= hp.n_layer)
            throw Error(subject, "tensor '" + m.source->name + "' belongs to layer " + std::to_string(m.name.layer) +
                                     ", but the model has " + std::to_string(hp.n_layer) + " layers");
        if (!m.name.rule) continue;
        const auto expected = expected_shape(m, hp);
        if (m.shape != expected)
            throw Error(subject, "tensor '" + m.source->name + "' (" + m.name.name + ") has shape " + shape_text(m.shape) +
                                     ", but the hyper-parameters give " + shape_text(expected));
    }
}

void check_required(const Model& model, const Architecture& arch, const std::vector<Mapped>& mapped,
                    const HyperParams& hp) {
    for (const auto& rule : arch.tensors) {
        if (!rule.required) continue;
        const bool per_layer = rule.canonical.find("{N}") != std::string::npos;
        for (int layer = 0; layer < (per_layer ? int(hp.n_layer) : 1); ++layer) {
            std::string canonical = rule.canonical;
            if (per_layer) canonical.replace(canonical.find("{N}"), 3, std::to_string(layer));
            if (!find_mapped(mapped, canonical))
                throw Error(model.source_path.string(), "missing tensor '" + source_name(model.source_format, rule, layer) +
                                                            "' (" + canonical + ")");
        }
    }
}

// A 1-D bias cannot carry a row order: its elements are gathered into a small owned buffer.
void gather_elements(TensorView& v, const std::vector<int32_t>& order, const std::string& subject) {
    if (!v.format || v.format->block_values != 1)
        throw Error(subject, "tensor '" + v.source_name + "': a reordered bias must be stored element by element");
    const size_t element = v.format->block_bytes;
    auto owned = std::make_shared<std::vector<uint8_t>>(order.size() * element);
    for (size_t i = 0; i < order.size(); ++i)
        std::memcpy(owned->data() + i * element, v.data.data() + size_t(order[i]) * element, element);
    v.data = *owned;
    v.keep_alive = owned;
    v.file_backed = false;
}

TensorView make_view(const Mapped& m, const Model& model, const HyperParams& hp) {
    const SourceTensor& s = *m.source;
    TensorView v;
    v.name = m.name.name;
    v.source_name = s.name;
    v.source_file = s.file;
    v.shape = m.shape;
    v.format = s.format;
    v.data = s.data;
    v.keep_alive = s.keep_alive;
    v.file_backed = true;  // every source tensor is a view into its file's mapping
    if (model.source_format != SourceFormat::Safetensors || !m.name.rule) return v;
    v.stored_transposed = hf_transposed(m, model.source_format);
    auto order = hf_row_order(m.name.rule->hf_layout, m.shape.front(), hp, model.source_path.string(), s.name);
    if (order.empty()) return v;
    if (m.name.bias) gather_elements(v, order, model.source_path.string());
    else v.row_order = std::move(order);
    return v;
}

// Globals listed before the first block rule, then blocks layer by layer, then the remaining
// globals, then GGUF tensors outside the table by name.
auto canonical_sort_key(const Architecture& arch, const Mapped& m) {
    const auto& rules = arch.tensors;
    auto first_block = std::find_if(rules.begin(), rules.end(),
                                    [](const TensorRule& r) { return r.canonical.find("{N}") != std::string::npos; });
    const size_t first_block_index = size_t(first_block - rules.begin());
    if (!m.name.rule) return std::tuple(3, 0, size_t(0), m.name.bias, m.name.name);
    const size_t index = size_t(m.name.rule - rules.data());
    const int phase = m.name.layer >= 0 ? 1 : index < first_block_index ? 0 : 2;
    return std::tuple(phase, m.name.layer, index, m.name.bias, std::string());
}

bool same_values(const TensorView& a, const TensorView& b) {
    return a.format == b.format && a.shape == b.shape && a.row_order == b.row_order &&
           a.stored_transposed == b.stored_transposed && a.data.size() == b.data.size() &&
           (a.data.data() == b.data.data() || std::memcmp(a.data.data(), b.data.data(), a.data.size()) == 0);
}

// When the file has no separate output matrix, `output` becomes a second view of token_embd's bytes.
bool add_tied_output(const Architecture& arch, std::vector<Mapped>& mapped) {
    const Mapped* embd = find_mapped(mapped, "token_embd");
    auto rule = std::find_if(arch.tensors.begin(), arch.tensors.end(),
                             [](const TensorRule& r) { return r.canonical == "output"; });
    if (find_mapped(mapped, "output") || !embd || rule == arch.tensors.end()) return false;
    Mapped output = *embd;
    output.name = CanonicalName{"output", &*rule, -1, false};
    mapped.push_back(std::move(output));
    return true;
}

}  // namespace

void build_canonical_model(Model& model, const Architecture& arch, const std::vector<SourceTensor>& sources,
                           const HParamLookup& stated) {
    std::vector<Mapped> mapped = map_names(model, arch, sources);
    const bool tied_view = add_tied_output(arch, mapped);
    model.architecture = arch.name;
    model.hparams = resolve_hparams(model, arch, mapped, stated);
    check_shapes_and_layers(model, mapped, model.hparams);
    check_required(model, arch, mapped, model.hparams);
    std::stable_sort(mapped.begin(), mapped.end(), [&](const Mapped& a, const Mapped& b) {
        return canonical_sort_key(arch, a) < canonical_sort_key(arch, b);
    });
    model.tensors.clear();
    for (const auto& m : mapped) model.tensors.push_back(make_view(m, model, model.hparams));
    const TensorView* embd = model.find("token_embd");
    const TensorView* output = model.find("output");
    model.hparams.tied_embeddings = tied_view || (embd && output && same_values(*embd, *output));
}

}  // namespace qb
