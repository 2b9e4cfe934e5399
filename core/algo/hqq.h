// HQQ, Half-Quadratic Quantization (Badri & Shaji 2023, "Half-Quadratic Quantization of Large Machine
// Learning Models"): calibration-free. For every unit (group or row) of an asymmetric integer grid the
// zero point (optionally the scale too) minimises the sparsity-promoting error Σ|x - Q(x)|^p, p < 1, by
// half-quadratic splitting: alternately W_e = shrink_p(x - x̂, β) (the generalised soft-threshold of the
// lp proximal step) and the closed-form zero z = mean(W_q - (x - W_e)/s) (with optimize_scale, the
// least-squares (s, z) of x - W_e against the codes), β growing by κ each step, stopping when the mean
// |x - x̂| stops falling (HQQ's optimize_weights_proximal_legacy).
// The format stores an f16 scale and an integer zero, so the candidates (f16(s), floor z), (f16(s), ceil z)
// and the RTN record are compared by the stored grid's own lp error and the least one is written: what is
// stored is what was measured, and no unit does worse than RTN.
//
// The paper optimises the zero alone; here the stored zero is an integer, which leaves the zero-only
// iteration almost nothing to gain over RTN (a fractional shift rounds back), so the scale is optimised
// too by default.
// Options (JSON object, all optional): p 0.7, beta 10, kappa 1.01, iterations 20, optimize_scale true.
// details: units, units_improved (units whose record differs from RTN's), lp_error, rtn_lp_error.
#pragma once
#include <string>

#include "core/algo/algorithm.h"

namespace qb {

QuantizeResult run_hqq(const QuantizeRequest& request);
// "" for asymmetric integer grids g<N>/pc, else why not.
std::string hqq_format_problem(const FormatInfo& format);

}  // namespace qb
