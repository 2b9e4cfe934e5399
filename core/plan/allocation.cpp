#include "core/plan/allocation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "core/util/error.h"

namespace qb {
namespace {

constexpr double kRelativeTolerance = 1e-9;
constexpr size_t kMaxStates = 20'000'000;  // partial solutions kept by the exact search, about 480 MB

// A candidate of one tensor: index into AllocationTensor::candidates.
struct Option {
    uint64_t bytes = 0;
    double loss = 0;
    size_t index = 0;
};

std::string bpw_text(uint64_t bytes, int64_t parameters) {
    char text[32];
    std::snprintf(text, sizeof text, "%.4f", parameters > 0 ? 8.0 * double(bytes) / double(parameters) : 0.0);
    return text;
}

void validate(const AllocationProblem& p) {
    for (const auto& t : p.tensors) {
        if (t.candidates.empty()) throw Error("allocation", t.name + ": no candidate formats");
        for (const auto& c : t.candidates)
            if (!std::isfinite(c.predicted_loss))
                throw Error("allocation", t.name + ": predicted loss of " + c.format + " is not a finite number");
    }
}

// The candidates no other candidate beats in both bytes and loss: bytes ascending, loss strictly descending.
std::vector<Option> pareto_options(const AllocationTensor& t) {
    std::vector<Option> all;
    for (size_t i = 0; i < t.candidates.size(); ++i) all.push_back({t.candidates[i].bytes, t.candidates[i].predicted_loss, i});
    std::sort(all.begin(), all.end(), [](const Option& a, const Option& b) {
        return a.bytes != b.bytes ? a.bytes < b.bytes : a.loss != b.loss ? a.loss < b.loss : a.index < b.index;
    });
    std::vector<Option> kept;
    for (const auto& o : all)
        if (kept.empty() || o.loss < kept.back().loss) kept.push_back(o);
    return kept;
}

// Lower convex hull of Pareto options (bytes ascending): the options a Lagrangian multiplier can select.
std::vector<Option> lower_hull(const std::vector<Option>& options) {
    std::vector<Option> hull;
    for (const auto& o : options) {
        while (hull.size() >= 2) {
            const Option& a = hull[hull.size() - 2];
            const Option& b = hull.back();
            const long double cross = (long double)(b.bytes - a.bytes) * ((long double)o.loss - a.loss) -
                                      ((long double)b.loss - a.loss) * (long double)(o.bytes - a.bytes);
            if (cross > 0) break;  // b lies strictly below the segment a-o
            hull.pop_back();
        }
        hull.push_back(o);
    }
    return hull;
}

// One step along a tensor's hull: from hull[step - 1] to hull[step].
struct Increment {
    size_t tensor = 0;
    size_t step = 0;
    uint64_t bytes = 0;  // > 0
    double loss = 0;     // < 0
    double slope() const { return loss / double(bytes); }
};

struct Prepared {
    const AllocationProblem* problem = nullptr;
    std::vector<std::vector<Option>> options;  // per tensor, Pareto options
    std::vector<std::vector<Option>> hulls;
    std::vector<Increment> increments;  // all tensors' hull steps, steepest loss decrease per byte first
    uint64_t limit = 0;                 // budget bytes available to the chosen candidates
    uint64_t budget = 0;
    double loss_scale = 0;              // sum over tensors of the largest |loss|
};

Prepared prepare(const AllocationProblem& problem, const AllocationBudget& budget) {
    validate(problem);
    Prepared p;
    p.problem = &problem;
    p.budget = budget.byte_limit(problem);
    const uint64_t smallest = problem.min_bytes();
    if (p.budget < smallest)
        throw Error("allocation", "the budget of " + std::to_string(p.budget) + " bytes (" +
                                      bpw_text(p.budget, problem.parameters()) +
                                      " bpw) is below the smallest achievable size of " + std::to_string(smallest) +
                                      " bytes (" + bpw_text(smallest, problem.parameters()) + " bpw)");
    p.limit = p.budget - problem.fixed_bytes;
    for (size_t t = 0; t < problem.tensors.size(); ++t) {
        p.options.push_back(pareto_options(problem.tensors[t]));
        p.hulls.push_back(lower_hull(p.options.back()));
        const auto& hull = p.hulls.back();
        for (size_t s = 1; s < hull.size(); ++s)
            p.increments.push_back({t, s, hull[s].bytes - hull[s - 1].bytes, hull[s].loss - hull[s - 1].loss});
        double largest = 0;
        for (const auto& c : problem.tensors[t].candidates) largest = std::max(largest, std::fabs(c.predicted_loss));
        p.loss_scale += largest;
    }
    std::stable_sort(p.increments.begin(), p.increments.end(),
                     [](const Increment& a, const Increment& b) { return a.slope() < b.slope(); });
    return p;
}

// A solution as hull positions (Lagrangian) or option picks (exact), in Option terms.
struct Solution {
    std::vector<Option> picks;  // per tensor
    uint64_t bytes = 0;         // without fixed bytes
    double loss = 0;
};

Solution solution_from(std::vector<Option> picks) {
    Solution s{std::move(picks)};
    for (const auto& o : s.picks) {
        s.bytes += o.bytes;
        s.loss += o.loss;
    }
    return s;
}

struct HullWalk {
    Solution hull_point;  // last hull point within the limit
    Solution filled;      // hull point plus later increments that still fit (a better feasible solution)
    double lambda = 0;    // multiplier of the budget constraint at that point
};

HullWalk walk_hull(const Prepared& p) {
    std::vector<size_t> position(p.hulls.size(), 0);
    uint64_t bytes = 0;
    for (const auto& h : p.hulls) bytes += h.front().bytes;
    HullWalk walk;
    size_t i = 0;
    for (; i < p.increments.size() && bytes + p.increments[i].bytes <= p.limit; ++i) {
        bytes += p.increments[i].bytes;
        position[p.increments[i].tensor] = p.increments[i].step;
    }
    auto picks = [&] {
        std::vector<Option> out;
        for (size_t t = 0; t < p.hulls.size(); ++t) out.push_back(p.hulls[t][position[t]]);
        return out;
    };
    walk.hull_point = solution_from(picks());
    if (i < p.increments.size()) walk.lambda = -p.increments[i].slope();
    for (; i < p.increments.size(); ++i) {
        const Increment& inc = p.increments[i];
        if (position[inc.tensor] + 1 == inc.step && bytes + inc.bytes <= p.limit) {
            bytes += inc.bytes;
            position[inc.tensor] = inc.step;
        }
    }
    walk.filled = solution_from(picks());
    return walk;
}

// min over options of loss + lambda * bytes.
double lagrangian_term(const std::vector<Option>& options, double lambda) {
    double best = std::numeric_limits<double>::infinity();
    for (const auto& o : options) best = std::min(best, o.loss + lambda * double(o.bytes));
    return best;
}

double lower_bound(const Prepared& p, double lambda) {
    double sum = 0;
    for (const auto& o : p.options) sum += lagrangian_term(o, lambda);
    return sum - lambda * double(p.limit);
}

double tolerance(const Prepared& p, double lambda) {
    return kRelativeTolerance * (p.loss_scale + lambda * double(p.limit)) + std::numeric_limits<double>::min();
}

Allocation to_allocation(const Prepared& p, const Solution& s, double bound, bool proven) {
    const AllocationProblem& problem = *p.problem;
    Allocation a;
    for (const auto& o : s.picks) a.choice.push_back(o.index);
    a.bytes = s.bytes + problem.fixed_bytes;
    a.budget_bytes = p.budget;
    for (size_t t = 0; t < problem.tensors.size(); ++t) a.predicted_loss += problem.tensors[t].candidates[a.choice[t]].predicted_loss;
    a.lower_bound = bound;
    a.proven_optimal = proven;
    const int64_t n = problem.parameters();
    a.bits_per_weight = n > 0 ? 8.0 * double(a.bytes) / double(n) : 0.0;
    return a;
}

// The exact search over Pareto-optimal partial solutions (see allocation.h).
class ExactSearch {
public:
    ExactSearch(const Prepared& p, const HullWalk& walk) : p_(p), lambda_(walk.lambda), incumbent_(walk.filled) {
        tolerance_ = tolerance(p, lambda_);
        bound_ = lower_bound(p, lambda_);
        reduce_options();
    }

    Solution run() {
        std::vector<double> rest(stages_.size() + 1, 0.0);  // Lagrangian terms of the stages not yet taken
        for (size_t j = stages_.size(); j-- > 0;) rest[j] = rest[j + 1] + lagrangian_term(options_[stages_[j]], lambda_);
        std::vector<std::vector<State>> layers{{State{}}};
        size_t states = 1;
        for (size_t j = 0; j < stages_.size(); ++j) {
            layers.push_back(extend(layers.back(), options_[stages_[j]], rest[j + 1]));
            states += layers.back().size();
            if (states > kMaxStates)
                throw Error("allocation", "the exact search needs more than " + std::to_string(kMaxStates) +
                                              " partial solutions; use the Lagrangian allocation");
            if (layers.back().empty()) return incumbent_;  // nothing beats the incumbent
        }
        return trace(layers);
    }

    double bound() const { return bound_; }

private:
    struct State {
        uint64_t bytes = 0;
        double loss = 0;
        uint32_t parent = 0;
        uint32_t option = 0;
    };

    // Drops options that cannot be part of a solution better than the incumbent; orders the tensors so
    // that those left with one option come first.
    void reduce_options() {
        for (size_t t = 0; t < p_.options.size(); ++t) {
            const double best = lagrangian_term(p_.options[t], lambda_);
            std::vector<Option> kept;
            for (const auto& o : p_.options[t])
                if (bound_ + (o.loss + lambda_ * double(o.bytes) - best) <= incumbent_.loss + tolerance_) kept.push_back(o);
            options_.push_back(kept.empty() ? std::vector<Option>{incumbent_.picks[t]} : std::move(kept));
        }
        stages_.resize(options_.size());
        std::iota(stages_.begin(), stages_.end(), size_t(0));
        std::stable_sort(stages_.begin(), stages_.end(),
                         [&](size_t a, size_t b) { return options_[a].size() < options_[b].size(); });
    }

    std::vector<State> extend(const std::vector<State>& from, const std::vector<Option>& options, double rest) const {
        std::vector<State> next;
        for (uint32_t i = 0; i < from.size(); ++i)
            for (uint32_t k = 0; k < options.size(); ++k) {
                const uint64_t bytes = from[i].bytes + options[k].bytes;
                if (bytes > p_.limit) continue;
                const double loss = from[i].loss + options[k].loss;
                if (loss + rest - lambda_ * double(p_.limit - bytes) > incumbent_.loss + tolerance_) continue;
                next.push_back({bytes, loss, i, k});
            }
        std::sort(next.begin(), next.end(),
                  [](const State& a, const State& b) { return a.bytes != b.bytes ? a.bytes < b.bytes : a.loss < b.loss; });
        std::vector<State> frontier;
        for (const auto& s : next)
            if (frontier.empty() || s.loss < frontier.back().loss) frontier.push_back(s);
        return frontier;
    }

    Solution trace(const std::vector<std::vector<State>>& layers) const {
        std::vector<Option> picks(options_.size());
        uint32_t at = uint32_t(layers.back().size() - 1);  // least loss: the frontier's last state
        for (size_t j = stages_.size(); j > 0; --j) {
            const State& s = layers[j][at];
            picks[stages_[j - 1]] = options_[stages_[j - 1]][s.option];
            at = s.parent;
        }
        const Solution found = solution_from(std::move(picks));
        return found.loss < incumbent_.loss ? found : incumbent_;
    }

    const Prepared& p_;
    double lambda_;
    Solution incumbent_;
    double tolerance_ = 0;
    double bound_ = 0;
    std::vector<std::vector<Option>> options_;
    std::vector<size_t> stages_;
};

}  // namespace

int64_t AllocationProblem::parameters() const {
    int64_t n = fixed_parameters;
    for (const auto& t : tensors) n += t.parameters;
    return n;
}

uint64_t AllocationProblem::min_bytes() const {
    uint64_t sum = fixed_bytes;
    for (const auto& t : tensors) {
        uint64_t least = std::numeric_limits<uint64_t>::max();
        for (const auto& c : t.candidates) least = std::min(least, c.bytes);
        if (!t.candidates.empty()) sum += least;
    }
    return sum;
}

uint64_t AllocationProblem::max_bytes() const {
    uint64_t sum = fixed_bytes;
    for (const auto& t : tensors) {
        uint64_t most = 0;
        for (const auto& c : t.candidates) most = std::max(most, c.bytes);
        sum += most;
    }
    return sum;
}

uint64_t AllocationBudget::byte_limit(const AllocationProblem& problem) const {
    if (!std::isfinite(value) || value < 0) throw Error("allocation", "the budget must be a non-negative number");
    if (kind == Kind::Bytes) return uint64_t(value);
    return uint64_t(std::floor(value * double(problem.parameters()) / 8.0));
}

Allocation allocate_lagrangian(const AllocationProblem& problem, const AllocationBudget& budget) {
    const Prepared p = prepare(problem, budget);
    const HullWalk walk = walk_hull(p);
    const double bound = lower_bound(p, walk.lambda);
    return to_allocation(p, walk.hull_point, bound, walk.hull_point.loss - bound <= tolerance(p, walk.lambda));
}

Allocation allocate_exact(const AllocationProblem& problem, const AllocationBudget& budget) {
    const Prepared p = prepare(problem, budget);
    ExactSearch search(p, walk_hull(p));
    const Solution best = search.run();
    return to_allocation(p, best, search.bound(), true);
}

ParetoFront pareto_front(const AllocationProblem& problem, std::span<const AllocationBudget> budgets) {
    ParetoFront front;
    const Prepared p = prepare(problem, AllocationBudget::bytes(problem.max_bytes()));
    ParetoPoint point{problem.fixed_bytes, 0.0};
    for (const auto& h : p.hulls) {
        point.bytes += h.front().bytes;
        point.predicted_loss += h.front().loss;
    }
    front.hull.push_back(point);
    for (const auto& inc : p.increments) {
        point.bytes += inc.bytes;
        point.predicted_loss += inc.loss;
        front.hull.push_back(point);
    }
    for (const auto& b : budgets) front.exact.push_back(allocate_exact(problem, b));
    return front;
}

std::vector<AllocationBudget> bpw_sweep(double lo, double hi, int steps) {
    std::vector<AllocationBudget> out;
    for (int i = 0; i < steps; ++i)
        out.push_back(AllocationBudget::bits_per_weight(steps == 1 ? lo : lo + (hi - lo) * i / (steps - 1)));
    return out;
}

AllocationProblem allocation_problem(const ResolvedPlan& base, const Model& model, std::span<const std::string> formats) {
    AllocationProblem problem;
    for (const auto& t : base.tensors) {
        AllocationTensor choice{t.name, t.parameters(), {}};
        if (t.origin != DecisionOrigin::NotQuantized && !t.keep)
            for (const auto& name : formats) {
                const FormatInfo& f = format_by_name(name);
                if (target_storage_problem(f, model.tensor(t.name), base.target).empty())
                    choice.candidates.push_back({f.name, "", f.tensor_bytes(t.rows, t.cols), std::nan("")});
            }
        if (choice.candidates.empty()) {
            problem.fixed_bytes += t.bytes;
            problem.fixed_parameters += t.parameters();
        } else {
            problem.tensors.push_back(std::move(choice));
        }
    }
    return problem;
}

QuantPlan allocation_plan(const AllocationProblem& problem, const Allocation& allocation, const QuantPlan& base) {
    QuantPlan plan = base;
    char text[160];
    std::snprintf(text, sizeof text, "automatic allocation: %llu of %llu bytes (%.4f bpw), predicted loss %.6g",
                  (unsigned long long)allocation.bytes, (unsigned long long)allocation.budget_bytes,
                  allocation.bits_per_weight, allocation.predicted_loss);
    plan.description = text;
    for (size_t t = 0; t < problem.tensors.size(); ++t) {
        const AllocationCandidate& c = problem.tensors[t].candidates[allocation.choice[t]];
        PlanChoice& o = plan.overrides[problem.tensors[t].name];
        o.format = c.format;
        if (!c.algorithm.empty()) o.algorithm = c.algorithm;
    }
    return plan;
}

}  // namespace qb
