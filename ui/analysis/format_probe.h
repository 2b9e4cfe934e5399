// "What would format F do to this tensor", for the weight view: encode + decode the tensor with F
// through the format registry and collect what the plots draw —
//   - the grid levels one group of one row lands on (the distinct decoded values of that group; the
//     registry's decoder is the only source of the grid, so every format family is covered alike),
//   - the histogram of the quantized values Q(w) on the same bins as the weight histogram,
//   - the histogram of the error Q(w) − w over the whole tensor, on ±max |error|,
//   - the error metrics (as core/quant/error_metrics.h).
// The whole tensor is resident three times (f32, bytes, decoded): one tensor, never the model.
// Candidate for core/analysis with a CLI flag (`stats --probe F`), see the GUI notes in README.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/analysis/histogram.h"
#include "core/jobs/job.h"
#include "core/quant/error_metrics.h"
#include "core/tensor/tensor_view.h"

namespace qbui {

struct FormatProbeRequest {
    std::string format;
    int64_t row = 0;
    int64_t group = 0;  // group index within the row
    qb::HistogramScale valueScale = qb::HistogramScale::Linear;  // bins of the Q(w) histogram
    double valueLo = 0, valueHi = 0;
    int valueBins = 256;
    int errorBins = 128;
};

struct FormatProbe {
    std::string tensor;
    std::string format;
    int64_t row = 0;
    int64_t firstCol = 0, colCount = 0;  // the selected group
    std::vector<float> levels;           // distinct decoded values of the group, ascending
    qb::Histogram valueHistogram;        // of Q(w), finite values
    qb::Histogram errorHistogram;        // of Q(w) − w, finite values
    qb::ErrorMetrics metrics;
};

// Values sharing one scale in a row: the block size, or the whole row for per-channel/per-tensor grids.
int64_t probeGroupSize(const qb::FormatInfo& format, int64_t cols);

// Throws qb::Error naming the tensor when the format cannot encode it or the row/group is out of range;
// qb::Cancelled when cancelled.
FormatProbe probeFormat(const qb::TensorView& view, const FormatProbeRequest& request, qb::JobControl* control,
                        int threads);

}  // namespace qbui
