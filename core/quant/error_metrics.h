// Quantization error of a tensor: original f32 values x against their decoded approximation y.
// ErrorAccumulator is streaming: feed it row blocks in any order, read metrics() whenever; a huge tensor
// never has to be resident. Sums are kept in double.
//
// With an importance vector w (one weight per column, like llama.cpp's imatrix) every sum is weighted:
//   mse = Σ w_j (x-y)² / Σ w_j,   sqnr_db = 10 log10(Σ w_j x² / Σ w_j (x-y)²),
//   cosine = Σ w_j x y / sqrt(Σ w_j x² · Σ w_j y²);   without one, w_j = 1.
// max_abs_error is never weighted. Conventions: sqnr_db = +inf when the decoded values are exact;
// cosine = 1 when x and y are both all zero, 0 when only one of them is.
#pragma once
#include <cstdint>

#include "core/quant/format.h"

namespace qb {

struct ErrorMetrics {
    int64_t count = 0;           // values compared
    double mse = 0;              // (weighted) mean squared error
    double rmse = 0;             // sqrt(mse)
    double max_abs_error = 0;    // largest |x - y|
    double sqnr_db = 0;          // signal-to-quantization-noise ratio in dB
    double cosine = 0;           // cosine similarity of x and y
    double bits_per_weight = 0;  // storage cost including scales; set by measure_format_error, else 0
};

class ErrorAccumulator {
public:
    // importance: optional, `cols` non-negative weights; must outlive the accumulator.
    explicit ErrorAccumulator(int64_t cols, const float* importance = nullptr);

    // Adds `rows` rows of `cols` values each (row-major) of the original and the decoded tensor.
    void add_rows(const float* original, const float* decoded, int64_t rows);
    ErrorMetrics metrics() const;

private:
    int64_t cols_;
    const float* importance_;
    int64_t count_ = 0;
    double weight_sum_ = 0;
    double signal_ = 0;   // Σ w x²
    double noise_ = 0;    // Σ w (x-y)²
    double decoded_ = 0;  // Σ w y²
    double dot_ = 0;      // Σ w x y
    double max_abs_ = 0;
};

// Encodes the rows x cols tensor x with `format` and decodes it again, a block of rows at a time (the
// whole-tensor header of per-tensor formats is prepared once from all of x), and measures the error.
// bits_per_weight is format.bits_per_weight(rows, cols). threads <= 0: all hardware threads; the
// result does not depend on the thread count. Throws Error when the format cannot encode this shape.
ErrorMetrics measure_format_error(const FormatInfo& format, const float* x, int64_t rows, int64_t cols,
                                  const float* importance = nullptr, int threads = 1);

}  // namespace qb
