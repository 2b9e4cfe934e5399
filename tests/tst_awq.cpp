// AWQ end to end: folding 1/s into the producers of the layers' inputs (core/pipeline/awq_folding.h) leaves the
// network's function unchanged (random scales, no quantization: stories260K, a GQA llama, a LayerNorm gpt2 with
// fused qkv and biases); AWQ runs through the quantize pipeline to GGUF and safetensors files that round-trip and
// evaluate like any other; at int3/int4 with groups of 32 it beats round-to-nearest on stories260K; groups that
// cannot fold (a non-gated MLP's ffn_down, mixed algorithms on one input) fall back to rtn with the reason.
#include <QtTest>

#include <cmath>
#include <random>

#include "core/analysis/calibration.h"
#include "core/pipeline/awq_folding.h"
#include "core/pipeline/quantize_job.h"
#include "core/plan/quant_plan.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "tests/support/synthetic_model.h"
#include "tests/support/test_data.h"

using namespace qb;

namespace {

using qbtest::stories260k_model;

std::string snippet_path() { return qbtest::data_path("text/tinystories-snippet-30k.txt").string(); }

// In-memory f32 model of an architecture (random weights): "gpt2" (LayerNorm, fused qkv, biases, non-gated
// MLP) or "llama" (GQA 4/2, SwiGLU), with norm weights spread wider than the forward tests'.
Model synthetic(const std::string& architecture) {
    qbtest::SyntheticSpec spec = architecture == "gpt2" ? qbtest::gpt2_spec() : qbtest::llama_gqa_spec();
    spec.norm_spread = 0.3f;
    spec.seed = 7;
    return qbtest::synthetic_model(spec);
}

// Log-uniform scales in [1/8, 8] for every group that can fold.
std::vector<std::vector<float>> random_scales(const std::vector<AwqFoldGroup>& groups, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> exponent(-3.0f, 3.0f);
    std::vector<std::vector<float>> scales;
    for (const AwqFoldGroup& g : groups) {
        scales.emplace_back();
        if (!g.problem.empty()) continue;
        for (size_t c = 0; c < g.channel_of.size(); ++c) scales.back().push_back(std::exp2(exponent(rng)));
    }
    return scales;
}

WeightOverrides folded_weights(const Model& model, const AwqFolding& folding) {
    WeightOverrides overrides;
    for (const auto& [name, fold] : folding.tensors) {
        const TensorView& t = model.tensor(name);
        overrides.emplace(name, folding.apply(name, t.shape, t.to_f32(), true));
    }
    return overrides;
}

// max |folded - base| / max |base| over the logits of a few positions.
double relative_logit_change(const Model& model, const AwqFolding& folding, std::vector<int32_t> tokens) {
    const Transformer net(model);
    const WeightOverrides overrides = folded_weights(model, folding);
    ForwardOptions with;
    with.overrides = &overrides;
    const std::vector<float> base = net.forward(tokens), folded = net.forward(tokens, with);
    double largest = 0, change = 0;
    for (size_t i = 0; i < base.size(); ++i) {
        largest = std::max(largest, double(std::abs(base[i])));
        change = std::max(change, double(std::abs(folded[i] - base[i])));
    }
    return change / largest;
}

std::vector<int32_t> some_tokens(int64_t vocab, int count) {
    std::vector<int32_t> t;
    for (int i = 0; i < count; ++i) t.push_back(int32_t((i * 37 + 1) % vocab));
    return t;
}

QuantPlan awq_plan(const std::string& format, const std::string& algorithm) {
    QuantPlan plan = uniform_plan(format);
    plan.name = format + "+" + algorithm;
    plan.fallback = true;
    plan.defaults.algorithm = algorithm;
    return plan;
}

RunResult run_stories(const QuantPlan& plan, PlanTarget target, const std::string& output) {
    QuantizeJobOptions options;
    options.output = qbtest::scratch_dir() / output;
    options.calibration_text = read_text_file(snippet_path());
    options.calibration.tokens = 8192;
    options.evaluation_text = read_text_file(snippet_path());
    return run_quantize_job(stories260k_model(), plan, resolve_plan(plan, stories260k_model(), target), options);
}

Calibration synthetic_calibration(const Model& model) {
    const Transformer net(model);
    CalibrationOptions options;
    options.ctx = 32;
    options.tokens = 128;
    options.full_hessian = false;
    return calibrate(net, EvalText{some_tokens(model.hparams.n_vocab, 128), -1}, options);
}

}  // namespace

class AwqTest : public QObject {
    Q_OBJECT

private slots:
    void folding_random_scales_leaves_stories260K_logits_unchanged() {
        const std::vector<AwqFoldGroup> groups = awq_fold_groups(stories260k_model());
        QCOMPARE(groups.size(), size_t(4 * 5));
        for (const AwqFoldGroup& g : groups) QVERIFY2(g.problem.empty(), qPrintable(QString::fromStdString(g.name + ": " + g.problem)));
        const AwqFolding folding = fold_awq_scales(groups, random_scales(groups, 1));
        // Every norm, v and up divided; every linear layer of the blocks scaled (GQA: 8 query heads on 4 kv heads).
        QVERIFY(!folding.find("blk.4.attn_norm")->row_divisors.empty());
        QCOMPARE(folding.find("blk.0.attn_v")->row_divisors.size(), size_t(32));
        QCOMPARE(folding.find("blk.0.attn_output")->column_scales.size(), size_t(64));
        QCOMPARE(folding.find("blk.0.ffn_up")->row_divisors.size(), size_t(172));
        // Query heads 2h and 2h+1 read kv head h: their columns of attn_output share one scale.
        const std::vector<float>& o = folding.find("blk.0.attn_output")->column_scales;
        for (int64_t d = 0; d < 8; ++d) QCOMPARE(o[size_t(d)], o[size_t(8 + d)]);
        const double change = relative_logit_change(stories260k_model(), folding, some_tokens(512, 24));
        qInfo("stories260K, random scales in [1/8, 8] folded: max |logit change| / max |logit| = %.2e", change);
        QVERIFY2(change < 1e-5, qPrintable(QString::number(change)));
    }

    void folding_is_exact_for_layernorm_fused_qkv_biases_and_gqa() {
        for (const std::string architecture : {"gpt2", "llama"}) {
            const Model model = synthetic(architecture);
            const std::vector<AwqFoldGroup> groups = awq_fold_groups(model);
            const AwqFolding folding = fold_awq_scales(groups, random_scales(groups, 2));
            if (architecture == "gpt2") {
                QVERIFY(folding.find("blk.0.attn_norm.bias"));         // LayerNorm: bias divided too
                QVERIFY(folding.find("blk.0.attn_qkv.bias"));          // v's part of the fused bias
                QCOMPARE(folding.find("blk.0.attn_qkv")->row_divisors[0], 1.0f);  // q rows untouched
                QVERIFY(!folding.find("blk.0.ffn_down"));              // non-gated: not folded
            }
            const double change = relative_logit_change(model, folding, some_tokens(50, 20));
            qInfo("%s: max relative logit change %.2e", architecture.c_str(), change);
            QVERIFY2(change < 1e-5, qPrintable(QString::fromStdString(architecture) + " " + QString::number(change)));
        }
    }

    void non_gated_ffn_down_cannot_fold_and_takes_rtn_with_the_reason() {
        const Model model = synthetic("gpt2");
        const std::vector<AwqFoldGroup> groups = awq_fold_groups(model);
        QVERIFY(groups[3].name == "blk.0.ffn_out");
        QVERIFY(groups[3].problem.find("nonlinear") != std::string::npos);
        std::vector<std::vector<float>> scales(groups.size());
        scales[3].assign(72, 2.0f);
        QVERIFY_THROWS_EXCEPTION(Error, fold_awq_scales(groups, scales));

        const ResolvedPlan resolved = resolve_plan(awq_plan("int4_pc_asym", "awq"), model, PlanTarget::Analysis);
        const Calibration calibration = synthetic_calibration(model);
        const AwqFolding folding = plan_awq_folding(model, resolved, &calibration);
        QCOMPARE(folding.algorithm_for("blk.0.ffn_down", "awq"), std::string("rtn"));
        QVERIFY(folding.unscaled.at("blk.1.ffn_down").find("nonlinear") != std::string::npos);
        QCOMPARE(folding.algorithm_for("blk.0.attn_qkv", "awq"), std::string("awq"));
        QCOMPARE(folding.input_scales("blk.0.attn_qkv").size(), size_t(32));
        QVERIFY(folding.find("blk.0.attn_norm.bias"));
        QVERIFY(folding.unscaled.count("token_embd"));  // nothing to fold an embedding's scales into
        // Searched scales folded without quantization keep the function too.
        const double change = relative_logit_change(model, folding, some_tokens(50, 20));
        QVERIFY2(change < 1e-5, qPrintable(QString::number(change)));
    }

    void consumers_of_one_input_with_other_algorithms_keep_awq_unscaled() {
        const Model model = synthetic("llama");
        QuantPlan plan = awq_plan("int4_pc_asym", "awq");
        plan.overrides["blk.0.attn_k"] = PlanChoice{};
        plan.overrides["blk.0.attn_k"].format = "int4_pc_asym";
        plan.overrides["blk.0.attn_k"].algorithm = "rtn";
        const ResolvedPlan resolved = resolve_plan(plan, model, PlanTarget::Analysis);
        const Calibration calibration = synthetic_calibration(model);
        const AwqFolding folding = plan_awq_folding(model, resolved, &calibration);
        QVERIFY(folding.unscaled.at("blk.0.attn_q").find("blk.0.attn_k (rtn)") != std::string::npos);
        QCOMPARE(folding.algorithm_for("blk.0.attn_v", "awq"), std::string("rtn"));
        QVERIFY(!folding.find("blk.0.attn_norm"));
        QCOMPARE(folding.algorithm_for("blk.1.attn_q", "awq"), std::string("awq"));
        QCOMPARE(folding.algorithm_for("blk.0.ffn_down", "awq"), std::string("awq"));  // gated: folds into ffn_up
        QCOMPARE(folding.find("blk.0.ffn_up")->row_divisors.size(), size_t(72));
    }

    void awq_beats_rtn_at_int3_and_int4_groups_of_32_through_the_exported_file() {
        for (const std::string format : {"int4_g32_asym", "int3_g32_asym"}) {
            const RunResult rtn = run_stories(awq_plan(format, "rtn"), PlanTarget::SafetensorsFake, format + "-rtn");
            const RunResult awq = run_stories(awq_plan(format, "awq"), PlanTarget::SafetensorsFake, format + "-awq");
            QCOMPARE(awq.roundtrip.tensors, rtn.roundtrip.tensors);
            QVERIFY(awq.roundtrip.max_logit_diff <= awq.roundtrip.logit_tolerance);
            for (const TensorRun& t : awq.tensors)
                if (t.name == "blk.0.attn_q") QCOMPARE(t.algorithm, std::string("awq"));
            qInfo("%s on stories260K (safetensors, snippet ppl, base %.4f): rtn %.4f, awq %.4f", format.c_str(),
                  rtn.evaluation.base_ppl, rtn.evaluation.ppl, awq.evaluation.ppl);
            QVERIFY2(awq.evaluation.ppl < rtn.evaluation.ppl,
                     qPrintable(QString("%1: awq %2, rtn %3").arg(QString::fromStdString(format)).arg(awq.evaluation.ppl).arg(rtn.evaluation.ppl)));
        }
    }

    void awq_gguf_round_trips_byte_for_byte_and_evaluates_the_reloaded_file() {
        const RunResult rtn = run_stories(awq_plan("q4_0", "rtn"), PlanTarget::Gguf, "q4_0-rtn.gguf");
        const RunResult awq = run_stories(awq_plan("q4_0", "awq"), PlanTarget::Gguf, "q4_0-awq.gguf");
        QCOMPARE(awq.roundtrip.exact_tensors, awq.roundtrip.tensors);
        QCOMPARE(awq.roundtrip.max_logit_diff, 0.0);
        QCOMPARE(awq.file_bytes, rtn.file_bytes);  // folding changes values, not sizes
        QVERIFY(awq.evaluation.done);
        qInfo("q4_0 (fallback where rows do not fit) GGUF on stories260K: rtn %.4f, awq %.4f (base %.4f)",
              rtn.evaluation.ppl, awq.evaluation.ppl, awq.evaluation.base_ppl);
        QVERIFY(awq.evaluation.ppl < rtn.evaluation.ppl * 1.01);
    }
};

QTEST_GUILESS_MAIN(AwqTest)
#include "tst_awq.moc"
