// quantbench-cli sensitivity: per tensor and format, Hessian-based estimates of the quantization loss
// beside the measured Δppl and KL divergence, and how well the estimates rank the measurements.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>

#include "app/cli/args.h"
#include "app/cli/cmd_calibrate.h"
#include "core/analysis/analysis_json.h"
#include "core/analysis/sensitivity.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/store/analysis_file.h"
#include "core/util/error.h"

namespace qbcli {
namespace {

constexpr const char* kUsage =
    "sensitivity MODEL --calib FILE.qbh5 --text EVALFILE [--formats F,...] [--tensor REGEX] [--eval-chunks N] [--ctx N]\n"
    "            [--protocol llama.cpp|paper] [--no-importance] [--estimates-only] [--out FILE.qbh5] [--threads N] [--json]";

using qb::finite_or_null;

std::vector<std::string> tensors_matching(const qb::HessianSource& hessians, const Args& args) {
    if (!args.has("tensor")) return {};
    std::regex filter;
    try {
        filter = std::regex(args.value("tensor"));
    } catch (const std::regex_error&) {
        throw qb::Error("usage", "--tensor: invalid regular expression '" + args.value("tensor") + "'");
    }
    std::vector<std::string> selected;
    for (const qb::InputRecord& r : hessians.records)
        for (const std::string& t : r.tensors)
            if (std::regex_search(t, filter)) selected.push_back(t);
    if (selected.empty()) throw qb::Error("usage", "no linear weight matches '" + args.value("tensor") + "'");
    return selected;
}

qb::SensitivityOptions options_from(const Args& args, const qb::HessianSource& hessians) {
    qb::SensitivityOptions options;
    options.formats = args.values("formats");
    options.tensors = tensors_matching(hessians, args);
    options.use_importance = !args.flag("no-importance");
    options.measure = !args.flag("estimates-only");
    options.evaluation.ctx = args.integer("ctx", options.evaluation.ctx);
    options.evaluation.max_chunks = args.integer("eval-chunks", options.evaluation.max_chunks);
    options.evaluation.protocol = qb::protocol_by_name(args.value("protocol", "llama.cpp"));
    if (options.evaluation.max_chunks < 1) throw qb::Error("usage", "--eval-chunks must be positive");
    return options;
}

void print_json(const Args& args, const qb::SensitivityResult& r, double seconds) {
    nlohmann::json entries = nlohmann::json::array(), skipped = nlohmann::json::array(), spearman = nlohmann::json::array();
    for (const qb::SensitivityEntry& e : r.entries)
        entries.push_back({{"tensor", e.tensor}, {"format", e.format}, {"bits_per_weight", e.bits_per_weight},
                           {"hessian_error", e.hessian_error}, {"hawq", e.hawq}, {"mse", e.mse}, {"kurtosis", e.kurtosis},
                           {"outlier_share", e.outlier_share}, {"delta_ppl", finite_or_null(e.delta_ppl)}, {"mean_kld", finite_or_null(e.mean_kld)}});
    for (const qb::SkippedFormat& s : r.skipped) skipped.push_back({{"tensor", s.tensor}, {"format", s.format}, {"problem", s.problem}});
    for (const qb::RankCorrelation& c : r.correlations)
        spearman.push_back({{"estimate", c.estimate}, {"target", c.target}, {"format", c.format}, {"rho", finite_or_null(c.rho)}, {"count", c.count}});
    const nlohmann::json out = {
        {"tool", std::string("quantbench-cli ") + QB_VERSION},
        {"model", args.positionals()[0]},
        {"calibration", args.value("calib")},
        {"text", args.value("text")},
        {"evaluation", {{"protocol", qb::protocol_name(r.protocol)}, {"ctx", r.eval_ctx}, {"chunks", r.eval_chunks}, {"tokens", r.eval_tokens}}},
        {"base_ppl", finite_or_null(r.base_ppl)},
        {"importance", r.importance ? "mean_sq" : "none"},
        {"seconds", seconds},
        {"out", args.has("out") ? nlohmann::json(args.value("out")) : nlohmann::json(nullptr)},
        {"entries", entries},
        {"skipped", skipped},
        {"spearman", spearman}};
    std::printf("%s\n", out.dump(2).c_str());
}

void print_table(const Args& args, const qb::SensitivityResult& r, double seconds) {
    std::printf("model      %s\n", args.positionals()[0].c_str());
    if (std::isfinite(r.base_ppl))
        std::printf("evaluation %s, %s protocol, %lld chunks of %lld, %lld scored tokens, base ppl %.4f\n", args.value("text").c_str(),
                    std::string(qb::protocol_name(r.protocol)).c_str(), (long long)r.eval_chunks, (long long)r.eval_ctx,
                    (long long)r.eval_tokens, r.base_ppl);
    std::printf("%-20s %-18s %6s %12s %12s %12s %11s %11s\n", "tensor", "format", "bpw", "hessian err", "hawq", "mse", "delta ppl",
                "mean KLD");
    for (const qb::SensitivityEntry& e : r.entries)
        std::printf("%-20s %-18s %6.3f %12.5g %12.5g %12.5g %+11.5f %11.6f\n", e.tensor.c_str(), e.format.c_str(), e.bits_per_weight,
                    e.hessian_error, e.hawq, e.mse, e.delta_ppl, e.mean_kld);
    if (!r.skipped.empty())
        std::printf("%zu (tensor, format) pairs skipped: the rows do not fit the format's blocks (--json lists them)\n", r.skipped.size());
    for (const char* target : qb::sensitivity_targets()) {
        std::printf("Spearman rho vs %-9s", target);
        for (const char* estimate : qb::sensitivity_estimates())
            std::printf("  %s %.3f", estimate, r.spearman(estimate, target));
        std::printf("\n");
    }
    std::printf("time       %.2f s\n", seconds);
    if (args.has("out")) std::printf("written    %s\n", args.value("out").c_str());
}

}  // namespace

int run_sensitivity(const CommandArgs& argv) {
    Args args(argv, {{"calib", "text", "formats", "tensor", "eval-chunks", "ctx", "protocol", "out", "threads"},
                     {"no-importance", "estimates-only", "json"}});
    if (args.positionals().size() != 1) throw qb::Error("usage", kUsage);
    if (!args.has("calib")) throw qb::Error("usage", "sensitivity needs --calib FILE.qbh5 (from calibrate --full-hessian)");
    if (!args.has("text")) throw qb::Error("usage", "sensitivity needs --text EVALFILE");
    const int threads = int(args.integer("threads", 0));

    const qb::AnalysisFile calibration(args.value("calib"));
    if (!calibration.has_full_hessians())
        throw qb::Error(args.value("calib"), "has no full Hessians (run calibrate with --full-hessian)");
    const qb::HessianSource hessians = calibration.hessian_source();
    const qb::SensitivityOptions options = options_from(args, hessians);
    const qb::Model model = qb::load_model(args.positionals()[0]);
    const qb::TextFile text = qb::read_text_file(args.value("text"));
    const qb::EvalText tokens = qb::evaluation_text(qb::model_tokenizer(model), text.text);
    const qb::Transformer net(model, threads);
    std::optional<qb::Hdf5Writer> out;
    if (args.has("out")) out.emplace(args.value("out"));

    qb::JobControl progress = terminal_progress("sensitivity");
    const auto start = std::chrono::steady_clock::now();
    const qb::SensitivityResult result = qb::analyze_sensitivity(net, hessians, tokens, options, &progress, threads);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (out) {
        qb::write_provenance(*out, model, command_line("sensitivity", argv));
        qb::write_sensitivity(*out, result, text, calibration.hdf5());
        std::vector<qb::InputRecord> analysed;
        for (const qb::InputRecord& r : hessians.records) {
            qb::InputRecord kept{r.name, {}};
            for (const std::string& t : r.tensors)
                if (options.tensors.empty() || std::find(options.tensors.begin(), options.tensors.end(), t) != options.tensors.end())
                    kept.tensors.push_back(t);
            analysed.push_back(std::move(kept));
        }
        qb::JobControl weight_progress = terminal_progress("weight statistics");
        qb::write_tensor_statistics(*out, model, analysed, &weight_progress, threads);
        out->commit();
    }
    clear_terminal_progress();
    if (args.flag("json"))
        print_json(args, result, seconds);
    else
        print_table(args, result, seconds);
    return 0;
}

}  // namespace qbcli
