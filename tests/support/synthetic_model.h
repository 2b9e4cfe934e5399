// Synthetic models with random weights:
// - Hugging Face llama folders (config.json + model.safetensors) of any size, written in a streaming way (one
//   tensor chunk in memory), for memory-bound and throughput checks on realistic shapes;
// - tiny in-memory f32 models of the forward pass's architectures, for checks against a naive forward.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/model/model.h"

namespace qbtest {

struct SyntheticLlama {
    int64_t vocab = 32000;
    int64_t embd = 4096;
    int64_t ff = 11008;
    int64_t layers = 2;
    int64_t heads = 32;
    int64_t heads_kv = 32;
    std::string dtype = "F16";  // F32, F16 or BF16
    uint64_t seed = 1;
};

// Writes folder/config.json and folder/model.safetensors (tied embeddings: no lm_head). Values are
// approximately gaussian with std 0.02 plus a few large outliers per tensor. Returns the file size.
uint64_t write_synthetic_llama(const std::filesystem::path& folder, const SyntheticLlama& spec);

// Vocabulary 50, embedding 32, 2 layers of heads of 8, feed-forward 72, context 96; which tensors there are
// and the hyper-parameters that differ between architectures come from the spec.
struct SyntheticSpec {
    std::string architecture;
    bool fused_qkv = false, qkv_bias = false, all_biases = false, gated = true, learned_positions = false, tied = false;
    bool layer_norm = false, parallel_residual = false;
    int64_t n_head = 4, n_head_kv = 4, rope_dims = 8;
    float norm_spread = 0.1f;  // norm weights are 1 + norm_spread * N(0, 1)
    uint32_t seed = 42;
};

// gpt2: LayerNorm with biases, fused qkv, non-gated gelu MLP, learned positions, tied embeddings.
SyntheticSpec gpt2_spec();
// gpt-neox: as gpt2 but rotary on half of each head, a parallel residual and an untied output.
SyntheticSpec neox_spec();
// llama: RMSNorm, GQA with 2 kv heads, SwiGLU, no biases.
SyntheticSpec llama_gqa_spec();
// qwen2: llama with q/k/v biases and one kv head.
SyntheticSpec qwen2_spec();

// The model's tensors are f32 with canonical names, values N(0, 1) scaled by 1/sqrt(fan-in) for linear
// weights, drawn from std::mt19937(spec.seed) in canonical tensor order.
qb::Model synthetic_model(const SyntheticSpec& spec);

}  // namespace qbtest
