#include <QtTest>

#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/pipeline/auto_plan.h"
#include "core/plan/plan_export.h"
#include "core/store/text_file.h"
#include "core/plan/allocation.h"
#include "core/plan/resolved_plan.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "tests/support/test_data.h"
#include "tests/support/error_text.h"

using namespace qb;

namespace {

std::string numbered(char prefix, size_t n) {
    std::string name(1, prefix);
    name += std::to_string(n);
    return name;
}

AllocationProblem random_problem(std::mt19937_64& rng, int max_tensors, int max_candidates, uint64_t max_bytes) {
    std::uniform_int_distribution<int> tensors(1, max_tensors), candidates(1, max_candidates);
    std::uniform_int_distribution<uint64_t> bytes(1, max_bytes);
    std::uniform_real_distribution<double> loss(0.0, 10.0);
    AllocationProblem p;
    p.fixed_bytes = bytes(rng) % 7;
    p.fixed_parameters = int64_t(p.fixed_bytes);
    for (int t = tensors(rng); t > 0; --t) {
        AllocationTensor tensor{numbered('t', p.tensors.size()), 64, {}};
        for (int c = candidates(rng); c > 0; --c)
            tensor.candidates.push_back({numbered('c', tensor.candidates.size()), "", bytes(rng), loss(rng)});
        p.tensors.push_back(std::move(tensor));
    }
    return p;
}

struct Best {
    double loss = std::numeric_limits<double>::infinity();
    uint64_t bytes = 0;
};

Best brute_force(const AllocationProblem& p, uint64_t limit) {
    Best best;
    std::vector<size_t> pick(p.tensors.size(), 0);
    while (true) {
        uint64_t bytes = p.fixed_bytes;
        double loss = 0;
        for (size_t t = 0; t < pick.size(); ++t) {
            bytes += p.tensors[t].candidates[pick[t]].bytes;
            loss += p.tensors[t].candidates[pick[t]].predicted_loss;
        }
        if (bytes <= limit && loss < best.loss) best = {loss, bytes};
        size_t t = 0;
        while (t < pick.size() && ++pick[t] == p.tensors[t].candidates.size()) pick[t++] = 0;
        if (t == pick.size()) return best;
    }
}

// The textbook dense DP over capacity in units of the gcd of all sizes: an independent exact reference.
double dense_dp(const AllocationProblem& p, uint64_t limit) {
    uint64_t unit = 0;
    for (const auto& t : p.tensors)
        for (const auto& c : t.candidates) unit = std::gcd(unit, c.bytes);
    const size_t capacity = size_t((limit - p.fixed_bytes) / unit);
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> best(capacity + 1, 0.0);
    for (const auto& t : p.tensors) {
        std::vector<double> next(capacity + 1, inf);
        for (size_t cap = 0; cap <= capacity; ++cap)
            for (const auto& c : t.candidates)
                if (c.bytes / unit <= cap) next[cap] = std::min(next[cap], best[cap - c.bytes / unit] + c.predicted_loss);
        best = std::move(next);
    }
    return best[capacity];
}

double loss_scale(const AllocationProblem& p) {
    double s = 0;
    for (const auto& t : p.tensors)
        for (const auto& c : t.candidates) s += std::fabs(c.predicted_loss);
    return 1.0 + s;
}

// Llama-2-7B's 224 block matrices with 8 GGUF candidates each; loss = parameters * 4^-bpw * a random
// per-tensor sensitivity, with a per-format factor so that formats of equal size differ.
AllocationProblem llama_7b_problem() {
    struct Matrix {
        const char* role;
        int64_t rows, cols;
    };
    const Matrix block[] = {{"attn_q", 4096, 4096},   {"attn_k", 4096, 4096},  {"attn_v", 4096, 4096},
                            {"attn_output", 4096, 4096}, {"ffn_gate", 11008, 4096}, {"ffn_up", 11008, 4096},
                            {"ffn_down", 4096, 11008}};
    const char* formats[] = {"q2_k", "q3_k", "iq4_xs", "q4_k", "iq4_nl", "q5_k", "q6_k", "q8_0"};
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> sensitivity(0.0, 1.0);
    std::uniform_real_distribution<double> quirk(0.9, 1.1);
    AllocationProblem p;
    for (int layer = 0; layer < 32; ++layer)
        for (const auto& m : block) {
            AllocationTensor t{"blk." + std::to_string(layer) + "." + m.role, m.rows * m.cols, {}};
            const double s = sensitivity(rng);
            for (const char* name : formats) {
                const FormatInfo& f = format_by_name(name);
                t.candidates.push_back({name, "", f.tensor_bytes(m.rows, m.cols),
                                        double(t.parameters) * std::pow(4.0, -f.nominal_bits) * s * quirk(rng)});
            }
            p.tensors.push_back(std::move(t));
        }
    p.fixed_bytes = 2 * 32000 * 4096 * 2 + 65 * 4096 * 4;  // f16 embeddings and output, f32 norms
    p.fixed_parameters = 2 * 32000 * 4096 + 65 * 4096;
    return p;
}

}  // namespace

class AllocationTest : public QObject {
    Q_OBJECT
private slots:
    void finds_the_exact_optimum_of_small_random_instances() {
        std::mt19937_64 rng(1);
        int lagrangian_suboptimal = 0;
        for (int i = 0; i < 400; ++i) {
            const AllocationProblem p = random_problem(rng, 6, 5, i % 2 ? 40 : 1000);
            std::uniform_int_distribution<uint64_t> budget(p.min_bytes(), p.max_bytes() + 5);
            const uint64_t limit = i % 10 == 0 ? p.min_bytes() : budget(rng);
            const Best best = brute_force(p, limit);
            const Allocation exact = allocate_exact(p, AllocationBudget::bytes(limit));
            const Allocation relaxed = allocate_lagrangian(p, AllocationBudget::bytes(limit));
            const double tol = 1e-9 * loss_scale(p);
            QVERIFY2(std::fabs(exact.predicted_loss - best.loss) <= tol,
                     (std::to_string(i) + ": " + std::to_string(exact.predicted_loss) + " vs " + std::to_string(best.loss)).c_str());
            QVERIFY(exact.proven_optimal);
            QVERIFY(exact.bytes <= limit && relaxed.bytes <= limit);
            QCOMPARE(exact.budget_bytes, limit);
            QVERIFY(exact.lower_bound <= best.loss + tol);
            QVERIFY(relaxed.predicted_loss >= best.loss - tol);
            lagrangian_suboptimal += relaxed.predicted_loss > best.loss + tol;
        }
        qInfo("the Lagrangian hull point was suboptimal in %d of 400 instances", lagrangian_suboptimal);
        QVERIFY(lagrangian_suboptimal > 0);  // the instances do exercise the exact search
    }

    void matches_a_dense_dynamic_programme_on_larger_instances() {
        std::mt19937_64 rng(2);
        for (int i = 0; i < 20; ++i) {
            AllocationProblem p = random_problem(rng, 40, 8, 300);
            for (auto& t : p.tensors)
                for (auto& c : t.candidates) c.bytes *= 64;  // sizes share a factor, as real tensor sizes do
            const uint64_t limit = (p.min_bytes() + p.max_bytes()) / 2;
            const Allocation exact = allocate_exact(p, AllocationBudget::bytes(limit));
            QVERIFY(std::fabs(exact.predicted_loss - dense_dp(p, limit)) <= 1e-9 * loss_scale(p));
            QVERIFY(exact.bytes <= limit);
        }
    }

    void the_pareto_front_is_monotone_and_its_hull_convex() {
        std::mt19937_64 rng(3);
        const AllocationProblem p = random_problem(rng, 30, 6, 500);
        std::vector<AllocationBudget> budgets;
        for (int i = 0; i <= 24; ++i) budgets.push_back(AllocationBudget::bytes(p.min_bytes() + (p.max_bytes() - p.min_bytes()) * i / 24));
        const ParetoFront front = pareto_front(p, budgets);

        QCOMPARE(front.exact.size(), budgets.size());
        for (size_t i = 0; i < front.exact.size(); ++i) {
            QVERIFY(front.exact[i].bytes <= budgets[i].byte_limit(p));
            if (i > 0) QVERIFY(front.exact[i].predicted_loss <= front.exact[i - 1].predicted_loss);
        }
        QCOMPARE(front.hull.front().bytes, p.min_bytes());
        for (size_t i = 1; i < front.hull.size(); ++i) {
            QVERIFY(front.hull[i].bytes > front.hull[i - 1].bytes);
            QVERIFY(front.hull[i].predicted_loss < front.hull[i - 1].predicted_loss);
            if (i > 1) {
                const double before = (front.hull[i - 1].predicted_loss - front.hull[i - 2].predicted_loss) /
                                      double(front.hull[i - 1].bytes - front.hull[i - 2].bytes);
                const double after = (front.hull[i].predicted_loss - front.hull[i - 1].predicted_loss) /
                                     double(front.hull[i].bytes - front.hull[i - 1].bytes);
                QVERIFY(after >= before - 1e-12);
            }
        }
        // Every exact point lies on or above the hull, and on it at the hull's own breakpoints.
        for (const auto& a : front.exact) QVERIFY(a.lower_bound <= a.predicted_loss + 1e-9 * loss_scale(p));
        const ParetoPoint& knee = front.hull[front.hull.size() / 2];
        const Allocation at_knee = allocate_exact(p, AllocationBudget::bytes(knee.bytes));
        QVERIFY(std::fabs(at_knee.predicted_loss - knee.predicted_loss) <= 1e-9 * loss_scale(p));
    }

    void an_infeasible_budget_states_the_smallest_achievable_size() {
        AllocationProblem p;
        p.fixed_bytes = 100;
        p.fixed_parameters = 100;
        p.tensors.push_back({"blk.0.attn_q", 700, {{"q4_0", "", 400, 2.0}, {"q8_0", "", 700, 1.0}}});
        QCOMPARE(error_message([&] { allocate_exact(p, AllocationBudget::bits_per_weight(4.0)); }),
                 std::string("allocation: the budget of 400 bytes (4.0000 bpw) is below the smallest achievable size of "
                             "500 bytes (5.0000 bpw)"));
        QCOMPARE(allocate_exact(p, AllocationBudget::bits_per_weight(5.0)).choice, std::vector<size_t>{0});
        QCOMPARE(allocate_exact(p, AllocationBudget::bytes(800)).choice, std::vector<size_t>{1});
    }

    void an_allocation_becomes_a_plan_that_resolves_to_its_choices() {
        const Model model = load_model(qbtest::stories260k("gguf"));
        QuantPlan base = uniform_plan("q8_0");
        base.fallback = true;
        const ResolvedPlan resolved = resolve_plan(base, model, PlanTarget::Gguf);
        const std::vector<std::string> formats = {"iq4_nl", "q4_0", "q5_0", "q8_0", "f16"};
        AllocationProblem p = allocation_problem(resolved, model, formats);
        QCOMPARE(p.tensors.size(), size_t(37));  // 32 matrices of 64 columns + 5 ffn_down, which only f16 fits
        const auto down = std::find_if(p.tensors.begin(), p.tensors.end(), [](const auto& t) { return t.name == "blk.4.ffn_down"; });
        QCOMPARE(down->candidates.size(), size_t(1));
        QCOMPARE(down->candidates[0].format, std::string("f16"));
        QCOMPARE(error_message([&] { allocate_exact(p, AllocationBudget::bits_per_weight(6.0)); }),
                 std::string("allocation: token_embd: predicted loss of iq4_nl is not a finite number"));
        for (auto& t : p.tensors)
            for (auto& c : t.candidates) c.predicted_loss = double(t.parameters) * std::pow(4.0, -format_by_name(c.format).nominal_bits);

        const Allocation a = allocate_exact(p, AllocationBudget::bits_per_weight(7.0));
        QVERIFY(a.bits_per_weight <= 7.0);
        const QuantPlan plan = allocation_plan(p, a, base);
        QCOMPARE(plan.overrides.size(), p.tensors.size());
        const ResolvedPlan chosen = resolve_plan(plan, model, PlanTarget::Gguf);
        QCOMPARE(chosen.total_bytes(), a.bytes);
        for (size_t t = 0; t < p.tensors.size(); ++t)
            QCOMPARE(chosen.find(p.tensors[t].name)->format->name, p.tensors[t].candidates[a.choice[t]].format);
        QCOMPARE(plan_from_json(plan_to_json(plan)), plan);
    }

    void allocates_a_7b_shaped_model_in_well_under_a_second() {
        const AllocationProblem p = llama_7b_problem();
        const auto budget = AllocationBudget::bits_per_weight(4.5);
        const auto start = std::chrono::steady_clock::now();
        const Allocation relaxed = allocate_lagrangian(p, budget);
        const auto middle = std::chrono::steady_clock::now();
        const Allocation exact = allocate_exact(p, budget);
        const auto end = std::chrono::steady_clock::now();
        auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
        qInfo("224 tensors x 8 candidates at 4.5 bpw: Lagrangian %.2f ms, exact %.2f ms", ms(middle - start), ms(end - middle));
        qInfo("exact: %llu of %llu bytes (%.4f bpw), loss %.9g; Lagrangian: %llu bytes, loss %.9g; bound %.9g",
              (unsigned long long)exact.bytes, (unsigned long long)exact.budget_bytes, exact.bits_per_weight,
              exact.predicted_loss, (unsigned long long)relaxed.bytes, relaxed.predicted_loss, exact.lower_bound);
        QVERIFY(exact.bytes <= exact.budget_bytes);
        QVERIFY(exact.predicted_loss <= relaxed.predicted_loss);
        QVERIFY(exact.lower_bound <= exact.predicted_loss);
        QVERIFY(exact.bits_per_weight > 4.49);

        const ParetoFront front = pareto_front(p, bpw_sweep(3.5, 8.0, 6));
        for (size_t i = 1; i < front.exact.size(); ++i) QVERIFY(front.exact[i].predicted_loss < front.exact[i - 1].predicted_loss);
        qInfo("hull of %zu breakpoints; exact points at 3.5..8 bpw: %.4g %.4g %.4g %.4g %.4g %.4g", front.hull.size(),
              front.exact[0].predicted_loss, front.exact[1].predicted_loss, front.exact[2].predicted_loss,
              front.exact[3].predicted_loss, front.exact[4].predicted_loss, front.exact[5].predicted_loss);
    }

    // The bounded-memory allocation (Hessians grouped to a budget, each turned into losses and dropped) chooses
    // what the allocation over a full in-memory calibration chooses, holding one Hessian at a time.
    void streaming_allocation_holds_one_hessian_and_chooses_the_same_plan() {
        QFETCH(QString, loss);
        QFETCH(QString, algorithm);
        const Model model = load_model(qbtest::stories260k("gguf"));
        const std::string text = read_text_file(qbtest::data_path("text/tinystories-snippet-30k.txt")).text;
        CalibrationOptions calibration;
        calibration.tokens = 2048;
        calibration.hessian_memory_bytes = 2 * 64 * 64 * sizeof(double);  // two 64-wide records per pass
        AutoPlanOptions options;
        options.target_bpw = 7.6;  // GGUF: rows of 64 and 172 rule out the K-quants, q8_0 embeddings stay
        options.loss = loss.toStdString();
        options.algorithm = algorithm.toStdString();

        const Transformer net(model);
        CalibrationOptions everything = calibration;
        everything.hessian_memory_bytes = uint64_t(1) << 40;
        const Calibration full = calibrate(net, evaluation_text(model_tokenizer(model), text), everything);
        AutoPlan before, streamed;
        const std::string before_error = error_message([&] { before = auto_plan(model, full, text, options); });
        QVERIFY2(before_error == "no error", before_error.c_str());
        const std::string streamed_error = error_message([&] { streamed = auto_plan_streaming(model, text, calibration, text, options); });
        QVERIFY2(streamed_error == "no error", streamed_error.c_str());

        QCOMPARE(plan_to_json(streamed.plan), plan_to_json(before.plan));
        QCOMPARE(streamed.allocation.choice, before.allocation.choice);
        QCOMPARE(streamed.allocation.predicted_loss, before.allocation.predicted_loss);
        const AllocationMemory& m = streamed.memory;
        qInfo("%s/%s: %lld records in %d calibration passes; peak %lld Hessian held by the allocation, calibration "
              "groups of at most %llu bytes (budget %llu) instead of %llu bytes for all",
              qPrintable(loss), qPrintable(algorithm), (long long)m.records, m.calibration_passes,
              (long long)m.peak_hessians_held, (unsigned long long)m.peak_group_hessian_bytes,
              (unsigned long long)calibration.hessian_memory_bytes, (unsigned long long)m.all_hessian_bytes);
        QCOMPARE(m.records, int64_t(full.records.size()));
        QCOMPARE(m.peak_hessians_held, int64_t(1));
        QVERIFY(m.calibration_passes > 1);
        QVERIFY(m.peak_group_hessian_bytes <= std::max<uint64_t>(calibration.hessian_memory_bytes, 172 * 172 * sizeof(double)));
        QVERIFY(m.all_hessian_bytes > 4 * m.peak_group_hessian_bytes);
    }

    void streaming_allocation_holds_one_hessian_and_chooses_the_same_plan_data() {
        QTest::addColumn<QString>("loss");
        QTest::addColumn<QString>("algorithm");
        QTest::newRow("hessian loss, rtn") << "hessian" << "rtn";
        QTest::newRow("hessian loss, imatrix (importance from diag H)") << "hessian" << "imatrix";
        QTest::newRow("measured KLD, rtn") << "kld" << "rtn";
    }
};

QTEST_GUILESS_MAIN(AllocationTest)
#include "tst_allocation.moc"
