#include "core/plan/sensitivity_assign.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/util/error.h"

namespace qb {
namespace {

constexpr SensitivityMetric kMetrics[] = {
    {"hessian_error", "Hessian error", &SensitivityEntry::hessian_error},
    {"hawq", "HAWQ", &SensitivityEntry::hawq},
    {"mse", "MSE", &SensitivityEntry::mse},
    {"delta_ppl", "measured delta ppl", &SensitivityEntry::delta_ppl},
    {"mean_kld", "measured KLD", &SensitivityEntry::mean_kld},
};

std::vector<std::string> measured_formats(const SensitivityResult& sensitivity) {
    std::vector<std::string> formats;
    for (const SensitivityEntry& e : sensitivity.entries)
        if (std::find(formats.begin(), formats.end(), e.format) == formats.end()) formats.push_back(e.format);
    return formats;
}

// The problem with measured losses only: unmeasured candidates dropped, unmeasured tensors fixed as planned.
AllocationProblem measured_problem(AllocationProblem full, const ResolvedPlan& base, const SensitivityResult& sensitivity,
                                   std::string_view metric) {
    AllocationProblem measured = scored_allocation_problem(
        std::move(full), base, [&](const std::string& tensor, const std::string& format) {
            return sensitivity_value(sensitivity, tensor, format, metric);
        });
    if (measured.tensors.empty()) throw Error("allocation", "no planned tensor has sensitivity measurements");
    return measured;
}

double bits_per_weight(uint64_t bytes, const AllocationProblem& problem) {
    return 8.0 * double(bytes) / double(problem.parameters());
}

}  // namespace

std::span<const SensitivityMetric> sensitivity_metrics() { return kMetrics; }

AllocationProblem scored_allocation_problem(AllocationProblem skeleton, const ResolvedPlan& base, const LossLookup& loss) {
    AllocationProblem problem;
    problem.fixed_bytes = skeleton.fixed_bytes;
    problem.fixed_parameters = skeleton.fixed_parameters;
    for (AllocationTensor& tensor : skeleton.tensors) {
        std::vector<AllocationCandidate> scored;
        for (AllocationCandidate& candidate : tensor.candidates) {
            candidate.predicted_loss = loss(tensor.name, candidate.format);
            if (std::isfinite(candidate.predicted_loss)) scored.push_back(std::move(candidate));
        }
        if (scored.empty()) {
            problem.fixed_bytes += base.find(tensor.name)->bytes;
            problem.fixed_parameters += tensor.parameters;
            continue;
        }
        tensor.candidates = std::move(scored);
        problem.tensors.push_back(std::move(tensor));
    }
    return problem;
}

const SensitivityMetric& sensitivity_metric_by_name(std::string_view name) {
    std::string known;
    for (const SensitivityMetric& m : kMetrics) {
        if (m.name == name) return m;
        known += (known.empty() ? "" : ", ") + std::string(m.name);
    }
    throw Error("sensitivity", "unknown metric '" + std::string(name) + "' (known: " + known + ")");
}

double sensitivity_metric(const SensitivityEntry& entry, std::string_view metric) {
    for (const SensitivityMetric& m : kMetrics)
        if (m.name == metric) return entry.*m.field;
    return entry.hessian_error;
}

double sensitivity_value(const SensitivityResult& result, const std::string& tensor, const std::string& format,
                         std::string_view metric) {
    for (const SensitivityEntry& e : result.entries)
        if (e.tensor == tensor && e.format == format) return sensitivity_metric(e, metric);
    return NAN;
}

QuantPlan assignment_plan(const SensitivityAssignment& assignment, const Allocation& allocation) {
    QuantPlan plan = allocation_plan(assignment.problem, allocation, assignment.base_plan);
    char suffix[48];
    std::snprintf(suffix, sizeof suffix, "-auto-%.2fbpw", allocation.bits_per_weight);
    plan.name = assignment.base_plan.name + suffix;
    return plan;
}

SensitivityAssignment assign_from_sensitivity(const Model& model, const QuantPlan& base_plan, const ResolvedPlan& base,
                                              const SensitivityResult& sensitivity, std::string_view metric,
                                              double target_bpw, int curve_steps, JobControl* control) {
    SensitivityAssignment result;
    result.target_bpw = target_bpw;
    result.metric = std::string(metric);
    const std::vector<std::string> formats = measured_formats(sensitivity);
    result.problem = measured_problem(allocation_problem(base, model, formats), base, sensitivity, metric);
    if (control) control->step(0, curve_steps + 1, "allocating");
    result.chosen = allocate_exact(result.problem, AllocationBudget::bits_per_weight(target_bpw));
    if (curve_steps > 0) {
        const double lo = bits_per_weight(result.problem.min_bytes(), result.problem) * (1 + 1e-9);  // floor() must not undercut
        const double hi = bits_per_weight(result.problem.max_bytes(), result.problem);
        const std::vector<AllocationBudget> sweep = bpw_sweep(lo, hi, curve_steps);
        for (size_t i = 0; i < sweep.size(); ++i) {
            if (control) control->step(int64_t(i) + 1, curve_steps + 1, "Pareto curve");
            result.curve.push_back(allocate_exact(result.problem, sweep[i]));
        }
    }
    result.base_plan = base_plan;
    result.plan = assignment_plan(result, result.chosen);
    return result;
}

}  // namespace qb
