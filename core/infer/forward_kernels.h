// Row kernels of the forward pass besides the matrix product: normalisation, activations, rotary
// position embedding, softmax and the weighted sum of value rows. Written as plain loops that GCC vectorises.
#pragma once
#include <cstdint>
#include <vector>

#include "core/infer/arch_compute.h"

namespace qb {

// y = norm(x) · weight (+ bias); statistics are accumulated in double.
void normalize_row(NormKind kind, const float* x, int64_t n, const float* weight, const float* bias, double eps,
                   float* y);

// x = act(x) for plain activations; for SiluGated, up = silu(gate) · up.
void activate(Activation kind, float* x, int64_t n);
void activate_gated(const float* gate, float* up, int64_t n);

// Row lengths that are a multiple of this run the loops below without scalar remainders; callers pad
// rows with -inf scores (softmax weight 0) and zero values to reach it.
inline constexpr int64_t kRowMultiple = 16;

// x[0..n) = softmax(scale · x[0..n)) (one query's attention weights over the keys it may see).
void scaled_softmax(float* x, int64_t n, float scale);

// out[d] = Σ_j weights[j] · columns[d * stride + j] for j < count, d < width: attention's P · V for one
// query, with V stored transposed (one row per value dimension) so each sum runs along contiguous memory.
void weighted_column_sum(const float* weights, int64_t count, const float* columns, int64_t stride, int64_t width,
                         float* out);

// Rotates pairs of a head's first `dims` values by angle position · theta^(-2i/dims): adjacent pairs
// (x[2i], x[2i+1]) or split halves (x[i], x[i + dims/2]). Angles are tabulated for positions 0..n-1.
class Rotary {
public:
    Rotary(int64_t positions, int64_t dims, double theta, bool adjacent_pairs);
    void apply(float* head, int64_t position) const;

private:
    int64_t dims_;
    bool adjacent_pairs_;
    std::vector<float> cos_, sin_;  // [position][pair]
};

}  // namespace qb
