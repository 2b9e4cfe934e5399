#include "tests/support/synthetic_model.h"

#include <cmath>
#include <fstream>
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

}  // namespace qbtest
