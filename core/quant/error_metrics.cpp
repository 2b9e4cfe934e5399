#include "core/quant/error_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qb {
namespace {

constexpr int64_t kValuesPerBlock = int64_t(1) << 20;  // bounds the scratch memory of measure_format_error

double sqnr_db(double signal, double noise) {
    if (noise == 0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal / noise);
}

double cosine(double dot, double x_power, double y_power) {
    if (x_power == 0 && y_power == 0) return 1.0;
    if (x_power == 0 || y_power == 0) return 0.0;
    return dot / std::sqrt(x_power * y_power);
}

}  // namespace

ErrorAccumulator::ErrorAccumulator(int64_t cols, const float* importance) : cols_(cols), importance_(importance) {
    if (cols <= 0) throw Error("error metrics", "row length " + std::to_string(cols) + " is not positive");
}

void ErrorAccumulator::add_rows(const float* original, const float* decoded, int64_t rows) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* x = original + r * cols_;
        const float* y = decoded + r * cols_;
        for (int64_t j = 0; j < cols_; ++j) {
            const double w = importance_ ? double(importance_[j]) : 1.0;
            const double xv = x[j], yv = y[j], e = xv - yv;
            weight_sum_ += w;
            signal_ += w * xv * xv;
            noise_ += w * e * e;
            decoded_ += w * yv * yv;
            dot_ += w * xv * yv;
            max_abs_ = std::max(max_abs_, std::abs(e));
        }
    }
    count_ += rows * cols_;
}

ErrorMetrics ErrorAccumulator::metrics() const {
    ErrorMetrics m;
    m.count = count_;
    m.mse = weight_sum_ > 0 ? noise_ / weight_sum_ : 0.0;
    m.rmse = std::sqrt(m.mse);
    m.max_abs_error = max_abs_;
    m.sqnr_db = sqnr_db(signal_, noise_);
    m.cosine = cosine(dot_, signal_, decoded_);
    return m;
}

ErrorMetrics measure_format_error(const FormatInfo& format, const float* x, int64_t rows, int64_t cols,
                                  const float* importance, int threads) {
    const std::string subject = "format " + format.name;
    if (!format.can_encode()) throw Error(subject, "can be read but not produced");
    if (auto problem = format.shape_problem(cols); !problem.empty()) throw Error(subject, problem);

    std::vector<uint8_t> header(format.header_bytes);
    if (format.prepare_header) format.prepare_header(format, x, rows, cols, importance, header.data());
    const uint8_t* header_ptr = format.header_bytes ? header.data() : nullptr;

    const int64_t block_rows = std::clamp<int64_t>(kValuesPerBlock / cols, 1, std::max<int64_t>(rows, 1));
    const size_t row_bytes = format.row_bytes(cols);
    std::vector<uint8_t> encoded(size_t(block_rows) * row_bytes);
    std::vector<float> decoded(size_t(block_rows * cols));
    ErrorAccumulator acc(cols, importance);
    for (int64_t begin = 0; begin < rows; begin += block_rows) {
        const int64_t count = std::min(block_rows, rows - begin);
        const float* block = x + begin * cols;
        parallel_for(count, threads, [&](int64_t b, int64_t e) {
            for (int64_t r = b; r < e; ++r) {
                uint8_t* bytes = encoded.data() + size_t(r) * row_bytes;
                format.encode_row(format, block + r * cols, cols, bytes, importance, header_ptr);
                format.decode_row(format, bytes, cols, decoded.data() + r * cols, header_ptr);
            }
        });
        acc.add_rows(block, decoded.data(), count);
    }
    ErrorMetrics m = acc.metrics();
    m.bits_per_weight = format.bits_per_weight(rows, cols);
    return m;
}

}  // namespace qb
