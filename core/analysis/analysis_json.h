// JSON pieces the analysis results share (weight_stats.h and format_probe.h list their field names).
#pragma once
#include <nlohmann/json_fwd.hpp>

#include "core/analysis/histogram.h"
#include "core/quant/error_metrics.h"

namespace qb {

// v, or null when it is not finite (JSON has no inf or NaN).
nlohmann::json finite_or_null(double v);
// scale, bins, edges, counts, underflow, overflow, log_counts.
nlohmann::json histogram_json(const Histogram& h);
// mse, rmse, max_abs_error, sqnr_db (null when infinite), cosine, bits_per_weight; not count.
nlohmann::json error_metrics_json(const ErrorMetrics& m);

}  // namespace qb
