// AWQ-style activation-aware scaling (Lin et al. 2023, "AWQ: Activation-aware Weight Quantization for
// LLM Compression and Acceleration", §3.2). Input channels that see large activations are scaled up
// before quantization, W' = W·diag(s), and the layer computes Q(W')·diag(s)⁻¹: their weights get finer
// steps at the cost of the others. s_j = a_j^α with a_j the channel's mean |x| (sqrt(mean x²) when mean |x|
// is not given), normalised so that max(s)·min(s) = 1 (AWQ's auto_scale); α is chosen on a grid over
// [0, 1] by the least output error Σ_r Δ_r H Δ_rᵀ (H = diag(mean x²) without a Hessian). α = 0 gives s = 1,
// plain RTN, so on its own objective the search never does worse than RTN.
//
// Options (JSON object, all optional):
//   grid_points  20     α = k / (grid_points - 1), k = 0 .. grid_points - 1
//   alpha        -      a fixed α instead of the search
//   clip         false  after scaling, the format's importance-weighted clipping search with the scaled
//                       activations' mean x² / s² (int grids: the _clip variant; ggml blocks: their own)
//   search_rows  1024   the search measures the error on at most this many rows spread evenly (0: all)
// Output: input_scales = s (empty when α = 0) and the bytes of Q(W·diag(s)), see algorithm.h for folding.
// details: alpha, errors (the objective for each α tried).
#pragma once
#include "core/algo/algorithm.h"

namespace qb {

QuantizeResult run_awq(const QuantizeRequest& request);

}  // namespace qb
