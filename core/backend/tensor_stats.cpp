#include "core/backend/tensor_stats.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/util/error.h"

namespace qb {

double TensorStats::mean() const { return count ? sum / double(count) : 0.0; }

double TensorStats::variance() const {
    if (!count) return 0.0;
    const double m = mean();
    return std::max(0.0, sum2 / double(count) - m * m);
}

double TensorStats::stddev() const { return std::sqrt(variance()); }

double TensorStats::excess_kurtosis() const {
    const double var = variance();
    if (!count || var == 0.0) return 0.0;
    const double n = double(count);
    const double m = mean();
    const double fourth_central = sum4 / n - 4 * m * sum3 / n + 6 * m * m * sum2 / n - 3 * m * m * m * m;
    return fourth_central / (var * var) - 3.0;
}

void validate(const StatsRequest& request) {
    if (request.bins < 0) throw Error("statistics", "negative histogram bin count");
    if (request.bins > 0 && !(request.hi > request.lo))
        throw Error("statistics", "histogram range [" + std::to_string(request.lo) + ", " + std::to_string(request.hi) + "] is empty");
}

}  // namespace qb
