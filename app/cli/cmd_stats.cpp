#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <unistd.h>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/analysis/format_probe.h"
#include "core/analysis/outlier_cell.h"
#include "core/analysis/weight_stats.h"
#include "core/store/analysis_file.h"
#include "core/model/model.h"
#include "core/util/error.h"
#include "gpu/vulkan_backend.h"

namespace qbcli {
namespace {

std::pair<double, double> parse_pair(const std::string& text, char separator, const std::string& option) {
    const auto at = text.find(separator);
    try {
        if (at != std::string::npos) return {std::stod(text.substr(0, at)), std::stod(text.substr(at + 1))};
    } catch (const std::exception&) {
    }
    throw qb::Error("usage", "--" + option + " expects two numbers separated by '" + separator + "', got '" + text + "'");
}

qb::WeightStatsOptions options_from(const Args& args) {
    qb::WeightStatsOptions options;
    qb::HistogramSpec histogram;
    histogram.bins = int(args.integer("bins", 256));
    if (args.has("range")) {
        auto [lo, hi] = parse_pair(args.value("range"), ',', "range");
        histogram.range = qb::ValueRange{lo, hi};
    }
    options.histograms = {histogram};
    if (args.flag("log-abs")) options.histograms.push_back({qb::HistogramScale::LogAbs, histogram.bins, {}, true});
    if (args.has("heatmap")) {
        auto [h, w] = parse_pair(args.value("heatmap"), 'x', "heatmap");
        options.heat_map.max_rows = int64_t(h);
        options.heat_map.max_cols = int64_t(w);
    }
    options.top_k_channels = int(args.integer("top", 16));
    const auto formats = args.values("format");
    options.format_errors = !(formats.size() == 1 && formats[0] == "none");
    if (options.format_errors) options.error_formats = formats;
    return options;
}

void print_stats(const qb::WeightStats& s) {
    const auto& m = s.moments;
    std::printf("%s  %" PRId64 "x%" PRId64 " %s\n", s.tensor.c_str(), s.rows, s.cols, s.storage_format.c_str());
    std::printf("  mean %.6g  std %.6g  min %.6g  max %.6g  excess kurtosis %.4g  skewness %.4g\n", m.mean, m.std, m.min,
                m.max, m.excess_kurtosis, m.skewness);
    for (const auto& t : s.tails)
        std::printf("  |w| > %g sigma: %" PRIu64 " values (%.4f%%)\n", t.k, t.count, 100.0 * t.fraction);
    if (s.nan_count || s.inf_count) std::printf("  non-finite: %" PRId64 " NaN, %" PRId64 " Inf\n", s.nan_count, s.inf_count);
    if (!s.channels.top_rows.empty() && !s.channels.top_cols.empty())
        std::printf("  top outlier channels: output %" PRId64 " (absmax %.4g), input %" PRId64 " (absmax %.4g)\n",
                    s.channels.top_rows[0].index, s.channels.top_rows[0].absmax, s.channels.top_cols[0].index,
                    s.channels.top_cols[0].absmax);
    if (s.format_errors.empty()) return;
    std::printf("  %-20s %8s %12s %12s %10s %10s\n", "format", "bpw", "rmse", "max err", "sqnr dB", "cosine");
    for (const auto& e : s.format_errors) {
        if (!e.problem.empty()) {
            std::printf("  %-20s %s\n", e.format.c_str(), e.problem.c_str());
            continue;
        }
        const auto& r = e.metrics;
        std::printf("  %-20s %8.3f %12.5g %12.5g %10.2f %10.6f\n", e.format.c_str(), r.bits_per_weight, r.rmse,
                    r.max_abs_error, std::isinf(r.sqnr_db) ? INFINITY : r.sqnr_db, r.cosine);
    }
}

// --probe F: the weight view's format probe, its Q(w) histogram on the bins of the statistics' linear
// histogram (or, with --probe-scale log-abs, of the |w| one), at --row/--group or where the view starts.
qb::FormatProbeRequest probe_request(const Args& args, const qb::WeightStats& stats) {
    const std::string scale = args.value("probe-scale", "linear");
    if (scale != "linear" && scale != "log-abs")
        throw qb::Error("usage", "--probe-scale expects linear or log-abs, got '" + scale + "'");
    size_t bins_of = 0;
    if (scale == "log-abs") {
        while (bins_of < stats.histograms.size() && stats.histograms[bins_of].scale != qb::HistogramScale::LogAbs) ++bins_of;
        if (bins_of == stats.histograms.size()) throw qb::Error("usage", "--probe-scale log-abs needs --log-abs");
    }
    qb::FormatProbeRequest request = qb::default_probe_request(stats, args.value("probe"), bins_of);
    request.row = args.integer("row", request.row);
    request.group = args.integer("group", request.group);
    request.error_bins = int(args.integer("error-bins", qb::kProbeErrorBins));
    return request;
}

void print_probe(const qb::FormatProbe& p) {
    std::printf("  probe %s: row %" PRId64 ", group %" PRId64 " (columns %" PRId64 "..%" PRId64 "), %zu grid levels:\n",
                p.format.c_str(), p.row, p.group, p.first_col, p.first_col + p.col_count - 1, p.levels.size());
    for (size_t i = 0; i < p.levels.size(); ++i)
        std::printf("%s %.9g%s", i % 8 == 0 ? "   " : "", double(p.levels[i]), (i + 1) % 8 == 0 || i + 1 == p.levels.size() ? "\n" : "");
    std::printf("  error Q(w) - w: mean %.6g, rmse %.6g, max %.6g; histogram (%zu bins, lower edge, count):\n",
                p.mean_error, p.metrics.rmse, p.metrics.max_abs_error, p.error_histogram.counts.size());
    for (size_t i = 0; i < p.error_histogram.counts.size(); ++i)
        std::printf("    %14.6g %10" PRIu64 "\n", p.error_histogram.edges[i], p.error_histogram.counts[i]);
    std::printf("    %14.6g (upper edge)\n", p.error_histogram.edges.back());
}

std::pair<int64_t, int64_t> cell_of(const Args& args) {
    const auto [row, col] = parse_pair(args.value("cell"), ',', "cell");
    return {int64_t(row), int64_t(col)};
}

void print_block(const qb::MatrixBlock& b) {
    std::printf("%s  cell %" PRId64 ",%" PRId64 ": rows %" PRId64 "..%" PRId64 " x columns %" PRId64 "..%" PRId64
                ", max |w| %.9g at [%" PRId64 ", %" PRId64 "]\n",
                b.tensor.c_str(), b.cell_row, b.cell_col, b.first_row, b.first_row + b.rows - 1, b.first_col,
                b.first_col + b.cols - 1, double(b.max_abs), b.max_abs_row, b.max_abs_col);
    for (int64_t r = 0; r < b.rows; ++r) {
        std::printf("  %6" PRId64 ":", b.first_row + r);
        for (int64_t c = 0; c < b.cols; ++c) std::printf(" %.9g", double(b.at(r, c)));
        std::printf("\n");
    }
}

void print_activation_cell(const std::string& tensor, const qb::ActivationCell& cell) {
    const qb::HeatMapCellRange& r = cell.range;
    std::printf("%s  input %s, cell %" PRId64 ",%" PRId64 ": channels %" PRId64 "..%" PRId64 " x tokens %" PRId64
                "..%" PRId64 ", max |x| %.9g\n",
                tensor.c_str(), cell.record.c_str(), r.cell_row, r.cell_col, r.first_row, r.first_row + r.rows - 1,
                r.first_col, r.first_col + r.cols - 1, double(cell.max_abs));
    std::printf("  %8s %14s %14s %14s %10s\n", "channel", "max |x|", "mean |x|", "mean x^2", "outliers");
    for (const qb::ChannelSummary& c : cell.channels)
        std::printf("  %8" PRId64 " %14.7g %14.7g %14.7g %10" PRId64 "\n", c.channel, double(c.abs_max), c.mean_abs,
                    c.mean_sq, c.outlier_tokens);
}

// --cell ROW,COL: the values behind one heat-map cell (weights, or with --calib the input activations).
nlohmann::json run_cell(const Args& args, const std::vector<const qb::TensorView*>& selected) {
    const auto [cell_row, cell_col] = cell_of(args);
    nlohmann::json results = nlohmann::json::array();
    std::optional<qb::AnalysisFile> calibration;
    if (args.has("calib")) calibration.emplace(args.value("calib"));
    for (const qb::TensorView* view : selected) {
        if (calibration) {
            const std::string record = qb::input_record_name(view->name);
            const std::vector<std::string> records = calibration->activation_records();
            if (std::find(records.begin(), records.end(), record) == records.end())
                throw qb::Error(args.value("calib"), "no activations of " + view->name + "'s input (" + record + ")");
            const qb::ActivationCell cell = qb::activation_cell(calibration->activations(record), cell_row, cell_col);
            if (args.flag("json")) results.push_back({{"tensor", view->name}, {"activation_cell", qb::to_json(cell)}});
            else print_activation_cell(view->name, cell);
            continue;
        }
        const qb::HeatMap layout = qb::heat_map_layout(view->rows(), view->cols(), options_from(args).heat_map);
        const qb::MatrixBlock block = qb::read_matrix_block(*view, qb::heat_map_cell(layout, cell_row, cell_col));
        if (args.flag("json")) results.push_back({{"tensor", view->name}, {"cell", qb::to_json(block)}});
        else print_block(block);
    }
    return results;
}

}  // namespace

int run_stats(const CommandArgs& argv) {
    Args args(argv, {{"tensor", "format", "bins", "range", "heatmap", "threads", "top", "device", "probe", "row", "group",
                      "probe-scale", "error-bins", "cell", "calib"},
                     {"json", "full", "log-abs", "quiet"}});
    if (args.positionals().size() != 1)
        throw qb::Error("usage", "stats MODEL [--tensor REGEX] [--format F,...|none] [--bins N] [--range LO,HI] "
                                 "[--log-abs] [--heatmap HxW] [--top K] [--threads N] [--device cpu|vulkan|auto] "
                                 "[--probe F [--row R] [--group G] [--probe-scale linear|log-abs] [--error-bins N]] "
                                 "[--cell ROW,COL [--calib FILE.qbh5]] [--json [--full]]");
    if (args.has("probe") && args.has("cell")) throw qb::Error("usage", "give --probe or --cell, not both");
    if (args.has("calib") && !args.has("cell")) throw qb::Error("usage", "--calib goes with --cell");
    const qb::Model model = qb::load_model(args.positionals()[0]);
    qb::WeightStatsOptions options = options_from(args);
    const int threads = int(args.integer("threads", 0));
    const qb::gpu::BackendChoice device = qb::gpu::select_backend(args.value("device", "cpu"), {.cpu_threads = threads});
    if (!device.notice.empty()) std::fprintf(stderr, "%s\n", device.notice.c_str());
    if (device.backend->name() != "cpu") std::fprintf(stderr, "statistics on %s\n", device.backend->description().c_str());
    options.backend = device.backend.get();
    std::regex filter;
    try {
        filter = std::regex(args.value("tensor", ".*"));
    } catch (const std::regex_error& e) {
        throw qb::Error("usage", "--tensor: invalid regular expression '" + args.value("tensor") + "'");
    }
    std::vector<const qb::TensorView*> selected;
    for (const auto& t : model.tensors)
        if (std::regex_search(t.name, filter)) selected.push_back(&t);
    if (selected.empty()) throw qb::Error(model.source_path.string(), "no tensor matches '" + args.value("tensor") + "'");

    if (args.has("cell")) {
        const nlohmann::json cells = run_cell(args, selected);
        if (args.flag("json"))
            std::printf("%s\n", nlohmann::json{{"model", model.source_path.string()}, {"tensors", cells}}.dump(2).c_str());
        return 0;
    }

    const bool quiet = args.flag("quiet") || !::isatty(STDERR_FILENO);
    nlohmann::json results = nlohmann::json::array();
    for (size_t i = 0; i < selected.size(); ++i) {
        const qb::TensorView& view = *selected[i];
        qb::JobControl control([&](double fraction, std::string_view) {
            if (!quiet) std::fprintf(stderr, "\r[%zu/%zu] %-28s %3.0f%%", i + 1, selected.size(), view.name.c_str(), 100 * fraction);
        });
        const qb::WeightStats stats = qb::analyze_weights(view, options, &control, threads);
        std::optional<qb::FormatProbe> probe;
        if (args.has("probe")) probe = qb::probe_format(view, probe_request(args, stats), nullptr, threads);
        view.evict_pages();
        if (args.flag("json")) {
            results.push_back(qb::to_json(stats, args.flag("full") ? qb::JsonDetail::Full : qb::JsonDetail::Summary));
            if (probe) results.back()["probe"] = qb::to_json(*probe);
        } else {
            print_stats(stats);
            if (probe) print_probe(*probe);
        }
    }
    if (!quiet) std::fprintf(stderr, "\r%60s\r", "");
    if (args.flag("json"))
        std::printf("%s\n", nlohmann::json{{"model", model.source_path.string()}, {"tensors", results}}.dump(2).c_str());
    return 0;
}

}  // namespace qbcli
