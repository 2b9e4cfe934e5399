// The scale searches ggml's quantizers share, reproduced operation for operation so that the chosen
// scales (and therefore the bytes) match llama.cpp exactly. Each searches the scale of many independent
// groups of n <= 32 values (group g is x[g*n, g*n + n)), minimising a weighted squared error over a
// small set of candidate scales. The groups run side by side in SIMD lanes: every lane performs ggml's
// sequential float operations in ggml's order, so the results are exact and the latency of the long
// accumulation chains is shared by many groups.
#pragma once
#include <cstdint>

namespace qb::gguf {

inline constexpr int kMaxSearchGroup = 32;
inline constexpr float kGroupMaxEps = 1e-15f;  // a group whose |max| is below this is stored as zeros

// Symmetric grid: x ~ scale * (L - nmax) with L in [0, 2*nmax). Tries the 19 scales around -max/nmax
// (ggml: make_qx_quants, rmse_type 1). weights == nullptr: weights x^2. Writes scales[groups].
void search_symmetric_scales(int groups, int n, int nmax, const float* x, const float* weights, int8_t* L,
                             float* scales);

// Affine grid: x ~ scale * L - min with L in [0, nmax] and min >= 0. Starts from the min/max fit and
// tries nstep+1 scales (nmax + rmin + rdelta*i) / (max - min), each with its least-squares scale and
// offset (ggml: make_qkx2_quants / make_qkx3_quants). use_mad: weight |error| instead of error^2.
struct AffineSearch {
    float rmin;
    float rdelta;
    int nstep;
    bool use_mad;
};
void search_affine_scales(int groups, int n, int nmax, const float* x, const float* weights, uint8_t* L,
                          float* scales, float* mins, const AffineSearch& search);

// Non-linear grid: x ~ scale * grid[L] with grid 16 sorted values (iq4_nl's). Least-squares scale for
// each of the 2*ntry+2 stretchings of the grid to max (ggml: the search of quantize_row_iq4_nl_impl).
// The codes are assigned afterwards from the scales as stored (core/formulas/iq4.inc).
void search_grid_scales(int groups, int n, const float* grid, int ntry, const float* x, const float* weights,
                        float* scales);

}  // namespace qb::gguf
