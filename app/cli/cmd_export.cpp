// quantbench-cli export: converts a model to GGUF, a fake-quant safetensors folder or a GPTQ folder with one
// round-to-nearest format for every quantizable matrix, writes it atomically and optionally validates the
// round trip. The plan-driven `quantize` command uses the same exporters.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/export/export_plan.h"
#include "core/export/hf_layout.h"
#include "core/export/roundtrip.h"
#include "core/jobs/job.h"
#include "core/util/error.h"

namespace qbcli {
namespace {

// Ctrl-C cancels the export at the next tensor, so the temporary output is removed before exiting.
std::atomic<qb::JobControl*> g_running_job{nullptr};

void cancel_on_signal(int) {
    if (qb::JobControl* job = g_running_job.load()) job->cancel();
}

class CancelOnInterrupt {
public:
    explicit CancelOnInterrupt(qb::JobControl& job) {
        g_running_job = &job;
        previous_ = std::signal(SIGINT, cancel_on_signal);
    }
    ~CancelOnInterrupt() {
        std::signal(SIGINT, previous_);
        g_running_job = nullptr;
    }
    CancelOnInterrupt(const CancelOnInterrupt&) = delete;
    CancelOnInterrupt& operator=(const CancelOnInterrupt&) = delete;

private:
    void (*previous_)(int) = SIG_DFL;
};

struct Choice {
    std::string tensor;
    std::string requested;  // set when the fallback replaced it
    std::string problem;
};

// The format the single --format applies to: matrices (GGUF: every 2-D tensor; GPTQ: the blocks' linear
// layers); 1-D tensors become f32 in GGUF and are kept otherwise.
const qb::FormatInfo* requested_format(qb::ExportTarget target, const qb::TensorView& t, const qb::FormatInfo* format) {
    if (target == qb::ExportTarget::Gptq) return qb::is_gptq_linear(t) ? format : nullptr;
    if (t.shape.size() == 2) return format;
    return target == qb::ExportTarget::Gguf ? &qb::format_by_name("f32") : nullptr;
}

bool exported(qb::ExportTarget target, const qb::Model& model, const qb::TensorView& t) {
    if (target == qb::ExportTarget::Gguf) return true;
    const bool stays_tied = t.name == "output" && model.hparams.tied_embeddings;
    return !stays_tied && qb::hf_placement(model, t.name).has_value();
}

qb::ExportPlan build_plan(const Args& args, const qb::Model& model, std::vector<Choice>& fallbacks) {
    qb::ExportPlan plan;
    plan.target = qb::export_target_by_name(args.value("to"));
    plan.output = args.value("out");
    plan.dtype = args.value("dtype", "f16");
    plan.threads = int(args.integer("threads", 0));
    if (args.has("name")) plan.metadata["general.name"] = args.value("name");
    const qb::FormatInfo* format = args.has("format") ? &qb::format_by_name(args.value("format")) : nullptr;
    const qb::FormatInfo* fallback = args.has("fallback") ? &qb::format_by_name(args.value("fallback")) : nullptr;
    for (const auto& t : model.tensors) {
        if (!exported(plan.target, model, t)) continue;
        qb::ExportTensor entry{t.name, requested_format(plan.target, t, format), {}, {}};
        const std::string problem = entry.format ? qb::storage_problem(plan.target, t, *entry.format) : "";
        if (!problem.empty() && fallback) {
            fallbacks.push_back({t.name, entry.format->name, problem});
            entry.format = fallback;
        }
        plan.tensors.push_back(std::move(entry));
    }
    return plan;
}

nlohmann::json report_json(const qb::RoundTripReport& r) {
    size_t exact = 0;
    double max_diff = 0;
    for (const auto& t : r.tensors) {
        exact += t.exact;
        max_diff = std::max(max_diff, t.max_abs_diff);
    }
    return {{"tensors", r.tensors.size()},         {"exact_tensors", exact},
            {"max_abs_diff", max_diff},           {"tokens", r.tokens},
            {"max_logit_diff", r.max_logit_diff}, {"logit_tolerance", r.logit_tolerance}};
}

}  // namespace

int run_export(const CommandArgs& argv) {
    Args args(argv, {{"to", "out", "format", "dtype", "fallback", "threads", "name"}, {"validate", "json"}});
    if (args.positionals().size() != 1) throw qb::Error("usage", "export needs exactly one MODEL");
    if (!args.has("to") || !args.has("out")) throw qb::Error("usage", "export needs --to gguf|safetensors|gptq and --out PATH");

    const qb::Model model = qb::load_model(args.positionals()[0]);
    std::vector<Choice> fallbacks;
    const qb::ExportPlan plan = build_plan(args, model, fallbacks);
    const std::string summary = qb::plan_summary(plan, qb::resolve_export_plan(plan, model, nullptr));

    qb::JobControl job;
    qb::Model intended;
    uint64_t bytes = 0;
    {
        const CancelOnInterrupt interruptible(job);
        bytes = qb::export_model(model, plan, &job, args.flag("validate") ? &intended : nullptr);
    }
    qb::RoundTripOptions options;
    options.threads = plan.threads;
    const auto report = args.flag("validate") ? std::optional(qb::validate_roundtrip(intended, plan, options)) : std::nullopt;

    if (args.flag("json")) {
        nlohmann::json out = {{"output", plan.output.string()}, {"target", qb::export_target_name(plan.target)},
                              {"bytes", bytes}, {"tensors", summary}, {"fallbacks", nlohmann::json::array()}};
        for (const auto& f : fallbacks)
            out["fallbacks"].push_back({{"tensor", f.tensor}, {"requested", f.requested}, {"problem", f.problem}});
        if (report) out["validation"] = report_json(*report);
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    for (const auto& f : fallbacks)
        std::printf("fallback   %s: %s (%s), stored as %s\n", f.tensor.c_str(), f.requested.c_str(), f.problem.c_str(),
                    args.value("fallback").c_str());
    std::printf("wrote      %s (%s, %llu bytes)\n", plan.output.string().c_str(),
                std::string(qb::export_target_name(plan.target)).c_str(), (unsigned long long)bytes);
    std::printf("tensors    %s\n", summary.c_str());
    if (report) {
        const auto j = report_json(*report);
        std::printf("validated  %zu tensors reloaded (%zu identical, max |diff| %.3g); logits of %lld tokens: max |diff| %.3g "
                    "(tolerance %.3g)\n",
                    report->tensors.size(), j["exact_tensors"].get<size_t>(), j["max_abs_diff"].get<double>(),
                    (long long)report->tokens, report->max_logit_diff, report->logit_tolerance);
    }
    return 0;
}

}  // namespace qbcli
