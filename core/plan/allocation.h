// Automatic bit allocation: per tensor, a list of candidates {format, bytes, predicted loss} (the
// sensitivity analysis fills in the losses: Hessian-weighted error, measured delta-KLD, ...); choose one
// candidate per tensor minimising the summed predicted loss with the total size within a budget. This is
// a multiple-choice knapsack problem.
//
// allocate_exact() solves it exactly, at a granularity of one byte: a dynamic programme over exact
// integer byte sums whose states are the Pareto-optimal partial solutions (no state kept has another
// with fewer or equal bytes and lower or equal loss), pruned by the Lagrangian bound (a state whose
// loss plus the bound of the remaining tensors at the remaining budget exceeds a known feasible
// solution cannot lead to the optimum). Candidates the same bound rules out are dropped first. Both
// prunings are exact; loss comparisons allow a tolerance of 1e-9 times the problem's loss scale, so
// the loss returned is within that tolerance of the optimum, and the byte limit is never exceeded.
// allocate_lagrangian() is the fast relaxation: the last point of the lower convex hull of (bytes,
// loss) within the budget, with the same lower bound, for comparison.
//
// Budget in bits per weight: floor(bpw * parameters / 8) bytes, parameters including fixed tensors.
// A budget below the smallest achievable size is an Error stating that size.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/model/model.h"
#include "core/plan/quant_plan.h"
#include "core/plan/resolved_plan.h"

namespace qb {

struct AllocationCandidate {
    std::string format;     // registry name
    std::string algorithm;  // empty: the base plan's
    uint64_t bytes = 0;
    double predicted_loss = 0;
};

struct AllocationTensor {
    std::string name;  // canonical
    int64_t parameters = 0;
    std::vector<AllocationCandidate> candidates;
};

struct AllocationProblem {
    std::vector<AllocationTensor> tensors;
    uint64_t fixed_bytes = 0;       // tensors outside the choice (norms, kept tensors)
    int64_t fixed_parameters = 0;

    int64_t parameters() const;
    uint64_t min_bytes() const;  // fixed bytes + every tensor's smallest candidate
    uint64_t max_bytes() const;  // fixed bytes + every tensor's largest candidate
};

struct AllocationBudget {
    enum class Kind { Bytes, BitsPerWeight } kind = Kind::Bytes;
    double value = 0;

    static AllocationBudget bytes(uint64_t n) { return {Kind::Bytes, double(n)}; }
    static AllocationBudget bits_per_weight(double bpw) { return {Kind::BitsPerWeight, bpw}; }
    uint64_t byte_limit(const AllocationProblem& problem) const;
};

struct Allocation {
    std::vector<size_t> choice;  // per tensor: index into its candidates
    uint64_t bytes = 0;          // total, fixed bytes included
    uint64_t budget_bytes = 0;
    double predicted_loss = 0;
    double lower_bound = 0;      // Lagrangian bound: no allocation within the budget has less loss
    bool proven_optimal = false;
    double bits_per_weight = 0;  // over all parameters, fixed ones included
};

// Both throw Error("allocation", ...) for an empty candidate list, a non-finite loss, or a budget below
// the smallest achievable size (the message states it in bytes and bits per weight).
Allocation allocate_exact(const AllocationProblem& problem, const AllocationBudget& budget);
Allocation allocate_lagrangian(const AllocationProblem& problem, const AllocationBudget& budget);

struct ParetoPoint {
    uint64_t bytes = 0;
    double predicted_loss = 0;
};

struct ParetoFront {
    std::vector<ParetoPoint> hull;   // every breakpoint of the Lagrangian lower convex hull, bytes ascending
    std::vector<Allocation> exact;   // the exact optimum at each budget of the sweep, in the sweep's order
};

ParetoFront pareto_front(const AllocationProblem& problem, std::span<const AllocationBudget> budgets);
// `steps` budgets evenly spaced in bits per weight from lo to hi inclusive.
std::vector<AllocationBudget> bpw_sweep(double lo, double hi, int steps);

// The problem skeleton for a resolved plan: every tensor it quantizes gets one candidate per format
// that its target can store at that shape (bytes exact, predicted_loss NaN for the caller to fill);
// everything else is fixed at its resolved size. Formats are registry names.
AllocationProblem allocation_problem(const ResolvedPlan& base, const Model& model, std::span<const std::string> formats);

// The allocation as a plan: `base` with one override per tensor (format, and algorithm when the
// candidate names one), so it can be saved, edited and exported.
QuantPlan allocation_plan(const AllocationProblem& problem, const Allocation& allocation, const QuantPlan& base);

}  // namespace qb
