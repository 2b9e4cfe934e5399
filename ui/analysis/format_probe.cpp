#include "ui/analysis/format_probe.h"

#include <algorithm>
#include <cmath>

#include "core/quant/format.h"
#include "core/util/error.h"

namespace qbui {
namespace {

void checkRequest(const qb::TensorView& view, const qb::FormatInfo& format, const FormatProbeRequest& request) {
    if (!format.can_encode()) throw qb::Error(view.name, "format " + format.name + " can be read but not produced");
    if (auto problem = format.shape_problem(view.cols()); !problem.empty())
        throw qb::Error(view.name, "format " + format.name + ": " + problem);
    const int64_t groups = (view.cols() + probeGroupSize(format, view.cols()) - 1) / probeGroupSize(format, view.cols());
    if (request.row < 0 || request.row >= view.rows())
        throw qb::Error(view.name, "row " + std::to_string(request.row) + " outside 0.." + std::to_string(view.rows() - 1));
    if (request.group < 0 || request.group >= groups)
        throw qb::Error(view.name, "group " + std::to_string(request.group) + " outside 0.." + std::to_string(groups - 1));
}

std::vector<float> groupLevels(const std::vector<float>& decoded, int64_t offset, int64_t count) {
    std::vector<float> levels(decoded.begin() + offset, decoded.begin() + offset + count);
    std::erase_if(levels, [](float v) { return !std::isfinite(v); });
    std::sort(levels.begin(), levels.end());
    levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
    return levels;
}

std::vector<float> finiteErrors(const std::vector<float>& original, const std::vector<float>& decoded) {
    std::vector<float> errors;
    errors.reserve(original.size());
    for (size_t i = 0; i < original.size(); ++i) {
        const float e = decoded[i] - original[i];
        if (std::isfinite(e)) errors.push_back(e);
    }
    return errors;
}

qb::Histogram histogramOf(std::span<const float> values, qb::HistogramScale scale, int bins, double lo, double hi) {
    qb::HistogramAccumulator accumulator(scale, bins, lo, hi);
    std::vector<float> finite;
    finite.reserve(values.size());
    for (float v : values)
        if (std::isfinite(v)) finite.push_back(v);
    accumulator.add(finite);
    return accumulator.result();
}

qb::Histogram errorHistogram(const std::vector<float>& errors, int bins) {
    double largest = 0;
    for (float e : errors) largest = std::max(largest, double(std::fabs(e)));
    const double half = largest > 0 ? largest : 1.0;
    return histogramOf(errors, qb::HistogramScale::Linear, bins, -half, half);
}

}  // namespace

int64_t probeGroupSize(const qb::FormatInfo& format, int64_t cols) {
    return format.block_values > 0 ? std::min(format.block_values, cols) : cols;
}

FormatProbe probeFormat(const qb::TensorView& view, const FormatProbeRequest& request, qb::JobControl* control,
                        int threads) {
    const qb::FormatInfo& format = qb::format_by_name(request.format);
    checkRequest(view, format, request);
    const int64_t rows = view.rows(), cols = view.cols();
    auto step = [&](int64_t done, std::string_view what) {
        if (control) control->step(done, 4, what);
    };

    step(0, "decoding " + view.name);
    const std::vector<float> original = view.to_f32(threads);
    step(1, "encoding in " + format.name);
    const std::vector<uint8_t> bytes = qb::encode_tensor(format, original, rows, cols, nullptr, threads);
    step(2, "decoding " + format.name);
    const std::vector<float> decoded = qb::decode_tensor(format, bytes, rows, cols, threads);
    step(3, "measuring");

    FormatProbe probe;
    probe.tensor = view.name;
    probe.format = format.name;
    probe.row = request.row;
    const int64_t groupSize = probeGroupSize(format, cols);
    probe.firstCol = request.group * groupSize;
    probe.colCount = std::min(groupSize, cols - probe.firstCol);
    probe.levels = groupLevels(decoded, request.row * cols + probe.firstCol, probe.colCount);
    probe.valueHistogram = histogramOf(decoded, request.valueScale, request.valueBins, request.valueLo, request.valueHi);
    probe.errorHistogram = errorHistogram(finiteErrors(original, decoded), request.errorBins);
    qb::ErrorAccumulator accumulator(cols);
    accumulator.add_rows(original.data(), decoded.data(), rows);
    probe.metrics = accumulator.metrics();
    probe.metrics.bits_per_weight = format.bits_per_weight(rows, cols);
    step(4, "done");
    return probe;
}

}  // namespace qbui
