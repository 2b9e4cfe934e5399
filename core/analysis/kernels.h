// Vectorised reductions over runs of float values, the hot loops of the weight statistics. Written with
// fixed-width GCC/Clang vector types: without -ffast-math the compiler will not reorder a scalar
// reduction, and these sums are reordered on purpose (lane-wise partial sums added at the end).
// Results equal a plain loop up to that summation order; max/min/counts are exact.
#pragma once
#include <cstdint>

namespace qb::kernels {

struct SumMinMax {
    double sum = 0;  // in double
    float min = 0;
    float max = 0;
};
SumMinMax sum_min_max(const float* x, int64_t n);  // n >= 1, finite values

struct CentralSums {
    double m2 = 0, m3 = 0, m4 = 0;  // Σd², Σd³, Σd⁴ with d = x - mean, in double
};
CentralSums central_sums(const float* x, int64_t n, double mean);

float abs_max(const float* x, int64_t n);   // 0 for n == 0; NaN never wins
double abs_sum(const float* x, int64_t n);  // Σ|x| in double
void abs_max_into(float* target, const float* x, int64_t n);  // target[i] = max(target[i], |x[i]|)
bool all_finite(const float* x, int64_t n);
// Histogram bin guesses: floor((f(x) - origin) · scale) clamped to [0, last_bin], in float arithmetic.
// A guess may be off (the caller verifies it); f(x) = x, or log2|x| approximated to about 1e-4.
void guess_bins_linear(const float* x, int64_t n, float origin, float scale, int32_t last_bin, int32_t* bins);
void guess_bins_log2_abs(const float* x, int64_t n, float origin, float scale, int32_t last_bin, int32_t* bins);
int64_t count_abs_above(const float* x, int64_t n, float threshold);  // #{ |x| > threshold }; n < 2^34

// Float bounds for exact comparisons of float values with a double threshold t:
// for every finite float v, v >= t ⇔ v >= float_at_or_above(t), v > t ⇔ v > float_at_or_below(t),
// v < t ⇔ v <= float_below(t).
float float_at_or_above(double t);
float float_at_or_below(double t);
float float_below(double t);

}  // namespace qb::kernels
