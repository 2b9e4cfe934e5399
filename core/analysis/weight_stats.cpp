#include "core/analysis/weight_stats.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/analysis/analysis_json.h"
#include "core/analysis/kernels.h"
#include "core/analysis/row_stream.h"

namespace qb {
namespace {

constexpr double kDefaultLogDecades = 6.0;

struct NonFiniteCounts {
    int64_t nan = 0;
    int64_t inf = 0;
};

// A row with NaN/Inf split into its finite values (for moments, tails, histograms) and a copy with the
// non-finite values set to 0 (for channel absmax and the heat map, which need column positions).
struct CleanedRow {
    std::vector<float> finite;
    std::vector<float> zeroed;

    NonFiniteCounts clean(const float* x, int64_t n) {
        NonFiniteCounts counts;
        finite.clear();
        zeroed.assign(x, x + n);
        for (int64_t i = 0; i < n; ++i) {
            if (std::isfinite(x[i])) {
                finite.push_back(x[i]);
                continue;
            }
            std::isnan(x[i]) ? ++counts.nan : ++counts.inf;
            zeroed[size_t(i)] = 0;
        }
        return counts;
    }
};

// Pass 1: everything that needs no statistic of the whole tensor.
struct ShapePass {
    MomentAccumulator moments;
    ChannelAbsMaxAccumulator channels;
    HeatMapAccumulator heat_map;
    NonFiniteCounts non_finite;
    CleanedRow cleaned;

    ShapePass(int64_t rows, int64_t cols, const HeatMapSpec& heat_spec) : channels(rows, cols), heat_map(rows, cols, heat_spec) {}

    void add_row(int64_t row, const float* x, int64_t cols) {
        if (!kernels::all_finite(x, cols)) {
            const NonFiniteCounts row = cleaned.clean(x, cols);
            non_finite.nan += row.nan;
            non_finite.inf += row.inf;
            moments.add(cleaned.finite);
            x = cleaned.zeroed.data();
        } else {
            moments.add({x, size_t(cols)});
        }
        channels.add_row(row, x);
        heat_map.add_row(row, x);
    }

    // A block of rows whose moments and non-finite counts the backend computes.
    void add_block(Backend& backend, int64_t first_row, int64_t rows, const float* x, int64_t cols) {
        const TensorStats block = backend.statistics(x, rows, cols, {});
        non_finite.nan += block.nan_count;
        non_finite.inf += block.inf_count;
        if (block.moments.count) moments.add(partial_of(block.moments));
        for (int64_t r = 0; r < rows; ++r) {
            const float* row = x + r * cols;
            if (!kernels::all_finite(row, cols)) {
                cleaned.clean(row, cols);
                row = cleaned.zeroed.data();
            }
            channels.add_row(first_row + r, row);
            heat_map.add_row(first_row + r, row);
        }
    }

    // The central sums a Moments summary stands for (inverting its variance, skewness and kurtosis).
    static MomentAccumulator::Partial partial_of(const Moments& m) {
        const double n = double(m.count), m2 = m.variance * n;
        return {n, m.mean, m2, m.skewness * std::pow(m2, 1.5) / std::sqrt(n), (m.excess_kurtosis + 3.0) * m2 * m2 / n,
                float(m.min), float(m.max)};
    }
    void merge(const ShapePass& other) {
        moments.merge(other.moments);
        channels.merge(other.channels);
        heat_map.merge(other.heat_map);
        non_finite.nan += other.non_finite.nan;
        non_finite.inf += other.non_finite.inf;
    }
};

// Pass 2: statistics that need σ and the value range of pass 1.
struct DistributionPass {
    std::vector<float> thresholds;
    std::vector<uint64_t> tail_counts;
    std::vector<HistogramAccumulator> histograms;
    CleanedRow cleaned;

    void add_row(const float* x, int64_t cols, bool may_have_non_finite) {
        std::span<const float> values(x, size_t(cols));
        if (may_have_non_finite && !kernels::all_finite(x, cols)) {
            cleaned.clean(x, cols);
            values = cleaned.finite;
        }
        for (size_t k = 0; k < thresholds.size(); ++k)
            tail_counts[k] += kernels::count_abs_above(values.data(), int64_t(values.size()), thresholds[k]);
        for (auto& h : histograms) h.add(values);
    }
    void merge(const DistributionPass& other) {
        for (size_t k = 0; k < tail_counts.size(); ++k) tail_counts[k] += other.tail_counts[k];
        for (size_t h = 0; h < histograms.size(); ++h) histograms[h].merge(other.histograms[h]);
    }
};

ValueRange histogram_range(const HistogramSpec& spec, const Moments& m) {
    if (spec.range) return *spec.range;
    if (spec.scale == HistogramScale::LogAbs) {
        const double hi = m.abs_max() > 0 ? m.abs_max() : 1.0;
        return {hi * std::pow(10.0, -kDefaultLogDecades), hi};
    }
    if (m.count == 0) return {0.0, 1.0};
    if (m.min == m.max) return {m.min - 0.5, m.max + 0.5};
    return {m.min, m.max};
}

std::vector<const FormatInfo*> error_formats(const WeightStatsOptions& options, int64_t cols) {
    if (options.error_formats.empty()) return default_error_formats(cols);
    std::vector<const FormatInfo*> formats;
    for (const std::string& name : options.error_formats) formats.push_back(&format_by_name(name));
    return formats;
}

void validate(const TensorView& view, const WeightStatsOptions& options) {
    require_values(view);
    for (double k : options.sigma_multiples)
        if (!(k >= 0) || !std::isfinite(k))
            throw Error(view.name, "sigma multiple " + std::to_string(k) + " is not a finite non-negative number");
    if (options.top_k_channels < 0) throw Error(view.name, "top-k channel count is negative");
    for (const HistogramSpec& spec : options.histograms) {
        validate_histogram_bins(spec.bins);
        if (spec.range) validate_histogram_range(spec.scale, spec.range->lo, spec.range->hi);
    }
}

template <typename Pass>
Pass merge_in_order(std::vector<Pass>& passes) {
    for (size_t w = 1; w < passes.size(); ++w) passes[0].merge(passes[w]);
    return std::move(passes[0]);
}

}  // namespace

WeightStats analyze_weights(const TensorView& view, const WeightStatsOptions& options, JobControl* control, int threads) {
    validate(view, options);
    const std::vector<const FormatInfo*> formats =
        options.format_errors ? error_formats(options, view.cols()) : std::vector<const FormatInfo*>{};
    const int64_t rows = view.rows(), cols = view.cols();
    const int workers = row_workers(rows, threads);
    const int64_t block_rows = block_rows_for(cols, options.block_rows);
    Backend* backend = options.backend && options.backend->accelerates_statistics(cols) ? options.backend : nullptr;
    AnalysisProgress progress(control, rows * (options.format_errors ? 3 : 2), "statistics of " + view.name);

    WeightStats stats;
    stats.tensor = view.name;
    stats.storage_format = view.format ? view.format->name : "";
    stats.rows = rows;
    stats.cols = cols;

    std::vector<ShapePass> shape(size_t(backend ? 1 : workers), ShapePass(rows, cols, options.heat_map));
    if (backend) {
        const int64_t backend_block_rows = options.block_rows > 0 ? options.block_rows : std::max<int64_t>(1, kBackendBlockValues / cols);
        stream_rows(view, 1, backend_block_rows, progress, [&](int, int64_t first, int64_t count, const float* values) {
            shape[0].add_block(*backend, first, count, values, cols);
        });
    } else {
        stream_rows(view, workers, block_rows, progress, [&](int w, int64_t first, int64_t count, const float* values) {
            for (int64_t r = 0; r < count; ++r) shape[size_t(w)].add_row(first + r, values + r * cols, cols);
        });
    }
    const ShapePass first = merge_in_order(shape);
    stats.moments = first.moments.result();
    stats.nan_count = first.non_finite.nan;
    stats.inf_count = first.non_finite.inf;
    stats.channels = first.channels.result(options.top_k_channels);
    stats.heat_map = first.heat_map.result();

    DistributionPass prototype;
    for (double k : options.sigma_multiples) prototype.thresholds.push_back(kernels::float_at_or_below(k * stats.moments.std));
    prototype.tail_counts.assign(prototype.thresholds.size(), 0);
    for (const HistogramSpec& spec : options.histograms) {
        const ValueRange range = histogram_range(spec, stats.moments);
        prototype.histograms.emplace_back(spec.scale, spec.bins, range.lo, range.hi, spec.log_counts);
    }
    const bool may_have_non_finite = stats.nan_count + stats.inf_count > 0;
    std::vector<DistributionPass> distribution(size_t(workers), prototype);
    stream_rows(view, workers, block_rows, progress, [&](int w, int64_t, int64_t count, const float* values) {
        for (int64_t r = 0; r < count; ++r) distribution[size_t(w)].add_row(values + r * cols, cols, may_have_non_finite);
    });
    const DistributionPass second = merge_in_order(distribution);
    for (size_t k = 0; k < options.sigma_multiples.size(); ++k) {
        const double k_sigma = options.sigma_multiples[k] * stats.moments.std;
        const uint64_t count = second.tail_counts[k];
        stats.tails.push_back({options.sigma_multiples[k], k_sigma, count, double(count) / double(stats.moments.count)});
    }
    for (const auto& h : second.histograms) stats.histograms.push_back(h.result());

    if (options.format_errors) stats.format_errors = measure_format_errors(view, formats, progress, threads, block_rows);
    return stats;
}

namespace {

nlohmann::json moments_json(const WeightStats& s) {
    const Moments& m = s.moments;
    return {{"count", m.count},                {"nan_count", s.nan_count},           {"inf_count", s.inf_count},
            {"min", finite_or_null(m.min)},    {"max", finite_or_null(m.max)},       {"abs_max", m.abs_max()},
            {"mean", m.mean},                  {"variance", m.variance},             {"std", m.std},
            {"skewness", m.skewness},          {"excess_kurtosis", m.excess_kurtosis}};
}

nlohmann::json outliers_json(const std::vector<ChannelOutlier>& top) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& o : top) list.push_back({{"index", o.index}, {"absmax", o.absmax}});
    return list;
}

nlohmann::json heat_map_json(const HeatMap& map, JsonDetail detail) {
    nlohmann::json j = {{"reduce", heat_map_reduce_name(map.reduce)}, {"cell_rows", map.cell_rows()},
                        {"cell_cols", map.cell_cols()}};
    if (detail == JsonDetail::Summary) return j;
    j["row_edges"] = map.row_edges;
    j["col_edges"] = map.col_edges;
    nlohmann::json cells = nlohmann::json::array();
    for (int64_t i = 0; i < map.cell_rows(); ++i)
        cells.push_back(std::vector<float>(map.cells.begin() + i * map.cell_cols(), map.cells.begin() + (i + 1) * map.cell_cols()));
    j["cells"] = std::move(cells);
    return j;
}

nlohmann::json format_error_json(const FormatError& e) {
    if (!e.problem.empty()) return {{"format", e.format}, {"problem", e.problem}};
    nlohmann::json j = error_metrics_json(e.metrics);
    j["format"] = e.format;
    return j;
}

}  // namespace

nlohmann::json to_json(const WeightStats& stats, JsonDetail detail) {
    nlohmann::json j;
    j["tensor"] = stats.tensor;
    j["storage_format"] = stats.storage_format;
    j["shape"] = {stats.rows, stats.cols};
    j["moments"] = moments_json(stats);
    j["tails"] = nlohmann::json::array();
    for (const auto& t : stats.tails)
        j["tails"].push_back({{"k", t.k}, {"threshold", t.threshold}, {"count", t.count}, {"fraction", t.fraction}});
    j["histograms"] = nlohmann::json::array();
    for (const auto& h : stats.histograms) j["histograms"].push_back(histogram_json(h));
    j["channels"] = {{"top_rows", outliers_json(stats.channels.top_rows)}, {"top_cols", outliers_json(stats.channels.top_cols)}};
    if (detail == JsonDetail::Full) {
        j["channels"]["row_absmax"] = stats.channels.rows;
        j["channels"]["col_absmax"] = stats.channels.cols;
    }
    j["heat_map"] = heat_map_json(stats.heat_map, detail);
    j["format_errors"] = nlohmann::json::array();
    for (const auto& e : stats.format_errors) j["format_errors"].push_back(format_error_json(e));
    return j;
}

}  // namespace qb
