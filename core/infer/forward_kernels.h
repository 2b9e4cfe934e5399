// Row kernels of the forward pass besides the matrix product: normalisation, activations, rotary
// position embedding and causal softmax. Written as plain loops that GCC vectorises.
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

// Scores of one query row: scales keys 0..query, turns them into softmax weights and zeroes the rest of
// the row (keys query+1..row_length-1 are in the future).
void causal_softmax_row(float* scores, int64_t query, int64_t row_length, float scale);

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
