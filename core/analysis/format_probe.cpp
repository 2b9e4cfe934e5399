#include "core/analysis/format_probe.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/analysis/analysis_json.h"
#include "core/util/error.h"

namespace qb {
namespace {

int64_t group_count(const FormatInfo& format, int64_t cols) {
    const int64_t size = probe_group_size(format, cols);
    return (cols + size - 1) / size;
}

void check_request(const TensorView& view, const FormatInfo& format, const FormatProbeRequest& request) {
    if (!format.can_encode()) throw Error(view.name, "format " + format.name + " can be read but not produced");
    if (auto problem = format.shape_problem(view.cols()); !problem.empty())
        throw Error(view.name, "format " + format.name + ": " + problem);
    const int64_t groups = group_count(format, view.cols());
    if (request.row < 0 || request.row >= view.rows())
        throw Error(view.name, "row " + std::to_string(request.row) + " outside 0.." + std::to_string(view.rows() - 1));
    if (request.group < 0 || request.group >= groups)
        throw Error(view.name, "group " + std::to_string(request.group) + " outside 0.." + std::to_string(groups - 1));
}

std::vector<float> group_levels(const std::vector<float>& decoded, int64_t offset, int64_t count) {
    std::vector<float> levels(decoded.begin() + offset, decoded.begin() + offset + count);
    std::erase_if(levels, [](float v) { return !std::isfinite(v); });
    std::sort(levels.begin(), levels.end());
    levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
    return levels;
}

std::vector<float> finite_errors(const std::vector<float>& original, const std::vector<float>& decoded) {
    std::vector<float> errors;
    errors.reserve(original.size());
    for (size_t i = 0; i < original.size(); ++i) {
        const float e = decoded[i] - original[i];
        if (std::isfinite(e)) errors.push_back(e);
    }
    return errors;
}

std::vector<float> finite_values(std::span<const float> values) {
    std::vector<float> finite;
    finite.reserve(values.size());
    for (float v : values)
        if (std::isfinite(v)) finite.push_back(v);
    return finite;
}

Histogram histogram_of(const std::vector<float>& finite, HistogramScale scale, int bins, double lo, double hi) {
    HistogramAccumulator accumulator(scale, bins, lo, hi);
    accumulator.add(finite);
    return accumulator.result();
}

Histogram value_histogram(const std::vector<float>& decoded, const FormatProbeRequest& request) {
    const std::vector<float> finite = finite_values(decoded);
    double lo = request.value_lo, hi = request.value_hi;
    if (lo == hi) {  // no bins given: the values' own range, as HistogramSpec's default
        double smallest = INFINITY, largest = -INFINITY, abs_max = 0;
        for (float v : finite) {
            smallest = std::min(smallest, double(v));
            largest = std::max(largest, double(v));
            abs_max = std::max(abs_max, double(std::fabs(v)));
        }
        if (request.value_scale == HistogramScale::LogAbs) {
            hi = abs_max > 0 ? abs_max : 1.0;
            lo = hi * 1e-6;
        } else if (finite.empty()) {
            lo = -0.5, hi = 0.5;
        } else {
            lo = smallest, hi = largest;
            if (lo == hi) lo -= 0.5, hi += 0.5;
        }
    }
    return histogram_of(finite, request.value_scale, request.value_bins, lo, hi);
}

}  // namespace

int64_t probe_group_size(const FormatInfo& format, int64_t cols) {
    return format.block_values > 0 ? std::min(format.block_values, cols) : cols;
}

FormatProbeRequest default_probe_request(const WeightStats& stats, const std::string& format, size_t value_bins_of) {
    FormatProbeRequest request;
    request.format = format;
    request.row = stats.channels.top_rows.empty() ? 0 : stats.channels.top_rows.front().index;
    if (!stats.channels.top_cols.empty())
        request.group = stats.channels.top_cols.front().index / probe_group_size(format_by_name(format), stats.cols);
    if (!stats.histograms.empty()) {
        const Histogram& h = stats.histograms[value_bins_of < stats.histograms.size() ? value_bins_of : 0];
        request.value_scale = h.scale;
        request.value_lo = h.edges.front();
        request.value_hi = h.edges.back();
        request.value_bins = int(h.counts.size());
    }
    return request;
}

FormatProbe probe_format(const TensorView& view, const FormatProbeRequest& request, JobControl* control, int threads) {
    const FormatInfo& format = format_by_name(request.format);
    check_request(view, format, request);
    validate_histogram_bins(request.error_bins);
    const int64_t rows = view.rows(), cols = view.cols();
    auto step = [&](int64_t done, std::string_view what) {
        if (control) control->step(done, 4, what);
    };

    step(0, "decoding " + view.name);
    const std::vector<float> original = view.to_f32(threads);
    step(1, "encoding in " + format.name);
    const std::vector<uint8_t> bytes = encode_tensor(format, original, rows, cols, nullptr, threads);
    step(2, "decoding " + format.name);
    const std::vector<float> decoded = decode_tensor(format, bytes, rows, cols, threads);
    step(3, "measuring");

    FormatProbe probe;
    probe.tensor = view.name;
    probe.format = format.name;
    probe.row = request.row;
    probe.group = request.group;
    const int64_t group_size = probe_group_size(format, cols);
    probe.first_col = request.group * group_size;
    probe.col_count = std::min(group_size, cols - probe.first_col);
    probe.levels = group_levels(decoded, request.row * cols + probe.first_col, probe.col_count);
    probe.value_histogram = value_histogram(decoded, request);

    const std::vector<float> errors = finite_errors(original, decoded);
    double largest = 0, sum = 0;
    for (float e : errors) {
        largest = std::max(largest, double(std::fabs(e)));
        sum += double(e);
    }
    const double half = largest > 0 ? largest : 1.0;
    probe.error_histogram = histogram_of(errors, HistogramScale::Linear, request.error_bins, -half, half);
    probe.mean_error = errors.empty() ? 0.0 : sum / double(errors.size());

    ErrorAccumulator accumulator(cols);
    accumulator.add_rows(original.data(), decoded.data(), rows);
    probe.metrics = accumulator.metrics();
    probe.metrics.bits_per_weight = format.bits_per_weight(rows, cols);
    step(4, "done");
    return probe;
}

nlohmann::json to_json(const FormatProbe& p) {
    nlohmann::json metrics = error_metrics_json(p.metrics);
    metrics["count"] = p.metrics.count;
    return {{"tensor", p.tensor},
            {"format", p.format},
            {"row", p.row},
            {"group", p.group},
            {"first_col", p.first_col},
            {"col_count", p.col_count},
            {"levels", p.levels},
            {"value_histogram", histogram_json(p.value_histogram)},
            {"error_histogram", histogram_json(p.error_histogram)},
            {"mean_error", p.mean_error},
            {"metrics", metrics}};
}

}  // namespace qb
