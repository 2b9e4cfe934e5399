#include "core/analysis/analysis_json.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace qb {

nlohmann::json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json histogram_json(const Histogram& h) {
    return {{"scale", histogram_scale_name(h.scale)}, {"bins", h.counts.size()}, {"edges", h.edges},
            {"counts", h.counts}, {"underflow", h.underflow}, {"overflow", h.overflow}, {"log_counts", h.log_counts}};
}

nlohmann::json error_metrics_json(const ErrorMetrics& m) {
    return {{"mse", m.mse},
            {"rmse", m.rmse},
            {"max_abs_error", m.max_abs_error},
            {"sqnr_db", finite_or_null(m.sqnr_db)},
            {"cosine", m.cosine},
            {"bits_per_weight", m.bits_per_weight}};
}

}  // namespace qb
