#include "ui/plan/auto_assign.h"

#include <algorithm>
#include <cmath>

#include "core/util/error.h"
#include "ui/sensitivity/sensitivity_metric.h"

namespace qbui {
namespace {

std::vector<std::string> measuredFormats(const qb::SensitivityResult& sensitivity) {
    std::vector<std::string> formats;
    for (const qb::SensitivityEntry& e : sensitivity.entries)
        if (std::find(formats.begin(), formats.end(), e.format) == formats.end()) formats.push_back(e.format);
    return formats;
}

// The problem with measured losses only: unmeasured candidates dropped, unmeasured tensors fixed as planned.
qb::AllocationProblem measuredProblem(const qb::AllocationProblem& full, const qb::ResolvedPlan& base,
                                      const qb::SensitivityResult& sensitivity, const QString& metric) {
    qb::AllocationProblem measured;
    measured.fixed_bytes = full.fixed_bytes;
    measured.fixed_parameters = full.fixed_parameters;
    for (const qb::AllocationTensor& tensor : full.tensors) {
        qb::AllocationTensor kept{tensor.name, tensor.parameters, {}};
        for (qb::AllocationCandidate candidate : tensor.candidates) {
            candidate.predicted_loss = sensitivityValue(sensitivity, tensor.name, candidate.format, metric);
            if (std::isfinite(candidate.predicted_loss)) kept.candidates.push_back(candidate);
        }
        if (kept.candidates.empty()) {
            measured.fixed_bytes += base.find(tensor.name)->bytes;
            measured.fixed_parameters += tensor.parameters;
        } else {
            measured.tensors.push_back(std::move(kept));
        }
    }
    if (measured.tensors.empty()) throw qb::Error("allocation", "no planned tensor has sensitivity measurements");
    return measured;
}

double bitsPerWeight(uint64_t bytes, const qb::AllocationProblem& problem) {
    return 8.0 * double(bytes) / double(problem.parameters());
}

}  // namespace

AutoAssignment autoAssign(const qb::Model& model, const qb::QuantPlan& basePlan, const qb::ResolvedPlan& base,
                          const qb::SensitivityResult& sensitivity, const QString& metric, double targetBpw, int steps,
                          qb::JobControl& control) {
    AutoAssignment result;
    result.targetBpw = targetBpw;
    const std::vector<std::string> formats = measuredFormats(sensitivity);
    result.problem = measuredProblem(qb::allocation_problem(base, model, formats), base, sensitivity, metric);
    control.step(0, steps + 1, "allocating");
    result.chosen = qb::allocate_exact(result.problem, qb::AllocationBudget::bits_per_weight(targetBpw));
    const double lo = bitsPerWeight(result.problem.min_bytes(), result.problem) * (1 + 1e-9);  // floor() must not undercut
    const double hi = bitsPerWeight(result.problem.max_bytes(), result.problem);
    const std::vector<qb::AllocationBudget> sweep = qb::bpw_sweep(lo, hi, steps);
    for (size_t i = 0; i < sweep.size(); ++i) {
        control.step(int64_t(i) + 1, steps + 1, "Pareto curve");
        result.curve.push_back(qb::allocate_exact(result.problem, sweep[i]));
    }
    result.basePlan = basePlan;
    result.plan = planAt(result, result.chosen);
    return result;
}

qb::QuantPlan planAt(const AutoAssignment& assignment, const qb::Allocation& allocation) {
    qb::QuantPlan plan = qb::allocation_plan(assignment.problem, allocation, assignment.basePlan);
    plan.name = assignment.basePlan.name + "-auto-" + QString::number(allocation.bits_per_weight, 'f', 2).toStdString() + "bpw";
    return plan;
}

}  // namespace qbui
