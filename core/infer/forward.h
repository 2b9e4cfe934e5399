// Reference CPU forward pass of the supported decoder-only transformers (llama, mistral, qwen2, gpt2,
// gpt-neox; see arch_compute.h). A Transformer decodes every weight of a Model to f32 once, through the
// format registry, so a quantized model runs with its dequantized ("fake-quant") weights. A forward call
// processes one sequence of tokens at once (positions 0..n-1, causal attention) with f32 activations.
//
// Per call, ForwardOptions can
//   - replace any tensor by f32 values (overrides: "quantize only this tensor" runs share the decoded model),
//   - observe the input of every linear layer (calibration), named by the weight tensor it multiplies,
//   - restrict the logits to the last rows (perplexity scores only part of a chunk).
// A Transformer is immutable after construction: concurrent forward calls are safe.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/infer/arch_compute.h"
#include "core/infer/matmul.h"
#include "core/model/model.h"

namespace qb {

class JobControl;

// Canonical tensor name -> replacement values in canonical row-major layout (same element count).
using WeightOverrides = std::map<std::string, std::vector<float>>;

// Called on the forward caller's thread with the input of a linear layer before it is multiplied:
// `tensor` names the weight ("blk.3.attn_q", "output"; for the tied classifier "token_embd"), x holds
// rows x cols values (one token per row) and is valid during the call only. Layers sharing an input
// (q, k, v) each get their own call with the same x.
using LinearInputHook = std::function<void(const std::string& tensor, const float* x, int64_t rows, int64_t cols)>;

struct ForwardOptions {
    int threads = 0;  // <= 0: all hardware threads
    const WeightOverrides* overrides = nullptr;
    LinearInputHook on_linear_input;
    int64_t first_logit_position = 0;  // logits are computed for positions first_logit_position..n-1 only
};

class Transformer {
public:
    // Throws Error naming the model for an unsupported architecture or a missing/misshapen tensor.
    explicit Transformer(const Model& model, int threads = 0, const JobControl* job = nullptr);

    const std::string& architecture() const { return architecture_; }
    const HyperParams& hparams() const { return hparams_; }
    int64_t vocab_size() const { return hparams_.n_vocab; }
    int64_t context_length() const { return hparams_.n_ctx; }
    // A copy of the decoded f32 values of a tensor (canonical layout); throws Error for an unknown name.
    std::vector<float> weight(const std::string& name) const;

    // Returns (tokens.size() - first_logit_position) x vocab_size logits, row-major.
    std::vector<float> forward(std::span<const int32_t> tokens, const ForwardOptions& options = {}) const;

private:
    struct Linear {
        std::string name;  // weight tensor; its bias, if any, is name + ".bias"
        int64_t rows = 0, cols = 0;
        bool has_bias = false;
    };
    struct Layer {
        std::string attn_norm, ffn_norm;  // LayerNorm biases are <name>.bias
        std::vector<Linear> qkv;          // one fused attn_qkv or attn_q, attn_k, attn_v
        Linear attn_output, ffn_gate, ffn_up, ffn_down;  // ffn_gate only for gated activations
    };
    class Pass;

    Linear expect_linear(const Model& model, const std::string& name, int64_t rows, int64_t cols) const;
    Layer describe_layer(const Model& model, int64_t index) const;
    void check_vector_sizes(const Model& model) const;
    void decode_all(const Model& model, int threads, const JobControl* job);
    int64_t numel(const std::string& name) const;  // 0 for a tensor the model does not have

    std::string architecture_;
    ArchCompute compute_;
    HyperParams hparams_;
    std::vector<Layer> layers_;
    Linear classifier_;  // "output", or "token_embd" when the embeddings are tied
    std::unordered_map<std::string, PackedMatrix> matrices_;  // weights of linear layers, packed for matmul_nt
    std::unordered_map<std::string, std::vector<float>> vectors_;  // every other tensor
};

// Greedy decoding: appends `count` argmax tokens to `prompt` and returns only the new ones.
std::vector<int32_t> generate_greedy(const Transformer& model, std::vector<int32_t> prompt, int64_t count,
                                     int threads = 0);

}  // namespace qb
