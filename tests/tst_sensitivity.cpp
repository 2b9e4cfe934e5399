#include <QtTest>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/analysis/sensitivity.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "core/store/analysis_file.h"
#include "tests/support/run_process.h"
#include "tests/support/synthetic_model.h"
#include "tests/support/test_data.h"
#include "tests/support/error_text.h"

using namespace qb;

namespace {

// A model with its calibration (wiki.valid.tokens, 8 chunks of 128) and evaluation text (TinyStories).
struct Calibrated {
    Model model;
    Transformer net;
    EvalText calibration_text, evaluation_text;
    Calibration calibration;

    Calibrated(Model m, const Tokenizer& tokenizer)
        : model(std::move(m)), net(model),
          calibration_text(qb::evaluation_text(tokenizer, qbtest::read_text("text/wiki.valid.tokens", 20000))),
          evaluation_text(qb::evaluation_text(tokenizer, qbtest::tinystories_snippet())) {
        CalibrationOptions options;
        options.ctx = 128;
        options.tokens = 8 * 128;
        calibration = calibrate(net, calibration_text, options);
    }
};

Calibrated& stories() {
    static Calibrated c(load_model(qbtest::stories260k("gguf")), qbtest::stories260k_tokenizer());
    return c;
}

// Llama layers 256 wide (K-quant rows fit), random weights, stories260K's vocabulary size and tokenizer.
Calibrated& wide() {
    static Calibrated c = [] {
        const auto folder = qbtest::scratch_dir() / "wide-llama";
        qbtest::write_synthetic_llama(folder, {.vocab = 512, .embd = 256, .ff = 512, .layers = 1, .heads = 4, .heads_kv = 4, .dtype = "F32"});
        return Calibrated(load_model(folder), qbtest::stories260k_tokenizer());
    }();
    return c;
}

const SensitivityEntry& entry(const SensitivityResult& r, const std::string& tensor, const std::string& format) {
    for (const SensitivityEntry& e : r.entries)
        if (e.tensor == tensor && e.format == format) return e;
    throw Error("test", "no entry " + tensor + " " + format);
}

}  // namespace

class SensitivityTest : public QObject {
    Q_OBJECT
private slots:
    void spearman_rho_averages_tied_ranks() {
        const std::vector<double> a{1, 2, 3, 4, 5}, b{5, 6, 7, 8, 7}, reversed{9, 7, 5, 3, 1};
        QCOMPARE(spearman_rho(a, a), 1.0);
        QCOMPARE(spearman_rho(a, reversed), -1.0);
        // ranks of b: 1 2 3.5 5 3.5 -> cov 8, variances 10 and 9.5
        QVERIFY(std::abs(spearman_rho(a, b) - 8 / std::sqrt(95.0)) < 1e-15);
        QVERIFY(std::isnan(spearman_rho(a, std::vector<double>(5, 1.0))));
        QVERIFY(std::isnan(spearman_rho(std::vector<double>{1}, std::vector<double>{2})));
    }

    void hessian_weighted_error_equals_the_direct_quadratic_form() {
        SensitivityOptions options;
        options.formats = {"q4_0", "int3_pc_asym_clip"};
        options.tensors = {"blk.1.attn_k", "blk.3.ffn_down"};
        options.measure = false;
        const SensitivityResult r = analyze_sensitivity(stories().net, hessian_source(stories().calibration),
                                                        stories().evaluation_text, options);
        QCOMPARE(r.entries.size(), size_t(3));  // ffn_down's rows of 172 do not fit q4_0
        for (const SensitivityEntry& e : r.entries) {
            const ActivationStats& input = stories().calibration.input_of(e.tensor);
            const HessianMatrix& h = *input.hessian;
            const std::vector<float> w = stories().net.weight(e.tensor);
            const int64_t d = h.dim, rows = int64_t(w.size()) / d;
            std::vector<float> importance;
            for (double v : input.mean_sq) importance.push_back(float(v));
            const FormatInfo& format = format_by_name(e.format);
            const std::vector<float> decoded =
                decode_tensor(format, encode_tensor(format, w, rows, d, importance.data()), rows, d);
            double quadratic = 0, squared = 0;
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t i = 0; i < d; ++i) {
                    const double di = double(decoded[size_t(r * d + i)]) - w[size_t(r * d + i)];
                    squared += di * di;
                    for (int64_t j = 0; j < d; ++j) quadratic += di * h.at(i, j) * (double(decoded[size_t(r * d + j)]) - w[size_t(r * d + j)]);
                }
            QVERIFY2(std::abs(e.hessian_error - quadratic) <= 1e-5 * quadratic,
                     qPrintable(QString("%1 %2: %3 vs %4").arg(QString::fromStdString(e.tensor), QString::fromStdString(e.format))
                                    .arg(e.hessian_error).arg(quadratic)));
            QVERIFY(std::abs(e.hawq - h.trace() * squared / double(d)) <= 1e-6 * e.hawq);
            QVERIFY(std::abs(e.mse - squared / double(w.size())) <= 1e-6 * e.mse);
            QCOMPARE(e.bits_per_weight, format.bits_per_weight(rows, d));
            QVERIFY(std::isnan(e.delta_ppl) && std::isnan(e.mean_kld));
        }
        QCOMPARE(r.skipped.size(), size_t(1));
        QCOMPARE(r.skipped[0].tensor, std::string("blk.3.ffn_down"));
        QCOMPARE(r.skipped[0].problem, std::string("row length 172 is not a multiple of q4_0's block of 32"));
        QVERIFY(r.correlations.empty());
    }

    // stories260K's rows (64, 172) fit no K-quant, so q2_k is measured on a 256-wide random-weight Llama (base ppl
    // 492 on TinyStories). Measured: q8_0 delta ppl 9e-5 (attn_v) and 0.025 (ffn_down), q2_k 0.31 and 1.19;
    // mean KLD 1e-6 against 2e-3.
    void measured_delta_ppl_is_tiny_for_q8_0_and_larger_for_q2_k() {
        SensitivityOptions options;
        options.formats = {"q8_0", "q2_k"};
        options.tensors = {"blk.0.attn_v", "blk.0.ffn_down"};
        const SensitivityResult r = analyze_sensitivity(wide().net, hessian_source(wide().calibration), wide().evaluation_text, options);
        QCOMPARE(r.entries.size(), size_t(4));
        QCOMPARE(r.eval_tokens, int64_t(4 * 63));
        for (const char* tensor : {"blk.0.attn_v", "blk.0.ffn_down"}) {
            const SensitivityEntry& q8 = entry(r, tensor, "q8_0");
            const SensitivityEntry& q2 = entry(r, tensor, "q2_k");
            QVERIFY2(std::abs(q8.delta_ppl) < 2e-4 * r.base_ppl, qPrintable(QString::number(q8.delta_ppl)));
            QVERIFY2(std::abs(q2.delta_ppl) > 3 * std::abs(q8.delta_ppl), qPrintable(QString::number(q2.delta_ppl)));
            QVERIFY(q2.mean_kld > 100 * q8.mean_kld);
            QVERIFY(q2.hessian_error > 100 * q8.hessian_error);
        }
    }

    // The full default table: 263 (tensor, format) entries measured on 4 chunks of 128 TinyStories tokens.
    // Measured: rho(hessian_error, mean_kld) = 0.78 over all entries (the formats' bit widths dominate), 0.21 to
    // 0.42 within one format (the layer-output error misses how much the network amplifies it: attn_q/k errors
    // are damped by the softmax, the classifier's hit the logits directly). Against delta_ppl rho is only about
    // 0.15 on this slice: small perturbations move ppl by noise; 16 chunks raise it to 0.39.
    void hessian_estimate_ranks_tensors_like_the_measured_kld_on_stories260k() {
        const SensitivityResult r =
            analyze_sensitivity(stories().net, hessian_source(stories().calibration), stories().evaluation_text, {});
        QCOMPARE(r.entries.size() + r.skipped.size(), size_t(36 * 13));
        const double overall = r.spearman("hessian_error", "mean_kld");
        qInfo("rho(hessian_error, mean_kld) %.3f, rho(hessian_error, delta_ppl) %.3f, n %zu", overall,
              r.spearman("hessian_error", "delta_ppl"), r.entries.size());
        QVERIFY2(overall > 0.65, qPrintable(QString::number(overall)));
        QVERIFY(r.spearman("hawq", "mean_kld") > 0.65);
        for (const RankCorrelation& c : r.correlations)
            if (c.estimate == "hessian_error" && c.target == "mean_kld" && c.count >= 30)
                QVERIFY2(c.rho > 0.1, qPrintable(QString::fromStdString(c.format) + " " + QString::number(c.rho)));
        for (const SensitivityEntry& e : r.entries) QVERIFY(e.mean_kld > 0 && e.hessian_error > 0);
    }

    void rejects_unknown_tensors_and_formats_and_missing_hessians() {
        SensitivityOptions options;
        options.measure = false;
        options.tensors = {"blk.0.attn_norm"};
        const HessianSource source = hessian_source(stories().calibration);
        QCOMPARE(error_of([&] { analyze_sensitivity(stories().net, source, stories().evaluation_text, options); }),
                 QString("sensitivity: no linear layer with calibration data multiplies 'blk.0.attn_norm'"));
        options.tensors = {"blk.0.attn_q"};
        options.formats = {"q9_9"};
        QVERIFY(error_of([&] { analyze_sensitivity(stories().net, source, stories().evaluation_text, options); })
                    .startsWith("format: unknown format 'q9_9'"));
        CalibrationOptions diagonal_only;
        diagonal_only.ctx = 64;
        diagonal_only.tokens = 64;
        diagonal_only.full_hessian = false;
        const Calibration calibration = calibrate(stories().net, stories().calibration_text, diagonal_only);
        options.formats = {"q8_0"};
        QCOMPARE(error_of([&] { analyze_sensitivity(stories().net, hessian_source(calibration), stories().evaluation_text, options); }),
                 QString("calibration: no full Hessian for blk.0.attn_qkv"));
    }

    void reports_progress_per_entry_and_can_be_cancelled() {
        SensitivityOptions options;
        options.measure = false;
        options.formats = {"q8_0", "q4_0"};
        options.tensors = {"blk.0.attn_q", "blk.0.ffn_down"};
        std::vector<double> fractions;
        JobControl control([&](double fraction, std::string_view) { fractions.push_back(fraction); });
        analyze_sensitivity(stories().net, hessian_source(stories().calibration), stories().evaluation_text, options, &control);
        QVERIFY(!fractions.empty());
        QCOMPARE(fractions.back(), 1.0);
        JobControl cancelled;
        cancelled.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, analyze_sensitivity(stories().net, hessian_source(stories().calibration),
                                                                stories().evaluation_text, options, &cancelled));
    }

    void cli_calibrates_then_measures_sensitivity_into_analysis_files() {
        const auto folder = qbtest::scratch_dir();
        const std::string model = qbtest::stories260k("gguf").string(), calibration = (folder / "cli-calib.qbh5").string(),
                          result = (folder / "cli-sensitivity.qbh5").string();
        auto r = qbtest::run_cli({"calibrate", model, "--text", qbtest::data_path("text/wiki.valid.tokens").string(), "--tokens", "512",
                                  "--ctx", "128", "--full-hessian", "--out", calibration, "--json"});
        QCOMPARE(r.exit_code, 0);
        QVERIFY2(r.err.empty(), r.err.c_str());  // no progress when stderr is not a terminal
        const auto calibrated = nlohmann::json::parse(r.out);
        QCOMPARE(calibrated["tokens"].get<int64_t>(), int64_t(512));
        QCOMPARE(calibrated["records"].size(), size_t(21));
        QCOMPARE(calibrated["records"][3]["record"].get<std::string>(), std::string("blk.0.ffn_down"));

        r = qbtest::run_cli({"sensitivity", model, "--calib", calibration, "--text",
                             qbtest::data_path("text/tinystories-snippet-30k.txt").string(), "--tensor", "^blk\\.4\\.",
                             "--formats", "q8_0,int4_pc_asym_clip", "--eval-chunks", "2", "--out", result, "--json"});
        QCOMPARE(r.exit_code, 0);
        const auto doc = nlohmann::json::parse(r.out);
        QCOMPARE(doc["entries"].size(), size_t(6 * 2 + 1));  // ffn_down: int4_pc only
        QCOMPARE(doc["skipped"].size(), size_t(1));
        QCOMPARE(doc["evaluation"]["tokens"].get<int64_t>(), int64_t(2 * 63));
        QVERIFY(doc["entries"][0]["mean_kld"].get<double>() > 0);
        const AnalysisFile file(result);
        QCOMPARE(file.sensitivity()->entries.size(), size_t(13));
        QCOMPARE(file.tensors().size(), size_t(7));
        QCOMPARE(string_attribute(file.hdf5(), "/", "calibration_file"), calibration);
        QVERIFY(string_attribute(file.hdf5(), "/", "command_line").starts_with("quantbench-cli sensitivity " + model));
    }

    void cli_rejects_a_calibration_without_full_hessians() {
        const std::string calibration = (qbtest::scratch_dir() / "cli-diagonal.qbh5").string();
        const std::string model = qbtest::stories260k("gguf").string();
        auto r = qbtest::run_cli({"calibrate", model, "--text", qbtest::data_path("text/wiki.valid.tokens").string(), "--tokens", "128",
                                  "--ctx", "128", "--out", calibration});
        QCOMPARE(r.exit_code, 0);
        r = qbtest::run_cli({"sensitivity", model, "--calib", calibration, "--text",
                             qbtest::data_path("text/tinystories-snippet-30k.txt").string()});
        QCOMPARE(r.exit_code, 1);
        QCOMPARE(r.err, "quantbench-cli sensitivity: " + calibration + ": has no full Hessians (run calibrate with --full-hessian)\n");
    }
};

QTEST_GUILESS_MAIN(SensitivityTest)
#include "tst_sensitivity.moc"
