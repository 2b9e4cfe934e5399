// The scale searches ggml's quantizers share, reproduced operation for operation so that the chosen
// scales (and therefore the bytes) match llama.cpp exactly. Both work on one group of n <= 32 values
// and minimise a weighted squared error over a small set of candidate scales.
#pragma once
#include <cstdint>

namespace qb::gguf {

inline constexpr int kMaxSearchGroup = 32;
inline constexpr float kGroupMaxEps = 1e-15f;  // a group whose |max| is below this is stored as zeros

// Symmetric grid: x ~ scale * (L - nmax) with L in [0, 2*nmax). Tries the 19 scales around
// -max/nmax (ggml: make_qx_quants, rmse_type 1). weights == nullptr: weights x^2. Returns the scale.
float search_symmetric_scale(int n, int nmax, const float* x, const float* weights, int8_t* L);

// Affine grid: x ~ scale * L - min_out with L in [0, nmax] and min_out >= 0. Starts from the min/max
// fit and tries nstep+1 scales (nmax + rmin + rdelta*i) / (max - min), each with its least-squares
// scale and offset (ggml: make_qkx2_quants / make_qkx3_quants). use_mad: weight |error| instead of
// error^2. Returns the scale.
float search_affine_scale(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* min_out,
                          float rmin, float rdelta, int nstep, bool use_mad);

}  // namespace qb::gguf
