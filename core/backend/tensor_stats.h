// Statistics of a rows x cols f32 tensor (row-major) in one pass, in the analysis module's types:
// moments of the finite values (core/analysis/moments.h), an optional histogram with its exact bin
// membership (core/analysis/histogram.h), per-row and per-column absmax (non-finite values count as
// 0), and the NaN / Inf counts.
// Backends agree exactly on counts, min, max, absmax and histogram counts. The moments differ by
// summation order only: the GPU sums floats within a row segment of up to 1024 values and merges
// segments in double; mean within kStatsMeanTolerance x std, variance within kStatsRelativeTolerance
// relative, skewness and excess kurtosis within kStatsRelativeTolerance x (1 + |value|).
#pragma once
#include <cstdint>
#include <vector>

#include "core/analysis/histogram.h"
#include "core/analysis/moments.h"

namespace qb {

inline constexpr double kStatsMeanTolerance = 1e-6;
inline constexpr double kStatsRelativeTolerance = 1e-5;

struct StatsRequest {
    int bins = 0;  // 0: no histogram
    HistogramScale scale = HistogramScale::Linear;
    double lo = 0;  // histogram range [lo, hi]
    double hi = 0;
    bool row_absmax = false;
    bool col_absmax = false;
};

struct TensorStats {
    Moments moments;  // finite values only
    int64_t nan_count = 0;
    int64_t inf_count = 0;
    Histogram histogram;  // no bins unless requested
    std::vector<float> row_absmax;
    std::vector<float> col_absmax;
};

// Throws Error("histogram", ...) for a bad histogram request (see HistogramAccumulator).
void validate(const StatsRequest& request);
// The requested histogram with its edges and zero counts (no bins when request.bins == 0).
Histogram histogram_shape(const StatsRequest& request);

}  // namespace qb
