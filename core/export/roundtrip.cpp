#include "core/export/roundtrip.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "core/export/gptq_pack.h"
#include "core/export/hf_layout.h"
#include "core/infer/forward.h"
#include "core/io/safetensors_reader.h"
#include "core/util/error.h"

namespace qb {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kProbeTokens = 16;

// Relative logit tolerance when weights were rounded to the dtype (see roundtrip.h).
double rounding_tolerance(const FormatInfo& dtype) {
    if (dtype.name == "f16") return 1.0 / 256;
    if (dtype.name == "bf16") return 1.0 / 32;
    return 0;
}

std::string number(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", v);
    return text;
}

// ---- reading a GPTQ folder back ----

std::span<const uint8_t> tensor_data(const SafetensorsFile& file, const std::string& name, const std::string& dtype,
                                     const std::vector<int64_t>& shape) {
    const SafetensorsTensor* t = file.find_tensor(name);
    if (!t) throw Error(file.name(), "has no tensor '" + name + "'");
    if (t->dtype != dtype || t->shape != shape)
        throw Error(file.name(), "tensor '" + name + "' is not " + dtype + " of the shape its layer needs");
    return t->data;
}

template <typename T>
std::vector<T> copy_of(std::span<const uint8_t> bytes) {
    std::vector<T> v(bytes.size() / sizeof(T));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
    return v;
}

TensorView owned_f32_view(const std::string& name, const std::string& source_name, std::vector<int64_t> shape,
                          const std::vector<float>& values) {
    const FormatInfo& f32 = format_by_name("f32");
    auto owned = std::make_shared<std::vector<uint8_t>>(encode_tensor(f32, values, 1, int64_t(values.size())));
    TensorView v;
    v.name = name;
    v.source_name = source_name;
    v.shape = std::move(shape);
    v.format = &f32;
    v.data = *owned;
    v.keep_alive = owned;
    return v;
}

TensorView unpacked_view(const SafetensorsFile& file, const nlohmann::ordered_json& config, const TensorView& intended,
                         const HfPlacement& p) {
    const std::string module = hf_module_name(p);
    const GptqModuleSettings settings = gptq_module_settings(config, module);
    GptqModule m;
    m.out = intended.rows();
    m.in = intended.cols();
    m.bits = settings.bits;
    m.group_size = settings.group_size;
    if (!settings.quantized || m.bits <= 0 || (m.group_size > 0 && m.in % m.group_size != 0))
        throw Error(file.name(), "module '" + module + "' is packed, but quantize_config.json gives it no usable bits and group size");
    m.qweight = copy_of<int32_t>(tensor_data(file, module + ".qweight", "I32", {m.in * m.bits / 32, m.out}));
    m.qzeros = copy_of<int32_t>(tensor_data(file, module + ".qzeros", "I32", {m.groups(), m.out * m.bits / 32}));
    m.scales = copy_of<uint16_t>(tensor_data(file, module + ".scales", "F16", {m.groups(), m.out}));
    m.g_idx = copy_of<int32_t>(tensor_data(file, module + ".g_idx", "I32", {m.in}));
    for (int32_t g : m.g_idx)
        if (g < 0 || g >= m.groups()) throw Error(file.name(), "module '" + module + "': g_idx holds group " + std::to_string(g));
    return owned_f32_view(intended.name, module + ".qweight", intended.shape, unpack_gptq(m, p.row_order));
}

TensorView stored_view(const SafetensorsFile& file, const TensorView& intended, const HfPlacement& p,
                       const std::shared_ptr<const SafetensorsFile>& keep_alive) {
    const SafetensorsTensor* t = file.find_tensor(p.name);
    if (!t) throw Error(file.name(), "has no tensor '" + p.name + "'");
    if (t->shape != p.shape || !t->format)
        throw Error(file.name(), "tensor '" + p.name + "' does not have the shape or a dtype its tensor needs");
    TensorView v;
    v.name = intended.name;
    v.source_name = p.name;
    v.source_file = file.name();
    v.shape = intended.shape;
    v.format = t->format;
    v.data = t->data;
    v.keep_alive = keep_alive;
    v.stored_transposed = p.transposed;
    if (p.shape.size() == 1 && !p.row_order.empty()) {  // a permuted bias: gather its elements
        const std::vector<float> stored = decode_tensor(*t->format, t->data, 1, t->numel());
        std::vector<float> values(stored.size());
        for (size_t i = 0; i < values.size(); ++i) values[i] = stored[size_t(p.row_order[i])];
        return owned_f32_view(intended.name, p.name, intended.shape, values);
    }
    v.row_order = p.row_order;
    return v;
}

Model reload_gptq(const ExportPlan& plan, const Model& intended) {
    auto file = std::make_shared<const SafetensorsFile>(plan.output / "model.safetensors");
    std::ifstream config_stream(plan.output / "quantize_config.json", std::ios::binary);
    if (!config_stream) throw Error((plan.output / "quantize_config.json").string(), "cannot be read");
    const auto config = nlohmann::ordered_json::parse(config_stream);
    Model model = intended;
    model.source_path = plan.output;
    model.source_format = SourceFormat::Safetensors;
    model.gguf.reset();
    model.tensors.clear();
    for (const auto& t : intended.tensors) {
        if (t.name == "output" && intended.hparams.tied_embeddings) continue;
        const HfPlacement p = *hf_placement(intended, t.name);
        model.tensors.push_back(file->find_tensor(hf_module_name(p) + ".qweight") ? unpacked_view(*file, config, t, p)
                                                                                  : stored_view(*file, t, p, file));
    }
    if (intended.hparams.tied_embeddings) {
        TensorView output = model.tensor("token_embd");
        output.name = "output";
        model.tensors.push_back(std::move(output));
    }
    return model;
}

// ---- comparisons ----

void compare_hparams(const HyperParams& a, const HyperParams& b, const std::string& subject) {
    const std::pair<const char*, std::pair<double, double>> fields[] = {
        {"vocabulary size", {double(a.n_vocab), double(b.n_vocab)}},  {"embedding length", {double(a.n_embd), double(b.n_embd)}},
        {"layer count", {double(a.n_layer), double(b.n_layer)}},      {"attention heads", {double(a.n_head), double(b.n_head)}},
        {"key/value heads", {double(a.n_head_kv), double(b.n_head_kv)}}, {"head dimension", {double(a.head_dim), double(b.head_dim)}},
        {"feed-forward length", {double(a.n_ff), double(b.n_ff)}},    {"context length", {double(a.n_ctx), double(b.n_ctx)}},
        {"rotary dimensions", {double(a.rope_dims), double(b.rope_dims)}}, {"rotary base", {a.rope_theta, b.rope_theta}},
        {"norm epsilon", {a.norm_eps, b.norm_eps}},                   {"parallel residual", {a.parallel_residual, b.parallel_residual}},
    };
    for (const auto& [label, values] : fields)
        if (values.first != values.second)
            throw Error(subject, std::string(label) + " reloads as " + number(values.second) + ", intended " + number(values.first));
}

void compare_bytes(const TensorView& intended, const TensorView& reloaded, const std::string& subject, int threads) {
    if (reloaded.format != intended.format)
        throw Error(subject, "tensor '" + intended.name + "' is stored as " +
                                 (reloaded.format ? reloaded.format->name : std::string("an undecodable type")) +
                                 ", intended " + intended.format->name);
    const std::vector<uint8_t> a = canonical_bytes(intended, threads), b = canonical_bytes(reloaded, threads);
    const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    if (ia != a.end() || ib != b.end())
        throw Error(subject, "tensor '" + intended.name + "': stored bytes differ from the intended ones at byte " +
                                 std::to_string(ia - a.begin()));
}

// Reloaded values must equal `expected` bit for bit; returns the largest |reloaded - intended|.
double compare_values(const TensorView& intended, const TensorView& reloaded, const FormatInfo* rounding,
                      const std::string& subject, int threads) {
    if (reloaded.shape != intended.shape) throw Error(subject, "tensor '" + intended.name + "' reloads with another shape");
    const std::vector<float> wanted = intended.to_f32(threads), got = reloaded.to_f32(threads);
    const std::vector<float> expected =
        rounding ? decode_tensor(*rounding, encode_tensor(*rounding, wanted, 1, int64_t(wanted.size())), 1, int64_t(wanted.size()))
                 : wanted;
    double max_diff = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(expected[i]))
            throw Error(subject, "tensor '" + intended.name + "': value " + std::to_string(i) + " reloads as " + number(got[i]) +
                                     ", intended " + number(wanted[i]) + (rounding ? " (" + number(expected[i]) + " in " + rounding->name + ")" : ""));
        max_diff = std::max(max_diff, double(std::fabs(got[i] - wanted[i])));
    }
    return max_diff;
}

std::vector<int32_t> probe_tokens(int64_t vocab) {
    std::vector<int32_t> tokens;
    for (int64_t i = 0; i < kProbeTokens; ++i) tokens.push_back(int32_t((1 + 7919 * i) % vocab));
    return tokens;
}

// One model's logits at a time, so only one decoded model is in memory.
std::vector<float> logits_of(const Model& model, const std::vector<int32_t>& tokens, int threads) {
    const Transformer net(model, threads);
    ForwardOptions options;
    options.threads = threads;
    return net.forward(tokens, options);
}

}  // namespace

Model reload_export(const ExportPlan& plan, const Model& intended) {
    if (plan.target == ExportTarget::Gptq) return reload_gptq(plan, intended);
    return load_model(plan.output);
}

RoundTripReport validate_roundtrip(const Model& intended, const ExportPlan& plan, const RoundTripOptions& options) {
    const std::string subject = plan.output.string();
    RoundTripReport report;
    report.output = plan.output;
    const Model reloaded = reload_export(plan, intended);
    compare_hparams(intended.hparams, reloaded.hparams, subject);
    if (reloaded.tensors.size() != intended.tensors.size())
        throw Error(subject, "reloads with " + std::to_string(reloaded.tensors.size()) + " tensors, intended " +
                                 std::to_string(intended.tensors.size()));
    const FormatInfo* dtype = plan.target == ExportTarget::Gguf ? nullptr : &plan_dtype(plan);
    for (const auto& t : intended.tensors) {
        const TensorView* r = reloaded.find(t.name);
        if (!r) throw Error(subject, "tensor '" + t.name + "' is missing from the output");
        TensorRoundTrip check{t.name, t.format->name, true, 0};
        if (plan.target == ExportTarget::Gguf) {
            compare_bytes(t, *r, subject, options.threads);
        } else {
            const bool unpacked = r->source_name.ends_with(".qweight");
            check.max_abs_diff = compare_values(t, *r, unpacked ? nullptr : dtype, subject, options.threads);
            check.exact = check.max_abs_diff == 0;
        }
        report.tensors.push_back(std::move(check));
    }

    const bool exact = std::all_of(report.tensors.begin(), report.tensors.end(), [](const auto& c) { return c.exact; });
    const std::vector<int32_t> tokens = options.tokens.empty() ? probe_tokens(intended.hparams.n_vocab) : options.tokens;
    const std::vector<float> wanted = logits_of(intended, tokens, options.threads);
    const std::vector<float> got = logits_of(reloaded, tokens, options.threads);
    double largest = 0;
    for (size_t i = 0; i < wanted.size(); ++i) {
        report.max_logit_diff = std::max(report.max_logit_diff, double(std::fabs(got[i] - wanted[i])));
        largest = std::max(largest, double(std::fabs(wanted[i])));
    }
    report.tokens = int64_t(tokens.size());
    report.logit_tolerance = exact ? 0 : rounding_tolerance(*dtype) * largest;
    if (!(report.max_logit_diff <= report.logit_tolerance))
        throw Error(subject, "logits of the reloaded model differ from the intended ones by " + number(report.max_logit_diff) +
                                 " (tolerance " + number(report.logit_tolerance) + ")");
    return report;
}

}  // namespace qb
