#include "core/model/architecture.h"

#include <algorithm>
#include <charconv>

#include "core/util/error.h"

namespace qb {
namespace {

using enum Dim;
using enum HfLayout;

constexpr std::string_view kLayer = "{N}";

// Llama, Mistral and Qwen2 share names; they differ in q/k row layout (Qwen2 keeps HF's rotate-half
// order in GGUF too) and in which biases occur (any present bias is accepted).
std::vector<TensorRule> llama_like_tensors(bool rotary_permuted) {
    const HfLayout q = rotary_permuted ? RotaryHalfQ : Same, k = rotary_permuted ? RotaryHalfK : Same;
    return {
        {"token_embd", {Vocab, Embd}, {"model.embed_tokens.weight"}, "tok_embeddings.weight"},
        {"blk.{N}.attn_norm", {Embd}, {"model.layers.{N}.input_layernorm.weight"}, "layers.{N}.attention_norm.weight"},
        {"blk.{N}.attn_q", {QRows, Embd}, {"model.layers.{N}.self_attn.q_proj.weight"}, "layers.{N}.attention.wq.weight", q},
        {"blk.{N}.attn_k", {KvRows, Embd}, {"model.layers.{N}.self_attn.k_proj.weight"}, "layers.{N}.attention.wk.weight", k},
        {"blk.{N}.attn_v", {KvRows, Embd}, {"model.layers.{N}.self_attn.v_proj.weight"}, "layers.{N}.attention.wv.weight"},
        {"blk.{N}.attn_output", {Embd, QRows}, {"model.layers.{N}.self_attn.o_proj.weight"}, "layers.{N}.attention.wo.weight"},
        {"blk.{N}.ffn_norm", {Embd}, {"model.layers.{N}.post_attention_layernorm.weight"}, "layers.{N}.ffn_norm.weight"},
        {"blk.{N}.ffn_gate", {Ff, Embd}, {"model.layers.{N}.mlp.gate_proj.weight"}, "layers.{N}.feed_forward.w1.weight"},
        {"blk.{N}.ffn_up", {Ff, Embd}, {"model.layers.{N}.mlp.up_proj.weight"}, "layers.{N}.feed_forward.w3.weight"},
        {"blk.{N}.ffn_down", {Embd, Ff}, {"model.layers.{N}.mlp.down_proj.weight"}, "layers.{N}.feed_forward.w2.weight"},
        {"output_norm", {Embd}, {"model.norm.weight"}, "norm.weight"},
        {"output", {Vocab, Embd}, {"lm_head.weight"}, "output.weight", Same, false},
    };
}

std::vector<HParamSource> llama_like_hparams() {
    return {
        {HParam::Vocab, {"vocab_size"}, "vocab_size"},
        {HParam::Embd, {"hidden_size"}, "embedding_length"},
        {HParam::Layers, {"num_hidden_layers"}, "block_count"},
        {HParam::Heads, {"num_attention_heads"}, "attention.head_count"},
        {HParam::HeadsKv, {"num_key_value_heads"}, "attention.head_count_kv"},
        {HParam::HeadDim, {"head_dim"}, "attention.key_length"},
        {HParam::Ff, {"intermediate_size"}, "feed_forward_length"},
        {HParam::Ctx, {"max_position_embeddings"}, "context_length"},
        {HParam::RopeDims, {}, "rope.dimension_count"},
        {HParam::RopeFraction, {"partial_rotary_factor"}, ""},
        {HParam::RopeTheta, {"rope_theta"}, "rope.freq_base"},
        {HParam::NormEps, {"rms_norm_eps"}, "attention.layer_norm_rms_epsilon"},
    };
}

const std::map<HParam, double> kLlamaDefaults = {
    {HParam::RopeFraction, 1.0}, {HParam::RopeTheta, 10000.0}, {HParam::NormEps, 1e-5}, {HParam::ParallelResidual, 0}};

// GPT-2 checkpoints come with and without the "transformer." prefix.
std::vector<std::string> gpt2_names(const std::string& suffix) { return {"transformer." + suffix, suffix}; }

std::vector<Architecture> build_table() {
    std::vector<Architecture> t;
    t.push_back({"llama", {"llama"}, {"LlamaForCausalLM"}, "llama", llama_like_tensors(true),
                 {"rotary_emb.inv_freq"}, llama_like_hparams(), kLlamaDefaults});
    t.push_back({"mistral", {"mistral"}, {"MistralForCausalLM"}, "mistral", llama_like_tensors(true),
                 {"rotary_emb.inv_freq"}, llama_like_hparams(), kLlamaDefaults});
    t.push_back({"qwen2", {"qwen2"}, {"Qwen2ForCausalLM"}, "qwen2", llama_like_tensors(false),
                 {"rotary_emb.inv_freq"}, llama_like_hparams(), kLlamaDefaults});
    t.push_back({"gpt2",
                 {"gpt2"},
                 {"GPT2LMHeadModel", "GPT2Model"},
                 "gpt2",
                 {
                     {"token_embd", {Vocab, Embd}, gpt2_names("wte.weight"), ""},
                     {"position_embd", {Ctx, Embd}, gpt2_names("wpe.weight"), ""},
                     {"blk.{N}.attn_norm", {Embd}, gpt2_names("h.{N}.ln_1.weight"), ""},
                     {"blk.{N}.attn_qkv", {QkvRows, Embd}, gpt2_names("h.{N}.attn.c_attn.weight"), "", Transposed},
                     {"blk.{N}.attn_output", {Embd, QRows}, gpt2_names("h.{N}.attn.c_proj.weight"), "", Transposed},
                     {"blk.{N}.ffn_norm", {Embd}, gpt2_names("h.{N}.ln_2.weight"), ""},
                     {"blk.{N}.ffn_up", {Ff, Embd}, gpt2_names("h.{N}.mlp.c_fc.weight"), "", Transposed},
                     {"blk.{N}.ffn_down", {Embd, Ff}, gpt2_names("h.{N}.mlp.c_proj.weight"), "", Transposed},
                     {"output_norm", {Embd}, gpt2_names("ln_f.weight"), ""},
                     {"output", {Vocab, Embd}, {"lm_head.weight"}, "", Same, false},
                 },
                 {".attn.bias", ".attn.masked_bias"},
                 {
                     {HParam::Vocab, {"vocab_size"}, "vocab_size"},
                     {HParam::Embd, {"n_embd", "hidden_size"}, "embedding_length"},
                     {HParam::Layers, {"n_layer", "num_hidden_layers"}, "block_count"},
                     {HParam::Heads, {"n_head", "num_attention_heads"}, "attention.head_count"},
                     {HParam::Ff, {"n_inner"}, "feed_forward_length"},
                     {HParam::Ctx, {"n_positions", "n_ctx"}, "context_length"},
                     {HParam::NormEps, {"layer_norm_epsilon"}, "attention.layer_norm_epsilon"},
                 },
                 {{HParam::RopeFraction, 0.0}, {HParam::NormEps, 1e-5}, {HParam::ParallelResidual, 0}}});
    t.push_back({"gpt-neox",
                 {"gpt_neox"},
                 {"GPTNeoXForCausalLM"},
                 "gptneox",
                 {
                     {"token_embd", {Vocab, Embd}, {"gpt_neox.embed_in.weight"}, ""},
                     {"blk.{N}.attn_norm", {Embd}, {"gpt_neox.layers.{N}.input_layernorm.weight"}, ""},
                     {"blk.{N}.attn_qkv", {QkvRows, Embd}, {"gpt_neox.layers.{N}.attention.query_key_value.weight"}, "",
                      QkvPerHead},
                     {"blk.{N}.attn_output", {Embd, QRows}, {"gpt_neox.layers.{N}.attention.dense.weight"}, ""},
                     {"blk.{N}.ffn_norm", {Embd}, {"gpt_neox.layers.{N}.post_attention_layernorm.weight"}, ""},
                     {"blk.{N}.ffn_up", {Ff, Embd}, {"gpt_neox.layers.{N}.mlp.dense_h_to_4h.weight"}, ""},
                     {"blk.{N}.ffn_down", {Embd, Ff}, {"gpt_neox.layers.{N}.mlp.dense_4h_to_h.weight"}, ""},
                     {"output_norm", {Embd}, {"gpt_neox.final_layer_norm.weight"}, ""},
                     {"output", {Vocab, Embd}, {"embed_out.weight"}, "", Same, false},
                 },
                 {".attention.bias", ".attention.masked_bias", "rotary_emb.inv_freq"},
                 {
                     {HParam::Vocab, {"vocab_size"}, "vocab_size"},
                     {HParam::Embd, {"hidden_size"}, "embedding_length"},
                     {HParam::Layers, {"num_hidden_layers"}, "block_count"},
                     {HParam::Heads, {"num_attention_heads"}, "attention.head_count"},
                     {HParam::Ff, {"intermediate_size"}, "feed_forward_length"},
                     {HParam::Ctx, {"max_position_embeddings"}, "context_length"},
                     {HParam::RopeDims, {}, "rope.dimension_count"},
                     {HParam::RopeFraction, {"rotary_pct", "partial_rotary_factor"}, ""},
                     {HParam::RopeTheta, {"rotary_emb_base", "rope_theta"}, "rope.freq_base"},
                     {HParam::NormEps, {"layer_norm_eps"}, "attention.layer_norm_epsilon"},
                     {HParam::ParallelResidual, {"use_parallel_residual"}, "use_parallel_residual"},
                 },
                 // Hugging Face's GPTNeoXConfig defaults.
                 {{HParam::RopeFraction, 0.25}, {HParam::RopeTheta, 10000.0}, {HParam::NormEps, 1e-5},
                  {HParam::ParallelResidual, 1}}});
    return t;
}

// Matches `name` against a pattern with at most one {N}; returns the layer (-1 without {N}).
std::optional<int> match_pattern(std::string_view pattern, std::string_view name) {
    const size_t at = pattern.find(kLayer);
    if (at == std::string_view::npos) return pattern == name ? std::optional<int>(-1) : std::nullopt;
    const std::string_view prefix = pattern.substr(0, at), suffix = pattern.substr(at + kLayer.size());
    if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) || !name.ends_with(suffix))
        return std::nullopt;
    const std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
    int layer = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), layer);
    if (ec != std::errc() || end != digits.data() + digits.size() || layer < 0) return std::nullopt;
    return layer;
}

std::string with_layer(std::string_view pattern, int layer) {
    std::string s(pattern);
    if (auto at = s.find(kLayer); at != std::string::npos) s.replace(at, kLayer.size(), std::to_string(layer));
    return s;
}

std::string replace_suffix(std::string_view name, std::string_view from, std::string_view to) {
    if (!name.ends_with(from)) return {};
    return std::string(name.substr(0, name.size() - from.size())) + std::string(to);
}

// The source-format names of a rule's weight (alternatives).
std::vector<std::string> weight_patterns(const TensorRule& rule, SourceFormat source) {
    switch (source) {
        case SourceFormat::Gguf: return {rule.canonical + ".weight"};
        case SourceFormat::Safetensors: return rule.hf;
        case SourceFormat::Llama2c: return rule.llama2c.empty() ? std::vector<std::string>{} : std::vector{rule.llama2c};
    }
    return {};
}

// Canonical row g of a rotary q/k matrix is HF row h*hd + j*hd/2 + i, where g = h*hd + 2i + j
// (the inverse of the rotate-half permutation convert_hf_to_gguf.py undoes).
std::vector<int32_t> rotary_row_order(int64_t rows, int64_t heads, const std::string& subject, const std::string& tensor) {
    if (heads <= 0 || rows % (2 * heads) != 0)
        throw Error(subject, "tensor '" + tensor + "': " + std::to_string(rows) + " rows do not split into " +
                                 std::to_string(heads) + " rotary heads");
    const int64_t hd = rows / heads, half = hd / 2;
    std::vector<int32_t> order(static_cast<size_t>(rows));
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < half; ++i)
            for (int64_t j = 0; j < 2; ++j) order[size_t(h * hd + 2 * i + j)] = int32_t(h * hd + j * half + i);
    return order;
}

// Canonical row s*n_head*hd + h*hd + i (s = q, k, v) is HF row (h*3 + s)*hd + i.
std::vector<int32_t> qkv_row_order(const HyperParams& hp) {
    const int64_t heads = hp.n_head, hd = hp.head_dim;
    std::vector<int32_t> order(static_cast<size_t>(3 * heads * hd));
    for (int64_t s = 0; s < 3; ++s)
        for (int64_t h = 0; h < heads; ++h)
            for (int64_t i = 0; i < hd; ++i) order[size_t((s * heads + h) * hd + i)] = int32_t((h * 3 + s) * hd + i);
    return order;
}

}  // namespace

std::span<const Architecture> architectures() {
    static const std::vector<Architecture> table = build_table();
    return table;
}

std::string supported_architecture_names() {
    std::string names;
    for (const auto& a : architectures()) names += (names.empty() ? "" : ", ") + a.name;
    return names;
}

const Architecture& architecture_by_name(std::string_view name, const std::string& subject) {
    for (const auto& a : architectures())
        if (a.name == name) return a;
    throw Error(subject, "unknown architecture '" + std::string(name) + "' (supported: " + supported_architecture_names() + ")");
}

const Architecture& architecture_for_hf(std::string_view model_type, const std::vector<std::string>& classes,
                                        const std::string& subject) {
    auto contains = [](const std::vector<std::string>& list, std::string_view s) {
        return std::find(list.begin(), list.end(), s) != list.end();
    };
    for (const auto& a : architectures())
        if (contains(a.hf_model_types, model_type)) return a;
    for (const auto& cls : classes)
        for (const auto& a : architectures())
            if (contains(a.hf_classes, cls)) return a;
    const std::string shown = !model_type.empty() ? std::string(model_type) : classes.empty() ? "" : classes.front();
    throw Error(subject, "unknown architecture '" + shown + "' (supported: " + supported_architecture_names() + ")");
}

const Architecture& architecture_for_gguf(std::string_view general_architecture, const std::string& subject) {
    for (const auto& a : architectures())
        if (a.gguf_name == general_architecture) return a;
    throw Error(subject, "unknown architecture '" + std::string(general_architecture) +
                             "' (supported: " + supported_architecture_names() + ")");
}

std::optional<CanonicalName> canonical_name(const Architecture& arch, SourceFormat source, std::string_view name) {
    for (const auto& rule : arch.tensors)
        for (const auto& pattern : weight_patterns(rule, source)) {
            if (auto layer = match_pattern(pattern, name)) return CanonicalName{with_layer(rule.canonical, *layer), &rule, *layer, false};
            const std::string bias_pattern = replace_suffix(pattern, ".weight", ".bias");
            if (auto layer = match_pattern(bias_pattern, name))
                return CanonicalName{with_layer(rule.canonical, *layer) + ".bias", &rule, *layer, true};
        }
    if (source != SourceFormat::Gguf) return std::nullopt;
    // A GGUF tensor outside the table (rope_freqs, ...) keeps its GGUF name.
    std::string own = name.ends_with(".weight") ? std::string(name.substr(0, name.size() - 7)) : std::string(name);
    return CanonicalName{own, nullptr, tensor_layer(own), is_bias(own)};
}

bool is_ignored_hf_buffer(const Architecture& arch, std::string_view name) {
    return std::any_of(arch.hf_ignored.begin(), arch.hf_ignored.end(),
                       [&](const std::string& suffix) { return name.ends_with(suffix); });
}

std::string source_name(SourceFormat source, const TensorRule& rule, int layer) {
    const auto patterns = weight_patterns(rule, source);
    return patterns.empty() ? with_layer(rule.canonical, layer) : with_layer(patterns.front(), layer);
}

std::vector<int32_t> hf_row_order(HfLayout layout, int64_t rows, const HyperParams& hp, const std::string& subject,
                                  const std::string& tensor) {
    switch (layout) {
        case RotaryHalfQ: return rotary_row_order(rows, hp.n_head, subject, tensor);
        case RotaryHalfK: return rotary_row_order(rows, hp.n_head_kv, subject, tensor);
        case QkvPerHead:
            if (hp.n_head != hp.n_head_kv)
                throw Error(subject, "tensor '" + tensor + "': fused per-head QKV needs as many key/value heads as heads");
            return qkv_row_order(hp);
        default: return {};
    }
}

const HParamSource* hparam_source(const Architecture& arch, HParam param) {
    for (const auto& s : arch.hparams)
        if (s.param == param) return &s;
    return nullptr;
}

std::string_view hparam_label(HParam param) {
    switch (param) {
        case HParam::Vocab: return "vocabulary size";
        case HParam::Embd: return "embedding length";
        case HParam::Layers: return "layer count";
        case HParam::Heads: return "attention heads";
        case HParam::HeadsKv: return "key/value heads";
        case HParam::HeadDim: return "head dimension";
        case HParam::Ff: return "feed-forward length";
        case HParam::Ctx: return "context length";
        case HParam::RopeDims: return "rotary dimensions";
        case HParam::RopeFraction: return "rotary fraction";
        case HParam::RopeTheta: return "rotary base";
        case HParam::NormEps: return "norm epsilon";
        case HParam::ParallelResidual: return "parallel residual";
    }
    return "?";
}

std::string tensor_role(std::string_view canonical) {
    if (canonical.ends_with(".bias")) canonical.remove_suffix(5);
    if (tensor_layer(canonical) >= 0) canonical.remove_prefix(canonical.find('.', 4) + 1);
    return std::string(canonical);
}

int tensor_layer(std::string_view canonical) {
    if (!canonical.starts_with("blk.")) return -1;
    const size_t dot = canonical.find('.', 4);
    if (dot == std::string_view::npos) return -1;
    int layer = -1;
    auto [end, ec] = std::from_chars(canonical.data() + 4, canonical.data() + dot, layer);
    return ec == std::errc() && end == canonical.data() + dot ? layer : -1;
}

bool is_bias(std::string_view canonical) { return canonical.ends_with(".bias"); }

}  // namespace qb
