// quantbench-cli calibrate: activation statistics and Hessians of every linear-layer input over a text,
// optionally written to an analysis file (*.qbh5).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <unistd.h>

#include "app/cli/args.h"
#include "app/cli/cmd_calibrate.h"
#include "core/analysis/calibration.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/store/analysis_file.h"
#include "core/util/error.h"

namespace qbcli {
namespace {

constexpr const char* kUsage =
    "calibrate MODEL --text FILE [--tokens N] [--ctx N] [--out FILE.qbh5] [--full-hessian] [--outlier-threshold X] [--threads N] [--json]";

qb::CalibrationOptions options_from(const Args& args) {
    qb::CalibrationOptions options;
    options.tokens = args.integer("tokens", options.tokens);
    options.ctx = args.integer("ctx", options.ctx);
    options.outlier_threshold = args.number("outlier-threshold", options.outlier_threshold);
    options.full_hessian = args.flag("full-hessian");
    return options;
}

// The numbers of a record a summary shows: maxima and means over channels.
struct RecordSummary {
    std::string record;
    std::vector<std::string> tensors;
    int64_t channels = 0, tokens = 0, outlier_channels = 0;
    double abs_max = 0, mean_abs = 0, mean_sq = 0, hessian_trace = 0, excess_kurtosis = 0;
};

RecordSummary summarize(const qb::ActivationStats& s) {
    RecordSummary r{s.record, s.tensors, s.channels, s.tokens, s.outlier_channels};
    r.abs_max = *std::max_element(s.abs_max.begin(), s.abs_max.end());
    for (int64_t c = 0; c < s.channels; ++c) {
        r.mean_abs += s.mean_abs[size_t(c)] / double(s.channels);
        r.mean_sq += s.mean_sq[size_t(c)] / double(s.channels);
    }
    r.hessian_trace = s.hessian_trace;
    r.excess_kurtosis = s.moments.excess_kurtosis;
    return r;
}

std::vector<qb::InputRecord> input_records(const std::vector<RecordSummary>& summaries) {
    std::vector<qb::InputRecord> records;
    for (const RecordSummary& s : summaries) records.push_back({s.record, s.tensors});
    return records;
}

void print_json(const Args& args, const qb::CalibrationRun& run, const qb::TextFile& text, const std::vector<RecordSummary>& records,
                double seconds) {
    nlohmann::json list = nlohmann::json::array();
    for (const RecordSummary& r : records)
        list.push_back({{"record", r.record}, {"tensors", r.tensors}, {"channels", r.channels}, {"tokens", r.tokens},
                        {"abs_max", r.abs_max}, {"mean_abs", r.mean_abs}, {"mean_sq", r.mean_sq},
                        {"outlier_channels", r.outlier_channels}, {"hessian_trace", r.hessian_trace},
                        {"excess_kurtosis", r.excess_kurtosis}});
    const nlohmann::json out = {{"tool", std::string("quantbench-cli ") + QB_VERSION},
                                {"model", args.positionals()[0]},
                                {"text", text.path.string()},
                                {"text_sha256", text.sha256},
                                {"tokens", run.tokens},
                                {"ctx", run.ctx},
                                {"chunks", run.chunks},
                                {"passes", run.passes},
                                {"outlier_threshold", run.outlier_threshold},
                                {"seconds", seconds},
                                {"tokens_per_second", double(run.tokens) / seconds},
                                {"out", args.has("out") ? nlohmann::json(args.value("out")) : nlohmann::json(nullptr)},
                                {"records", list}};
    std::printf("%s\n", out.dump(2).c_str());
}

void print_table(const Args& args, const qb::CalibrationRun& run, const qb::TextFile& text, const std::vector<RecordSummary>& records,
                 double seconds) {
    std::printf("model      %s\n", args.positionals()[0].c_str());
    std::printf("text       %s\n", text.path.c_str());
    std::printf("tokens     %lld = %lld chunks of %lld, %d pass%s, %.2f s (%.0f tokens/s)\n", (long long)run.tokens,
                (long long)run.chunks, (long long)run.ctx, run.passes, run.passes == 1 ? "" : "es", seconds, double(run.tokens) / seconds);
    std::printf("%-22s %8s %10s %10s %10s %9s %12s\n", "input record", "channels", "absmax", "mean |x|", "mean x^2", "outliers",
                "trace(H)");
    for (const RecordSummary& r : records)
        std::printf("%-22s %8lld %10.4g %10.4g %10.4g %9lld %12.5g\n", r.record.c_str(), (long long)r.channels, r.abs_max,
                    r.mean_abs, r.mean_sq, (long long)r.outlier_channels, r.hessian_trace);
    std::printf("outliers: channels with |x| > %g on at least one token\n", run.outlier_threshold);
    if (args.has("out")) std::printf("written    %s\n", args.value("out").c_str());
}

}  // namespace

qb::JobControl terminal_progress(std::string label) {
    const bool terminal = ::isatty(STDERR_FILENO);
    return qb::JobControl([label = std::move(label), terminal](double fraction, std::string_view what) {
        if (terminal)
            std::fprintf(stderr, "\r%s: %3.0f%% %.*s\033[K", label.c_str(), 100 * fraction, int(what.size()), what.data());
    });
}

void clear_terminal_progress() {
    if (::isatty(STDERR_FILENO)) std::fprintf(stderr, "\r\033[K");
}

std::string command_line(const std::string& command, const CommandArgs& args) {
    std::string line = "quantbench-cli " + command;
    for (const std::string& a : args) {
        const bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$") == std::string::npos;
        std::string quoted;
        for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
        line += plain ? " " + a : " '" + quoted + "'";
    }
    return line;
}

int run_calibrate(const CommandArgs& argv) {
    Args args(argv, {{"text", "tokens", "ctx", "out", "threads", "outlier-threshold"}, {"full-hessian", "json"}});
    if (args.positionals().size() != 1) throw qb::Error("usage", kUsage);
    if (!args.has("text")) throw qb::Error("usage", "calibrate needs --text FILE");
    const qb::CalibrationOptions options = options_from(args);
    const int threads = int(args.integer("threads", 0));

    const qb::Model model = qb::load_model(args.positionals()[0]);
    const qb::Tokenizer tokenizer = qb::model_tokenizer(model);
    const qb::TextFile text = qb::read_text_file(args.value("text"));
    const qb::EvalText tokens = qb::evaluation_text(tokenizer, text.text);
    const qb::Transformer net(model, threads);
    std::optional<qb::Hdf5Writer> out;
    if (args.has("out")) {
        out.emplace(args.value("out"));
        qb::write_provenance(*out, model, command_line("calibrate", argv));
    }

    std::vector<RecordSummary> summaries;
    qb::JobControl progress = terminal_progress("calibrate");
    const auto start = std::chrono::steady_clock::now();
    const qb::CalibrationRun run = qb::calibrate(net, tokens, options, [&](qb::ActivationStats&& s) {
        if (out) qb::write_activations(*out, s, options.full_hessian);
        summaries.push_back(summarize(s));
    }, &progress, threads);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (out) {
        qb::write_calibration(*out, run, text);
        qb::JobControl weight_progress = terminal_progress("weight statistics");
        qb::write_tensor_statistics(*out, model, input_records(summaries), &weight_progress, threads);
        out->commit();
    }
    clear_terminal_progress();
    if (args.flag("json"))
        print_json(args, run, text, summaries, seconds);
    else
        print_table(args, run, text, summaries, seconds);
    return 0;
}

}  // namespace qbcli
