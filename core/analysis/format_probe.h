// "What would format F do to this tensor": encode + decode the tensor with F through the format registry
// and collect what the weight view draws and `quantbench-cli stats --probe F` prints —
//   - the grid levels one group of one row lands on (the distinct decoded values of that group; the
//     registry's decoder is the only source of the grid, so every format family is covered alike),
//   - the histogram of the quantized values Q(w), on bins the caller gives (the weight histogram's),
//   - the histogram of the error Q(w) − w over the whole tensor, on ±max |error| (`error_bins` bins),
//     and its exact mean (the bias),
//   - the error metrics (as core/quant/error_metrics.h).
// The whole tensor is resident three times (f32, bytes, decoded): one tensor, never the model.
//
// JSON form (to_json): tensor, format, row, group, first_col, col_count, levels [..],
//   value_histogram, error_histogram ({scale, bins, edges, counts, underflow, overflow, log_counts} as in
//   weight_stats.h), mean_error, metrics {count, mse, rmse, max_abs_error, sqnr_db, cosine, bits_per_weight}.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/analysis/histogram.h"
#include "core/analysis/weight_stats.h"
#include "core/jobs/job.h"
#include "core/quant/error_metrics.h"
#include "core/quant/format.h"
#include "core/tensor/tensor_view.h"

namespace qb {

inline constexpr int kProbeErrorBins = 128;

struct FormatProbeRequest {
    std::string format;
    int64_t row = 0;
    int64_t group = 0;  // group index within the row
    HistogramScale value_scale = HistogramScale::Linear;  // bins of the Q(w) histogram
    double value_lo = 0, value_hi = 0;                    // lo == hi: [min, max] of Q(w)
    int value_bins = 256;
    int error_bins = kProbeErrorBins;
};

struct FormatProbe {
    std::string tensor;
    std::string format;
    int64_t row = 0;
    int64_t group = 0;
    int64_t first_col = 0, col_count = 0;  // the selected group
    std::vector<float> levels;             // distinct decoded values of the group, ascending
    Histogram value_histogram;             // of Q(w), finite values
    Histogram error_histogram;             // of Q(w) − w, finite values
    double mean_error = 0;                 // exact mean of the finite Q(w) − w
    ErrorMetrics metrics;
};

// Values sharing one scale in a row: the block size, or the whole row for per-channel/per-tensor grids.
int64_t probe_group_size(const FormatInfo& format, int64_t cols);

// The request the weight view starts from for a tensor's statistics: the row of the largest output-channel
// absmax, the group holding the largest input-channel absmax, Q(w) on the bins of `value_bins_of` (one of
// stats.histograms; the first when out of range).
FormatProbeRequest default_probe_request(const WeightStats& stats, const std::string& format, size_t value_bins_of = 0);

// Throws Error naming the tensor when the format cannot encode it or the row/group is out of range;
// Cancelled when cancelled.
FormatProbe probe_format(const TensorView& view, const FormatProbeRequest& request, JobControl* control = nullptr,
                         int threads = 0);

nlohmann::json to_json(const FormatProbe& probe);

}  // namespace qb
