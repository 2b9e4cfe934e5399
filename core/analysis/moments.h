// Streaming moments of a stream of finite values: count, min, max, mean, variance, skewness and excess
// kurtosis, accumulated in double. Each add() takes a chunk (typically one tensor row): the chunk's own
// mean and central sums Σd², Σd³, Σd⁴ (d = x - chunk mean) are computed with vectorisable loops, then
// merged into the running totals with the pairwise update formulas of Chan et al. / Pébay (2008), so
// there is no catastrophic cancellation even when |mean| >> std. Accumulators of different threads
// merge() the same way; the result depends only on the chunks and the merge order.
// Variance is the population variance (divide by n); excess_kurtosis = n·M4/M2² − 3 (0 for a normal).
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>

namespace qb {

struct Moments {
    int64_t count = 0;  // finite values seen
    double min = std::numeric_limits<double>::quiet_NaN();  // NaN while count == 0
    double max = std::numeric_limits<double>::quiet_NaN();
    double mean = 0;
    double variance = 0;         // population variance
    double std = 0;              // sqrt(variance)
    double skewness = 0;         // 0 when variance == 0
    double excess_kurtosis = 0;  // 0 when variance == 0
    double abs_max() const { return count ? std::max(-min, max) : 0.0; }
};

class MomentAccumulator {
public:
    // values must all be finite (callers filter NaN/Inf and count them separately).
    void add(std::span<const float> values);
    void merge(const MomentAccumulator& other);
    Moments result() const;

    // A chunk summarised elsewhere (a GPU kernel): count, mean, central sums Σd², Σd³, Σd⁴, extremes.
    struct Partial {
        double n = 0, mean = 0, m2 = 0, m3 = 0, m4 = 0;
        float min = std::numeric_limits<float>::infinity();
        float max = -std::numeric_limits<float>::infinity();
    };
    void add(const Partial& chunk) { combine(chunk); }

private:
    void combine(const Partial& other);
    Partial total_;
};

}  // namespace qb
