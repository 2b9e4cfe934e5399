// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers", Algorithm 1). The columns of W are quantized one at a time and
// each column's error is spread over the columns not yet quantized through the upper Cholesky factor U
// of H⁻¹ (Uᵀ U = (H + λI)⁻¹), which minimises Σ_r Δ_r H Δ_rᵀ greedily. Codes land on the format's own
// grid (core/algo/code_grid.h), so the bytes decode exactly to the dequantized matrix.
//
// Options (JSON object, all optional):
//   percdamp      0.01   λ = percdamp · mean(diag H); multiplied by 10 (0 becomes 0.01), at most 3 times,
//                        while H + λI is not positive definite
//   block_size    128    columns per lazy batch, rounded to whole units when units are fitted dynamically
//   act_order     false  quantize columns in order of decreasing H_ii
//   static_groups = act_order   fit every unit's scale/zero from the original weights up front instead of
//                        from the error-updated weights when the sweep reaches the unit's first column.
//                        The formats store units in natural column order (their g_idx is column / unit),
//                        so act_order needs static groups unless a unit is a whole row.
// Dead columns (H_ii = 0: never reached by calibration input) get H_ii = 1 and weight 0.
// details: percdamp (as used), block_size, act_order, static_groups, damped_hessian_error = Σ err², which
// equals Σ_r Δ_r (H + λI) Δ_rᵀ (Δ = Q - W with dead columns zeroed) free of charge, and the wall time of
// the two phases: factor_seconds (U from H, 2n³/3 flops in double) and sweep_seconds, and the device
// that ran the block updates ("cpu", or request.backend's name when it accelerates them: the host then
// quantizes each block of all rows while the device updates the columns behind it).
#pragma once
#include <string>

#include "core/algo/algorithm.h"

namespace qb {

QuantizeResult run_gptq(const QuantizeRequest& request);
// "" for integer grids g<N>/pc and ggml q4_0 q4_1 q5_0 q5_1 q8_0, else why not.
std::string gptq_format_problem(const FormatInfo& format);

// The lazy batch update, GPTQ's bulk (rows · cols² flops over a sweep): after a block of columns, the
// columns behind it absorb the block's scaled errors, w_tail -= err · hinv_rows, where err is rows x block
// (row stride `block`), hinv_rows the block's rows of U restricted to the tail columns (row stride
// hinv_stride) and w_tail rows x tail_cols (row stride w_stride). One thread; the CPU backend's
// GptqUpdater (core/backend/backend.h), which a device backend replaces.
void gptq_block_update(const float* err, int64_t rows, int64_t block, const float* hinv_rows, int64_t hinv_stride,
                       float* w_tail, int64_t w_stride, int64_t tail_cols);

}  // namespace qb
