// Weight statistics of one tensor, streamed a block of rows at a time (never the whole tensor resident):
//   pass 1: moments (Welford/Pébay in double, see moments.h), NaN/Inf counts, per-row and per-column
//           absmax with the top-k outlier channels, the down-sampled |w| heat map;
//   pass 2: needs σ and [min, max] from pass 1 — the fraction of |w| > k·σ for each k and the histograms.
//           A second pass (one more decode of the tensor) is the cheapest exact way: counts above thresholds
//           unknown during pass 1 cannot be recovered from any fixed binning;
//   pass 3 (optional): the per-format quantization error table (format_error_table.h).
// Non-finite values (NaN, ±Inf) are counted in nan_count / inf_count and otherwise left out: moments,
// tails and histograms see the finite values only; channel absmax and the heat map treat them as 0.
// Rows are split over `threads` workers (<= 0: all hardware threads) with per-worker accumulators merged
// in worker order: for a given thread count the numbers do not depend on options.block_rows; across
// thread counts only sums in double (moments, heat-map means) differ by rounding (tested to 1e-13
// relative); counts, extremes and the error table are exact.
// JobControl (may be null): progress over all passes; cancellation throws qb::Cancelled.
// options.backend (may be null: the CPU path above): when it accelerates statistics (a Vulkan device),
// pass 1 hands it blocks of options.block_rows rows (default: about kBackendBlockValues values) for the
// moments and NaN/Inf counts, which then agree with the CPU path within core/backend/tensor_stats.h's
// tolerances; everything else is computed as above, with one worker for pass 1.
//
// JSON form (to_json), field names:
//   tensor, storage_format, shape [rows, cols],
//   moments {count, nan_count, inf_count, min, max, abs_max, mean, variance, std, skewness, excess_kurtosis},
//   tails [{k, threshold, count, fraction}]                      (fraction = count / moments.count),
//   histograms [{scale "linear"|"log_abs", bins, edges[bins+1], counts[bins], underflow, overflow, log_counts}],
//   channels {top_rows [{index, absmax}], top_cols [...], row_absmax [rows], col_absmax [cols]},
//   heat_map {reduce "max"|"mean", cell_rows, cell_cols, row_edges, col_edges, cells [cell_rows][cell_cols]},
//   format_errors [{format, mse, rmse, max_abs_error, sqnr_db, cosine, bits_per_weight} | {format, problem}].
// JsonDetail::Summary leaves out the long arrays row_absmax, col_absmax and heat_map row_edges/col_edges/cells.
// Infinite or undefined numbers (sqnr_db of an exact format, min/max of no values) are written as null.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/analysis/channel_stats.h"
#include "core/backend/backend.h"
#include "core/analysis/format_error_table.h"
#include "core/analysis/heat_map.h"
#include "core/analysis/histogram.h"
#include "core/analysis/moments.h"
#include "core/jobs/job.h"
#include "core/tensor/tensor_view.h"

namespace qb {

struct ValueRange {
    double lo = 0;
    double hi = 0;
};

struct HistogramSpec {
    HistogramScale scale = HistogramScale::Linear;
    int bins = 256;
    // Default range: Linear [min, max] of the finite values ([v-0.5, v+0.5] when all equal v);
    // LogAbs [abs_max·1e-6, abs_max] ([1e-6, 1] when all values are 0).
    std::optional<ValueRange> range;
    bool log_counts = false;  // display hint carried into the result
};

struct WeightStatsOptions {
    std::vector<double> sigma_multiples{3.0, 6.0};  // k of the |w| > k·σ tail fractions
    std::vector<HistogramSpec> histograms{HistogramSpec{}};
    int top_k_channels = 16;
    HeatMapSpec heat_map;
    bool format_errors = true;
    std::vector<std::string> error_formats;  // empty: default_error_formats(cols)
    int64_t block_rows = 0;                  // rows decoded per block, every pass; <= 0: about 64 Ki values
    Backend* backend = nullptr;              // not owned; see above
};

inline constexpr int64_t kBackendBlockValues = int64_t(1) << 24;

struct TailFraction {
    double k = 0;
    double threshold = 0;  // k·σ
    uint64_t count = 0;    // finite values with |w| > threshold
    double fraction = 0;   // count / moments.count
};

struct WeightStats {
    std::string tensor;
    std::string storage_format;
    int64_t rows = 0;
    int64_t cols = 0;
    Moments moments;  // finite values only
    int64_t nan_count = 0;
    int64_t inf_count = 0;
    std::vector<TailFraction> tails;    // one per options.sigma_multiples entry
    std::vector<Histogram> histograms;  // one per options.histograms entry
    ChannelAbsMax channels;
    HeatMap heat_map;
    std::vector<FormatError> format_errors;  // empty unless options.format_errors
};

// Throws Error naming the tensor for an empty tensor or invalid options (negative k, bad histogram range,
// unknown format name), Cancelled when cancelled.
WeightStats analyze_weights(const TensorView& view, const WeightStatsOptions& options = {},
                            JobControl* control = nullptr, int threads = 0);

enum class JsonDetail {
    Summary,  // without per-channel absmax arrays and heat-map cells
    Full
};
nlohmann::json to_json(const WeightStats& stats, JsonDetail detail = JsonDetail::Full);

}  // namespace qb
