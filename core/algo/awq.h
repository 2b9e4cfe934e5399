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
// Output: input_scales = s (empty when every s_j = 1, as for α = 0) and the bytes of Q(W·diag(s)), see
// algorithm.h for folding. details: alpha (null when the request gave its scales), clip, errors (the
// objective for each α tried).
//
// Layers that read one input (q, k and v after the same RMSNorm; gate and up) must share their scales to
// fold into that producer: awq_shared_scales searches one α for all of them (the sum of their
// objectives), and each is then quantized with QuantizeRequest::input_scales set to the result. The quantize
// pipeline does this and folds 1/s into the producers (core/pipeline/awq_folding.h).
#pragma once
#include <span>

#include "core/algo/algorithm.h"

namespace qb {

struct AwqScales {
    double alpha = 0;
    std::vector<float> scales;                        // per input channel
    nlohmann::json errors = nlohmann::json::array();  // [alpha, summed objective] per α tried
};

// Every layer needs a format, weights, mean x² (and mean |x| / the Hessian where it has them), all with the
// same input width; the first layer's statistics and options apply. Throws Error("awq", reason).
AwqScales awq_shared_scales(std::span<const QuantizeRequest> layers);

QuantizeResult run_awq(const QuantizeRequest& request);  // request.input_scales: use them, no search

}  // namespace qb
