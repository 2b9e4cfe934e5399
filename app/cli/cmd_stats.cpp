#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>
#include <unistd.h>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/analysis/weight_stats.h"
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

}  // namespace

int run_stats(const CommandArgs& argv) {
    Args args(argv, {{"tensor", "format", "bins", "range", "heatmap", "threads", "top", "device"}, {"json", "full", "log-abs", "quiet"}});
    if (args.positionals().size() != 1)
        throw qb::Error("usage", "stats MODEL [--tensor REGEX] [--format F,...|none] [--bins N] [--range LO,HI] "
                                 "[--log-abs] [--heatmap HxW] [--top K] [--threads N] [--device cpu|vulkan|auto] "
                                 "[--json [--full]]");
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

    const bool quiet = args.flag("quiet") || !::isatty(STDERR_FILENO);
    nlohmann::json results = nlohmann::json::array();
    for (size_t i = 0; i < selected.size(); ++i) {
        const qb::TensorView& view = *selected[i];
        qb::JobControl control([&](double fraction, std::string_view) {
            if (!quiet) std::fprintf(stderr, "\r[%zu/%zu] %-28s %3.0f%%", i + 1, selected.size(), view.name.c_str(), 100 * fraction);
        });
        const qb::WeightStats stats = qb::analyze_weights(view, options, &control, threads);
        view.evict_pages();
        if (args.flag("json"))
            results.push_back(qb::to_json(stats, args.flag("full") ? qb::JsonDetail::Full : qb::JsonDetail::Summary));
        else
            print_stats(stats);
    }
    if (!quiet) std::fprintf(stderr, "\r%60s\r", "");
    if (args.flag("json"))
        std::printf("%s\n", nlohmann::json{{"model", model.source_path.string()}, {"tensors", results}}.dump(2).c_str());
    return 0;
}

}  // namespace qbcli
