// One-pass statistics of a rows x cols f32 tensor (row-major): power sums up to the fourth (mean,
// variance, kurtosis), extremes, a histogram over a given range, per-row and per-column absmax.
// Backends agree: min/max, absmax and histogram counts exactly (bins by core/formulas/histogram.inc);
// power sums within kStatsSumTolerance x sum of |x|^k (the GPU sums floats within a row segment and
// doubles beyond, the CPU sums doubles).
#pragma once
#include <cstdint>
#include <vector>

namespace qb {

inline constexpr double kStatsSumTolerance = 1e-5;

struct StatsRequest {
    int bins = 0;  // 0: no histogram
    float lo = 0;  // histogram range [lo, hi], hi included in the last bin
    float hi = 0;
    bool row_absmax = false;
    bool col_absmax = false;
};

struct TensorStats {
    int64_t count = 0;
    double min = 0;
    double max = 0;
    double sum = 0;   // sum of x
    double sum2 = 0;  // sum of x^2
    double sum3 = 0;
    double sum4 = 0;
    std::vector<uint64_t> histogram;  // `bins` counts
    uint64_t below = 0;               // values below lo
    uint64_t above = 0;               // values above hi (and NaN)
    std::vector<float> row_absmax;
    std::vector<float> col_absmax;

    double mean() const;
    double variance() const;  // population variance
    double stddev() const;
    double excess_kurtosis() const;  // 0 for a normal distribution
};

// Throws Error("statistics", ...) for an empty histogram range or a negative bin count.
void validate(const StatsRequest& request);

}  // namespace qb
