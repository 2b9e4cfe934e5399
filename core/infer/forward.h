// Reference CPU forward pass of the supported decoder-only transformers (llama, mistral, qwen2, gpt2,
// gpt-neox; see arch_compute.h). Weights are decoded to f32 through the format registry, so a quantized
// model runs with its dequantized ("fake-quant") weights, but they stay in the Model's (memory-mapped)
// storage: each product decodes its weight rows while packing them (see RowSource in matmul.h) and the
// mapped pages of a used weight are dropped, so memory does not grow with model size. Only a model whose
// linear weights fit a small budget in f32 keeps them decoded (faster products for few tokens); norm weights
// and biases are always decoded, embeddings are read a row at a time. Either way the same products sum in
// the same order: logits are bit-identical. A forward call processes one sequence of tokens at once
// (positions 0..n-1, causal attention) with f32 activations.
//
// Per call, ForwardOptions can
//   - replace any tensor by f32 values (overrides: "quantize only this tensor" runs share the decoded model),
//   - observe the input of every linear layer (calibration), named by the weight tensor it multiplies,
//   - restrict the logits to the last rows (perplexity scores only part of a chunk),
//   - run the weight products on another device (a LinearExecutor, linear_executor.h, such as the Vulkan
//     dequantize-multiply of gpu/gpu_linear.h) from the stored (quantized) bytes; products it declines,
//     and those of overridden tensors, stay on the CPU.
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
#include "core/infer/linear_executor.h"
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

// What a forward call held: bytes of decoded weight values buffered at once by its products (streamed
// weights; resident ones are Transformer::resident_weight_bytes()).
struct ForwardStats {
    int64_t peak_streamed_weight_bytes = 0;
    int64_t executor_products = 0;  // weight products the executor ran
    int64_t cpu_products = 0;       // weight products run on the CPU (no executor, declined, or overridden)
};

struct ForwardOptions {
    int threads = 0;  // <= 0: all hardware threads
    const WeightOverrides* overrides = nullptr;
    LinearInputHook on_linear_input;
    int64_t first_logit_position = 0;  // logits are computed for positions first_logit_position..n-1 only
    ForwardStats* stats = nullptr;     // filled when set
    LinearExecutor* executor = nullptr;  // weight products (nullptr: the CPU, matmul.h); not owned
};

// Linear weights of at most this many f32 bytes in total are decoded once at construction.
inline constexpr int64_t kResidentWeightBudget = int64_t(256) << 20;

class Transformer {
public:
    // Throws Error naming the model for an unsupported architecture or a missing/misshapen tensor. The
    // Transformer shares the model's storage (the views keep their mapping alive), so `model` may go.
    explicit Transformer(const Model& model, int threads = 0, const JobControl* job = nullptr,
                         int64_t resident_budget_bytes = kResidentWeightBudget);

    const std::string& architecture() const { return architecture_; }
    const HyperParams& hparams() const { return hparams_; }
    int64_t vocab_size() const { return hparams_.n_vocab; }
    int64_t context_length() const { return hparams_.n_ctx; }
    // A copy of the decoded f32 values of a tensor (canonical layout); throws Error for an unknown name.
    std::vector<float> weight(const std::string& name) const;
    bool weights_resident() const { return !matrices_.empty(); }  // linear weights decoded at construction
    int64_t resident_weight_bytes() const;  // f32 bytes of the decoded weights this Transformer holds

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
    void load_weights(const Model& model, int threads, const JobControl* job, int64_t resident_budget_bytes);
    int64_t numel(const std::string& name) const;  // 0 for a tensor the model does not have
    // y = x · Wᵀ for the linear weight `name` (override, executor, resident or streamed): the one place the
    // forward pass multiplies by a weight. Returns true when `executor` ran it.
    bool multiply(const std::string& name, const std::vector<float>* override, ConstMatrixRef x, MatrixRef y,
                  int threads, ByteGauge* gauge, LinearExecutor* executor) const;

    std::string architecture_;
    ArchCompute compute_;
    HyperParams hparams_;
    std::vector<Layer> layers_;
    Linear classifier_;  // "output", or "token_embd" when the embeddings are tied
    int threads_ = 0;
    std::unordered_map<std::string, TensorView> views_;       // every tensor, in the model's storage
    std::unordered_map<std::string, PackedMatrix> matrices_;  // linear weights, decoded when within the budget
    std::unordered_map<std::string, std::vector<float>> vectors_;  // 1-D tensors (norm weights, biases), decoded
};

// Greedy decoding: appends `count` argmax tokens to `prompt` and returns only the new ones.
std::vector<int32_t> generate_greedy(const Transformer& model, std::vector<int32_t> prompt, int64_t count,
                                     int threads = 0);

}  // namespace qb
