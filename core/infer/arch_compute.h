// How each supported architecture computes, as data consulted by the generic forward pass. What the
// model's own tensors already say is not repeated here: biases are used where the model has them, a
// fused attn_qkv where it has one, the embedding matrix as classifier where "output" is absent, and
// parallel residuals where HyperParams::parallel_residual is set.
#pragma once
#include <string_view>

namespace qb {

enum class NormKind {
    Rms,    // x / sqrt(mean(x²) + eps) · w
    Layer,  // (x - mean) / sqrt(var + eps) · w + b
};

enum class Activation {
    SiluGated,  // silu(gate(x)) · up(x)  (SwiGLU)
    GeluTanh,   // gelu with the tanh approximation (GPT-2's "gelu_new")
    GeluErf,    // exact gelu (GPT-NeoX's "gelu")
};

enum class PositionKind {
    RotaryPairs,  // rotary over adjacent pairs (x[2i], x[2i+1]): the GGUF/Meta layout of llama-family q/k rows
    RotaryHalf,   // NeoX rotate-half over the first rope_dims of a head: pairs (x[i], x[i + rope_dims/2])
    Learned,      // position_embd rows added to the token embeddings
};

struct ArchCompute {
    std::string_view architecture;  // registry name, as in Model::architecture
    NormKind norm;
    Activation activation;
    PositionKind positions;
};

// Throws Error("architecture", "no forward pass for 'x' (supported: ...)").
const ArchCompute& arch_compute(std::string_view architecture);

}  // namespace qb
