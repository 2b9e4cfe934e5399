#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/model/model.h"
#include "core/plan/plan_export.h"
#include "core/plan/presets.h"
#include "core/plan/resolved_plan.h"
#include "core/plan/sensitivity_assign.h"
#include "core/store/analysis_file.h"
#include "core/util/error.h"

namespace qbcli {
namespace {

constexpr const char* kUsage =
    "plan MODEL (--preset NAME | --plan FILE.json | --default FORMAT | --rule REGEX=FORMAT ...) "
    "[--target gguf|safetensors-fake|gptq|analysis] [--fallback] [--sensitivity FILE.qbh5 --target-bpw B [--metric M]] "
    "[--out PLAN.json] [--json]";
constexpr const char* kAssignBase = "q4_k_m";  // the plan editor's starting plan

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string out;
    for (int64_t d : shape) {
        if (!out.empty()) out += 'x';
        out += std::to_string(d);
    }
    return out;
}

// The plan the options describe: a preset or a plan file as the base, then --default and --rule on top.
// Rules alone keep every tensor they do not match.
qb::QuantPlan plan_from_args(const Args& args, const qb::Model& model) {
    if (args.has("preset") && args.has("plan")) throw qb::Error("usage", "give --preset or --plan, not both");
    const bool assign = args.has("sensitivity");
    if (!assign && !args.has("preset") && !args.has("plan") && !args.has("default") && !args.has("rule"))
        throw qb::Error("usage", kUsage);
    qb::QuantPlan plan = args.has("preset") ? qb::preset_plan(args.value("preset"), model)
                         : assign && !args.has("plan") && !args.has("default") && !args.has("rule")
                             ? qb::preset_plan(kAssignBase, model)
                         : args.has("plan") ? qb::load_plan(args.value("plan"))
                                            : qb::uniform_plan(qb::kKeepFormat);
    if (args.has("default")) {
        plan.defaults.format = args.value("default");
        if (!args.has("preset") && !args.has("plan")) plan.name = args.value("default");
    }
    for (const auto& text : args.values("rule")) plan.rules.push_back(qb::parse_rule_text(text));
    if (args.flag("fallback")) plan.fallback = true;
    return plan;
}

struct Summary {
    const qb::ResolvedPlan& resolved;
    std::optional<qb::GgufFileSize> gguf;
};

// --sensitivity FILE --target-bpw B: the plan editor's "auto-assign for N bpw" over the file's
// sensitivity table, starting from the plan the other options describe.
qb::SensitivityAssignment assign_plan(const Args& args, const qb::Model& model, const qb::QuantPlan& base,
                                      qb::PlanTarget target) {
    if (!args.has("target-bpw")) throw qb::Error("usage", "--sensitivity needs --target-bpw B");
    const std::string metric = args.value("metric", "hessian_error");
    qb::sensitivity_metric_by_name(metric);
    const qb::AnalysisFile file(args.value("sensitivity"));
    const std::optional<qb::SensitivityResult> sensitivity = file.sensitivity();
    if (!sensitivity) throw qb::Error(args.value("sensitivity"), "holds no sensitivity table (run quantbench-cli sensitivity --out)");
    const qb::ResolvedPlan resolved = qb::resolve_plan(base, model, target);
    return qb::assign_from_sensitivity(model, base, resolved, *sensitivity, metric, args.number("target-bpw", 0),
                                       int(args.integer("curve", 16)));
}

nlohmann::json allocation_json(const qb::SensitivityAssignment& a) {
    nlohmann::json curve = nlohmann::json::array();
    for (const qb::Allocation& point : a.curve)
        curve.push_back({{"bytes", point.bytes}, {"bits_per_weight", point.bits_per_weight}, {"predicted_loss", point.predicted_loss}});
    return {{"metric", a.metric},
            {"target_bpw", a.target_bpw},
            {"base_plan", a.base_plan.name},
            {"bytes", a.chosen.bytes},
            {"budget_bytes", a.chosen.budget_bytes},
            {"bits_per_weight", a.chosen.bits_per_weight},
            {"predicted_loss", a.chosen.predicted_loss},
            {"lower_bound", a.chosen.lower_bound},
            {"proven_optimal", a.chosen.proven_optimal},
            {"curve", std::move(curve)}};
}

nlohmann::json summary_json(const qb::QuantPlan& plan, const Summary& s) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : s.resolved.tensors)
        tensors.push_back({{"name", t.name},
                           {"shape", t.shape},
                           {"format", t.format->name},
                           {"keep", t.keep},
                           {"algorithm", t.algorithm},
                           {"options", t.options},
                           {"bytes", t.bytes},
                           {"bits_per_weight", t.bits_per_weight()},
                           {"reason", t.reason()}});
    nlohmann::json out = {{"plan", qb::plan_to_json(plan)},
                          {"target", std::string(qb::plan_target_name(s.resolved.target))},
                          {"tensors", tensors},
                          {"totals",
                           {{"tensors", s.resolved.tensors.size()},
                            {"parameters", s.resolved.parameters()},
                            {"bytes", s.resolved.total_bytes()},
                            {"bits_per_weight", s.resolved.bits_per_weight()},
                            {"fallbacks", s.resolved.fallback_count()}}}};
    if (s.gguf)
        out["gguf_file"] = {{"bytes", s.gguf->file_bytes}, {"data_offset", s.gguf->data_offset},
                            {"tensor_bytes", s.gguf->tensor_bytes}};
    return out;
}

void print_summary(const qb::QuantPlan& plan, const Summary& s) {
    const auto& r = s.resolved;
    std::printf("plan          %s\n", plan.name.empty() ? "(unnamed)" : plan.name.c_str());
    if (!plan.description.empty()) std::printf("description   %s\n", plan.description.c_str());
    std::printf("target        %s%s\n\n", std::string(qb::plan_target_name(r.target)).c_str(),
                plan.fallback ? ", fallback allowed" : "");
    std::printf("%-24s %-12s %-9s %-9s %12s %7s  %s\n", "tensor", "shape", "format", "algorithm", "bytes", "bpw", "reason");
    for (const auto& t : r.tensors)
        std::printf("%-24s %-12s %-9s %-9s %12" PRIu64 " %7.3f  %s\n", t.name.c_str(), shape_text(t.shape).c_str(),
                    t.format->name.c_str(), t.algorithm.empty() ? "-" : t.algorithm.c_str(), t.bytes,
                    t.bits_per_weight(), t.reason().c_str());
    std::printf("\ntotal         %zu tensors, %" PRId64 " parameters, %" PRIu64 " bytes, %.4f bits per weight",
                r.tensors.size(), r.parameters(), r.total_bytes(), r.bits_per_weight());
    if (r.fallback_count() > 0) std::printf(", %zu fallbacks", r.fallback_count());
    std::printf("\n");
    if (s.gguf)
        std::printf("gguf file     %" PRIu64 " bytes as `export` writes it (%" PRIu64 " before the tensor data)\n",
                    s.gguf->file_bytes, s.gguf->data_offset);
}

}  // namespace

int run_plan(const CommandArgs& argv) {
    Args args(argv, {{"preset", "plan", "rule", "default", "target", "out", "sensitivity", "target-bpw", "metric", "curve"},
                     {"fallback", "json"}});
    if (args.positionals().size() != 1) throw qb::Error("usage", kUsage);
    if (!args.has("sensitivity") && (args.has("target-bpw") || args.has("metric") || args.has("curve")))
        throw qb::Error("usage", "--target-bpw, --metric and --curve go with --sensitivity FILE.qbh5");
    const qb::Model model = qb::load_model(args.positionals()[0]);
    const qb::PlanTarget target = qb::plan_target_by_name(args.value("target", "gguf"));
    std::optional<qb::SensitivityAssignment> assignment;
    if (args.has("sensitivity")) assignment = assign_plan(args, model, plan_from_args(args, model), target);
    const qb::QuantPlan plan = assignment ? assignment->plan : plan_from_args(args, model);
    const qb::ResolvedPlan resolved = qb::resolve_plan(plan, model, target);
    Summary summary{resolved, std::nullopt};
    if (target == qb::PlanTarget::Gguf) summary.gguf = qb::gguf_file_size(resolved, model);
    if (args.has("out")) qb::save_plan(plan, args.value("out"));
    if (args.flag("json")) {
        nlohmann::json out = summary_json(plan, summary);
        if (assignment) out["allocation"] = allocation_json(*assignment);
        std::printf("%s\n", out.dump(2).c_str());
    } else {
        print_summary(plan, summary);
        if (assignment)
            std::printf("allocation    %s for %g bpw: %.4f bpw, predicted loss %.6g%s\n", assignment->metric.c_str(),
                        assignment->target_bpw, assignment->chosen.bits_per_weight, assignment->chosen.predicted_loss,
                        assignment->chosen.proven_optimal ? " (proven optimal)" : "");
    }
    return 0;
}

}  // namespace qbcli
