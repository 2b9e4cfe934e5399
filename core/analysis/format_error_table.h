// "What if this tensor alone were stored in format F": encode + decode every row with each format and
// measure the error against the original values (MSE, SQNR, max abs error, cosine, bits per weight via
// qb::ErrorAccumulator). Rows stream through in blocks; every format's accumulator sees the rows in
// order, so the numbers do not depend on the thread count or the block size.
// Formats whose whole-tensor header (per-tensor scale) must be prepared from all values at once are
// listed with a problem instead of numbers: that would need the whole tensor resident.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "core/analysis/row_stream.h"
#include "core/quant/error_metrics.h"

namespace qb {

struct FormatError {
    std::string format;    // registry name
    ErrorMetrics metrics;  // valid when problem is empty
    std::string problem;   // why this format was not measured, e.g. "row length 172 is not a multiple of 32"
};

// Every registered format that can encode and whose shape_problem(cols) is empty, in registry order.
std::vector<const FormatInfo*> default_error_formats(int64_t cols);

// threads <= 0: all hardware threads. block_rows <= 0: automatic (block_rows_for). Resident: one block of
// original values plus one decoded block per format. Throws Cancelled when cancelled.
std::vector<FormatError> measure_format_errors(const TensorView& view, std::span<const FormatInfo* const> formats,
                                               JobControl* control = nullptr, int threads = 0, int64_t block_rows = 0);
// The same, reporting into an AnalysisProgress shared with other passes (one unit per row).
std::vector<FormatError> measure_format_errors(const TensorView& view, std::span<const FormatInfo* const> formats,
                                               AnalysisProgress& progress, int threads, int64_t block_rows);

}  // namespace qb
