// "Auto-assign for N bpw": core's exact multiple-choice knapsack (core/plan/allocation.h) over the
// sensitivity result at hand. Every tensor the plan quantizes gets one candidate per format the
// analysis measured for it (exact bytes from the target's storage rules, predicted loss = the chosen
// metric); tensors without measurements (embeddings) stay as planned and count as fixed bytes.
// Besides the allocation at the requested budget, the exact optimum at `steps` budgets between the
// smallest and the largest achievable size: the Pareto curve the user can pick a point from.
#pragma once
#include <QString>
#include <vector>

#include "core/analysis/sensitivity.h"
#include "core/jobs/job.h"
#include "core/model/model.h"
#include "core/plan/allocation.h"
#include "core/plan/quant_plan.h"
#include "core/plan/resolved_plan.h"

namespace qbui {

struct AutoAssignment {
    double targetBpw = 0;
    qb::AllocationProblem problem;
    qb::Allocation chosen;                 // at the requested budget
    std::vector<qb::Allocation> curve;     // exact optima along the sweep, increasing budget
    qb::QuantPlan basePlan;
    qb::QuantPlan plan;                    // `chosen` as a plan (the base plan plus one override per tensor)
};

// An allocation of the assignment's problem as a plan, named after its bits per weight.
qb::QuantPlan planAt(const AutoAssignment& assignment, const qb::Allocation& allocation);

// Throws qb::Error("allocation", ...) when no tensor has measurements or the budget is below the
// smallest achievable size; qb::Cancelled when cancelled.
AutoAssignment autoAssign(const qb::Model& model, const qb::QuantPlan& basePlan, const qb::ResolvedPlan& base,
                          const qb::SensitivityResult& sensitivity, const QString& metric, double targetBpw, int steps,
                          qb::JobControl& control);

}  // namespace qbui
