#include "core/backend/tensor_stats.h"

namespace qb {

void validate(const StatsRequest& request) { histogram_shape(request); }

Histogram histogram_shape(const StatsRequest& request) {
    if (request.bins == 0) return {};
    return HistogramAccumulator(request.scale, request.bins, request.lo, request.hi).result();
}

}  // namespace qb
