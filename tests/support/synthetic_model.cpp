#include "tests/support/synthetic_model.h"

#include <cmath>
#include <fstream>
#include <memory>
#include <random>
#include <vector>

#include "core/io/safetensors_writer.h"
#include "core/quant/format.h"

namespace qbtest {
namespace {

// xorshift64* with a 4-uniform Irwin-Hall sum: cheap, deterministic, close enough to gaussian for stats.
class FastGaussian {
public:
    explicit FastGaussian(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
    float next() {
        float sum = 0;
        for (int i = 0; i < 4; ++i) sum += float(step() >> 40) * 0x1p-24f;
        return (sum - 2.0f) * 1.7320508f;  // variance of the sum of 4 U(0,1) is 1/3
    }

private:
    uint64_t step() {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545F4914F6CDD1Dull;
    }
    uint64_t state_;
};

qb::SafetensorsOutput random_tensor(const std::string& name, std::vector<int64_t> shape, const std::string& dtype,
                                    uint64_t seed, bool norm_weight) {
    const qb::FormatInfo& format = *qb::format_by_safetensors_dtype(dtype);
    qb::SafetensorsOutput out{name, dtype, shape};
    out.produce = [&format, shape, seed, norm_weight](const qb::ByteSink& sink) {
        const int64_t cols = shape.back();
        const int64_t rows = shape.size() == 2 ? shape[0] : 1;
        const int64_t chunk_rows = std::max<int64_t>(1, (1 << 20) / cols);
        FastGaussian gaussian(seed);
        std::vector<float> values(size_t(chunk_rows * cols));
        std::vector<uint8_t> bytes;
        for (int64_t r = 0; r < rows; r += chunk_rows) {
            const int64_t n = std::min(chunk_rows, rows - r);
            for (int64_t i = 0; i < n * cols; ++i)
                values[size_t(i)] = norm_weight ? 1.0f + 0.1f * gaussian.next() : 0.02f * gaussian.next();
            if (!norm_weight && r == 0) values[size_t(cols / 3)] = 0.9f;  // one outlier column per tensor
            bytes.resize(format.tensor_bytes(n, cols));
            qb::encode_tensor(format, values.data(), n, cols, bytes.data());
            sink(bytes);
        }
    };
    return out;
}

// Tensors of normal values offset + scale * N(0, 1), appended to a model in the order they are added.
struct RandomTensors {
    qb::Model& model;
    std::mt19937 rng;

    void add(const std::string& name, std::vector<int64_t> shape, float scale, float offset = 0.0f) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        std::normal_distribution<float> normal(0.0f, 1.0f);
        auto values = std::make_shared<std::vector<float>>(size_t(n));
        for (float& v : *values) v = offset + scale * normal(rng);
        qb::TensorView t;
        t.name = t.source_name = name;
        t.source_file = "synthetic";
        t.shape = std::move(shape);
        t.format = &qb::format_by_name("f32");
        t.data = {reinterpret_cast<const uint8_t*>(values->data()), values->size() * sizeof(float)};
        t.keep_alive = values;
        model.tensors.push_back(std::move(t));
    }
};

}  // namespace

uint64_t write_synthetic_llama(const std::filesystem::path& folder, const SyntheticLlama& s) {
    std::filesystem::create_directories(folder);
    const int64_t head_dim = s.embd / s.heads;
    std::vector<qb::SafetensorsOutput> tensors;
    uint64_t seed = s.seed;
    auto add = [&](const std::string& name, std::vector<int64_t> shape, bool norm = false) {
        tensors.push_back(random_tensor(name, std::move(shape), s.dtype, seed++, norm));
    };
    add("model.embed_tokens.weight", {s.vocab, s.embd});
    for (int64_t l = 0; l < s.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        add(p + "input_layernorm.weight", {s.embd}, true);
        add(p + "self_attn.q_proj.weight", {s.heads * head_dim, s.embd});
        add(p + "self_attn.k_proj.weight", {s.heads_kv * head_dim, s.embd});
        add(p + "self_attn.v_proj.weight", {s.heads_kv * head_dim, s.embd});
        add(p + "self_attn.o_proj.weight", {s.embd, s.heads * head_dim});
        add(p + "post_attention_layernorm.weight", {s.embd}, true);
        add(p + "mlp.gate_proj.weight", {s.ff, s.embd});
        add(p + "mlp.up_proj.weight", {s.ff, s.embd});
        add(p + "mlp.down_proj.weight", {s.embd, s.ff});
    }
    add("model.norm.weight", {s.embd}, true);
    qb::write_safetensors(folder / "model.safetensors", tensors, {{"format", "pt"}});

    std::ofstream config(folder / "config.json");
    config << "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": " << s.embd
           << ", \"intermediate_size\": " << s.ff << ", \"num_hidden_layers\": " << s.layers
           << ", \"num_attention_heads\": " << s.heads << ", \"num_key_value_heads\": " << s.heads_kv
           << ", \"vocab_size\": " << s.vocab
           << ", \"max_position_embeddings\": 4096, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0,"
              " \"tie_word_embeddings\": true}\n";
    return std::filesystem::file_size(folder / "model.safetensors");
}

SyntheticSpec gpt2_spec() {
    SyntheticSpec s;
    s.architecture = "gpt2";
    s.fused_qkv = s.qkv_bias = s.all_biases = s.learned_positions = s.tied = s.layer_norm = true;
    s.gated = false;
    return s;
}

SyntheticSpec neox_spec() {
    SyntheticSpec s;
    s.architecture = "gpt-neox";
    s.fused_qkv = s.qkv_bias = s.all_biases = s.layer_norm = s.parallel_residual = true;
    s.gated = false;
    s.rope_dims = 4;  // partial rotary: half of each head
    return s;
}

SyntheticSpec llama_gqa_spec() {
    SyntheticSpec s;
    s.architecture = "llama";
    s.n_head_kv = 2;
    return s;
}

SyntheticSpec qwen2_spec() {
    SyntheticSpec s;
    s.architecture = "qwen2";
    s.qkv_bias = true;
    s.n_head_kv = 1;
    return s;
}

qb::Model synthetic_model(const SyntheticSpec& spec) {
    qb::Model model;
    qb::HyperParams& hp = model.hparams;
    hp.n_vocab = 50, hp.n_embd = 32, hp.n_layer = 2, hp.n_head = spec.n_head, hp.n_head_kv = spec.n_head_kv;
    hp.head_dim = 8, hp.n_ff = 72, hp.n_ctx = 96, hp.rope_dims = spec.rope_dims, hp.rope_theta = 10000.0;
    hp.norm_eps = 1e-5, hp.tied_embeddings = spec.tied, hp.parallel_residual = spec.parallel_residual;
    model.architecture = spec.architecture;
    model.source_path = "synthetic-" + spec.architecture;
    RandomTensors random{model, std::mt19937(spec.seed)};
    const int64_t e = hp.n_embd, q = hp.n_head * hp.head_dim, kv = hp.n_head_kv * hp.head_dim, ff = hp.n_ff;
    auto norm = [&](const std::string& name) {
        random.add(name, {e}, spec.norm_spread, 1.0f);
        if (spec.layer_norm) random.add(name + ".bias", {e}, 0.1f);
    };
    auto linear = [&](const std::string& name, int64_t rows, int64_t cols, bool bias) {
        random.add(name, {rows, cols}, 1.0f / std::sqrt(float(cols)));
        if (bias) random.add(name + ".bias", {rows}, 0.1f);
    };
    random.add("token_embd", {hp.n_vocab, e}, 0.5f);
    if (spec.learned_positions) random.add("position_embd", {hp.n_ctx, e}, 0.2f);
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const std::string blk = "blk." + std::to_string(l) + ".";
        norm(blk + "attn_norm");
        if (spec.fused_qkv) {
            linear(blk + "attn_qkv", q + 2 * kv, e, spec.qkv_bias);
        } else {
            linear(blk + "attn_q", q, e, spec.qkv_bias);
            linear(blk + "attn_k", kv, e, spec.qkv_bias);
            linear(blk + "attn_v", kv, e, spec.qkv_bias);
        }
        linear(blk + "attn_output", e, q, spec.all_biases);
        norm(blk + "ffn_norm");
        if (spec.gated) linear(blk + "ffn_gate", ff, e, false);
        linear(blk + "ffn_up", ff, e, spec.all_biases);
        linear(blk + "ffn_down", e, ff, spec.all_biases);
    }
    norm("output_norm");
    if (!spec.tied) linear("output", hp.n_vocab, e, false);
    return model;
}

}  // namespace qbtest
