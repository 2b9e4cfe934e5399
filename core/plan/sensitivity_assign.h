// "Auto-assign for N bpw" from a sensitivity result already at hand (computed in the GUI or read from
// `quantbench-cli sensitivity --out FILE.qbh5`): the plan editor's button and `quantbench-cli plan
// --target-bpw B --sensitivity FILE.qbh5` both call assign_from_sensitivity, so they give the same plan.
//
// Metrics: one number per (tensor, format) out of a sensitivity entry, by name (a table:
// sensitivity_metrics()): "hessian_error" (the default), "hawq", "mse", "delta_ppl", "mean_kld".
//
// The allocation is core's exact multiple-choice knapsack (allocation.h): every tensor the base plan
// quantizes gets one candidate per format the result measured for it (exact bytes from the target's
// storage rules, predicted loss = the metric); tensors without measurements (embeddings) stay as planned
// and count as fixed bytes. Besides the allocation at the requested budget, the exact optimum at
// `curve_steps` budgets from the smallest to the largest achievable size: the Pareto curve.
// The plan is the base plan with one override per tensor, named "<base>-auto-<bpw, 2 decimals>bpw".
#pragma once
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/analysis/sensitivity.h"
#include "core/jobs/job.h"
#include "core/model/model.h"
#include "core/plan/allocation.h"
#include "core/plan/quant_plan.h"
#include "core/plan/resolved_plan.h"

namespace qb {

struct SensitivityMetric {
    std::string_view name;
    std::string_view label;  // for tables and axes
    double SensitivityEntry::*field;
};
std::span<const SensitivityMetric> sensitivity_metrics();
// Throws Error("sensitivity", ...) naming the known metrics for an unknown name.
const SensitivityMetric& sensitivity_metric_by_name(std::string_view name);
// The entry's value of a metric; an unknown name gives hessian_error.
double sensitivity_metric(const SensitivityEntry& entry, std::string_view metric);
// NaN when the result has no entry for the pair (skipped, or not a linear weight).
double sensitivity_value(const SensitivityResult& result, const std::string& tensor, const std::string& format,
                         std::string_view metric);

// The allocation problem with predicted losses: each candidate of `skeleton` (allocation_problem) gets
// loss(tensor, format); candidates without a finite loss are dropped, and a tensor left without any
// stays at its size in `base` as fixed bytes. Shared by assign_from_sensitivity and auto_plan.
using LossLookup = std::function<double(const std::string& tensor, const std::string& format)>;
AllocationProblem scored_allocation_problem(AllocationProblem skeleton, const ResolvedPlan& base, const LossLookup& loss);

struct SensitivityAssignment {
    double target_bpw = 0;
    std::string metric;
    AllocationProblem problem;
    Allocation chosen;                 // at the requested budget
    std::vector<Allocation> curve;     // exact optima along the sweep, increasing budget
    QuantPlan base_plan;
    QuantPlan plan;                    // `chosen` as a plan
};

// An allocation of the assignment's problem as a plan, named after its bits per weight.
QuantPlan assignment_plan(const SensitivityAssignment& assignment, const Allocation& allocation);

// `base` is `base_plan` resolved for the model. Throws Error("allocation", ...) when no tensor has
// measurements or the budget is below the smallest achievable size; Cancelled when cancelled.
SensitivityAssignment assign_from_sensitivity(const Model& model, const QuantPlan& base_plan, const ResolvedPlan& base,
                                              const SensitivityResult& sensitivity, std::string_view metric,
                                              double target_bpw, int curve_steps = 16, JobControl* control = nullptr);

}  // namespace qb
