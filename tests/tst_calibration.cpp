#include <QtTest>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/analysis/calibration.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/util/error.h"
#include "tests/support/run_process.h"
#include "tests/support/test_data.h"
#include "tests/support/error_text.h"

using namespace qb;

namespace {

// stories260K with the first 60 KB of the calibration text: about 25k tokens.
qbtest::LoadedModel& stories() {
    static qbtest::LoadedModel s(qbtest::stories260k("gguf"), qbtest::read_text("text/wiki.valid.tokens", 60000));
    return s;
}

CalibrationOptions small_run(int64_t tokens, int64_t ctx) {
    CalibrationOptions options;
    options.tokens = tokens;
    options.ctx = ctx;
    return options;
}

// The inputs every linear weight received over the chunks calibrate() runs, by weight name: rows of tokens.
std::map<std::string, std::vector<float>> hooked_inputs(const EvalText& text, int64_t chunks, int64_t ctx) {
    std::map<std::string, std::vector<float>> inputs;
    ForwardOptions forward;
    forward.on_linear_input = [&](const std::string& tensor, const float* x, int64_t rows, int64_t cols) {
        inputs[tensor].insert(inputs[tensor].end(), x, x + rows * cols);
    };
    for (int64_t c = 0; c < chunks; ++c) {
        std::vector<int32_t> chunk(text.tokens.begin() + c * ctx, text.tokens.begin() + (c + 1) * ctx);
        chunk[0] = text.bos_id;
        stories().net.forward(chunk, forward);
    }
    return inputs;
}

double max_abs(const std::vector<double>& v) {
    double m = 0;
    for (double x : v) m = std::max(m, std::abs(x));
    return m;
}

}  // namespace

class CalibrationTest : public QObject {
    Q_OBJECT
private slots:
    void hessian_accumulator_equals_naive_xtx_across_blocks() {
        // 1100 tokens cross two product blocks of 512, 300 channels cross three row blocks of 128.
        const int64_t tokens = 1100, dim = 300;
        std::mt19937 rng(7);
        std::normal_distribution<float> normal;
        std::vector<float> x(size_t(tokens * dim));
        for (float& v : x) v = normal(rng);
        HessianAccumulator accumulator(dim);
        accumulator.add(x.data(), 700, 2);
        accumulator.add(x.data() + 700 * dim, tokens - 700, 2);
        const HessianMatrix h = std::move(accumulator).finish();
        QCOMPARE(h.tokens, tokens);
        double worst = 0;
        for (int64_t i = 0; i < dim; ++i)
            for (int64_t j = 0; j < dim; ++j) {
                double sum = 0;
                for (int64_t t = 0; t < tokens; ++t) sum += double(x[size_t(t * dim + i)]) * x[size_t(t * dim + j)];
                worst = std::max(worst, std::abs(h.at(i, j) - sum / double(tokens)));
                QCOMPARE(h.at(i, j), h.at(j, i));
            }
        QVERIFY2(worst < 1e-5, qPrintable(QString::number(worst)));  // entries are O(1); f32 sums of <= 512 terms
        double trace = 0;
        for (int64_t i = 0; i < dim; ++i) trace += h.at(i, i);
        QCOMPARE(h.trace(), trace);
    }

    void hessian_equals_xtx_of_hooked_activations() {
        const int64_t ctx = 64, chunks = 3;
        const Calibration calibration = calibrate(stories().net, stories().text, small_run(chunks * ctx, ctx), nullptr, 2);
        const auto inputs = hooked_inputs(stories().text, chunks, ctx);
        for (const char* tensor : {"blk.0.attn_q", "blk.3.attn_output", "blk.4.ffn_gate", "blk.1.ffn_down", "output"}) {
            const ActivationStats& s = calibration.input_of(tensor);
            const std::vector<float>& x = inputs.at(tensor);
            const int64_t d = s.channels, n = int64_t(x.size()) / d;
            QCOMPARE(n, chunks * ctx);
            QVERIFY(s.hessian.has_value());
            QCOMPARE(s.hessian->dim, d);
            std::vector<double> expected(size_t(d * d));
            for (int64_t t = 0; t < n; ++t)
                for (int64_t i = 0; i < d; ++i)
                    for (int64_t j = 0; j < d; ++j) expected[size_t(i * d + j)] += double(x[size_t(t * d + i)]) * x[size_t(t * d + j)];
            for (double& e : expected) e /= double(n);
            const double scale = max_abs(expected);
            for (size_t k = 0; k < expected.size(); ++k)
                QVERIFY2(std::abs(s.hessian->values[k] - expected[k]) <= 1e-6 * scale,
                         qPrintable(QString("%1 entry %2: %3 vs %4").arg(tensor).arg(k).arg(s.hessian->values[k]).arg(expected[k])));
        }
    }

    void inputs_shared_by_several_weights_form_one_record() {
        const int64_t ctx = 32;
        const Calibration calibration = calibrate(stories().net, stories().text, small_run(ctx, ctx));
        QCOMPARE(calibration.records.size(), size_t(5 * 4 + 1));
        QCOMPARE(calibration.run.records.size(), calibration.records.size());
        const ActivationStats& qkv = calibration.input_of("blk.2.attn_v");
        QCOMPARE(qkv.record, std::string("blk.2.attn_qkv"));
        QCOMPARE(qkv.tensors, (std::vector<std::string>{"blk.2.attn_q", "blk.2.attn_k", "blk.2.attn_v"}));
        QCOMPARE(&calibration.input_of("blk.2.attn_q"), &qkv);
        QCOMPARE(calibration.input_of("blk.2.ffn_gate").record, std::string("blk.2.ffn_up"));
        QCOMPARE(calibration.input_of("blk.2.ffn_gate").tensors, (std::vector<std::string>{"blk.2.ffn_up", "blk.2.ffn_gate"}));
        QCOMPARE(calibration.input_of("blk.2.ffn_down").channels, int64_t(172));
        QCOMPARE(calibration.records.back().record, std::string("output"));  // the classifier (tied: a view of token_embd)
        QCOMPARE(input_record_name("blk.7.attn_qkv"), std::string("blk.7.attn_qkv"));  // a fused tensor names its own input

        const auto inputs = hooked_inputs(stories().text, 1, ctx);
        QCOMPARE(inputs.at("blk.2.attn_k"), inputs.at("blk.2.attn_q"));
        QCOMPARE(inputs.at("blk.2.attn_v"), inputs.at("blk.2.attn_q"));
        QCOMPARE(inputs.at("blk.2.ffn_gate"), inputs.at("blk.2.ffn_up"));
        QVERIFY(inputs.at("blk.2.attn_output") != inputs.at("blk.2.attn_q"));
    }

    void activation_statistics_equal_brute_force() {
        const int64_t ctx = 64, chunks = 4;
        CalibrationOptions options = small_run(chunks * ctx, ctx);
        options.outlier_threshold = 1.0;  // stories260K's activations rarely pass 6
        options.histogram_bins = 50;
        options.token_map = {16, 10, HeatMapReduce::Max};
        const Calibration calibration = calibrate(stories().net, stories().text, options, nullptr, 2);
        const auto inputs = hooked_inputs(stories().text, chunks, ctx);
        for (const char* tensor : {"blk.1.ffn_down", "blk.4.attn_q"}) {
            const ActivationStats& s = calibration.input_of(tensor);
            const std::vector<float>& x = inputs.at(tensor);
            const int64_t d = s.channels, n = int64_t(x.size()) / d;
            QCOMPARE(s.tokens, n);

            std::vector<float> abs_max(static_cast<size_t>(d));
            std::vector<double> mean_abs(static_cast<size_t>(d)), mean_sq(static_cast<size_t>(d));
            std::vector<int64_t> outliers(static_cast<size_t>(d));
            double sum = 0;
            for (int64_t t = 0; t < n; ++t)
                for (int64_t c = 0; c < d; ++c) {
                    const float v = x[size_t(t * d + c)];
                    abs_max[size_t(c)] = std::max(abs_max[size_t(c)], std::abs(v));
                    mean_abs[size_t(c)] += std::abs(v) / double(n);
                    mean_sq[size_t(c)] += double(v) * v / double(n);
                    outliers[size_t(c)] += std::abs(v) > 1.0f;
                    sum += v;
                }
            QCOMPARE(s.abs_max, abs_max);
            QCOMPARE(s.outlier_tokens, outliers);
            QCOMPARE(s.outlier_channels, int64_t(std::count_if(outliers.begin(), outliers.end(), [](int64_t k) { return k > 0; })));
            QVERIFY(s.outlier_channels > 0);
            double trace = 0;
            for (int64_t c = 0; c < d; ++c) {
                QVERIFY(std::abs(s.mean_abs[size_t(c)] - mean_abs[size_t(c)]) <= 1e-12 * mean_abs[size_t(c)]);
                QVERIFY(std::abs(s.mean_sq[size_t(c)] - mean_sq[size_t(c)]) <= 1e-12 * mean_sq[size_t(c)]);
                QVERIFY(std::abs(s.hessian->at(c, c) - mean_sq[size_t(c)]) <= 1e-6 * mean_sq[size_t(c)]);
                trace += s.mean_sq[size_t(c)];
            }
            QCOMPARE(s.hessian_trace, trace);
            QCOMPARE(s.moments.count, n * d);
            QVERIFY(std::abs(s.moments.mean - sum / double(n * d)) < 1e-12);

            // Histograms: the same edges, counted by comparison.
            std::vector<uint64_t> counts(s.histogram.counts.size()), abs_counts(s.abs_histogram.counts.size());
            const auto& edges = s.histogram.edges;
            for (float v : x) {
                const auto bin = std::upper_bound(edges.begin(), edges.end(), double(v)) - edges.begin() - 1;
                ++counts[size_t(std::min<int64_t>(bin, int64_t(counts.size()) - 1))];
            }
            QCOMPARE(s.histogram.counts, counts);
            float first_chunk_abs_max = 0;  // the range is twice the first chunk's |x| max
            for (int64_t k = 0; k < ctx * d; ++k) first_chunk_abs_max = std::max(first_chunk_abs_max, std::abs(x[size_t(k)]));
            QCOMPARE(s.histogram.edges.back(), 2.0 * first_chunk_abs_max);
            QCOMPARE(s.histogram.edges.front(), -2.0 * first_chunk_abs_max);
            QCOMPARE(s.abs_histogram.total(), uint64_t(n * d));
            QCOMPARE(s.abs_histogram.scale, HistogramScale::LogAbs);

            // Channels × tokens map of max |x|.
            const HeatMap& map = s.token_map;
            QCOMPARE(map.cell_rows(), int64_t(16));
            QCOMPARE(map.cell_cols(), int64_t(10));
            QCOMPARE(map.row_edges.back(), d);
            QCOMPARE(map.col_edges.back(), n);
            for (int64_t i = 0; i < map.cell_rows(); ++i)
                for (int64_t j = 0; j < map.cell_cols(); ++j) {
                    float expected = 0;
                    for (int64_t c = map.row_edges[size_t(i)]; c < map.row_edges[size_t(i) + 1]; ++c)
                        for (int64_t t = map.col_edges[size_t(j)]; t < map.col_edges[size_t(j) + 1]; ++t)
                            expected = std::max(expected, std::abs(x[size_t(t * d + c)]));
                    QCOMPARE(map.at(i, j), expected);
                }
        }
    }

    void counts_every_position_of_the_whole_chunks_the_text_holds() {
        const int64_t ctx = 512;
        const EvalText text = evaluation_text(model_tokenizer(stories().model), qbtest::read_text("text/wiki.valid.tokens", 8000));
        const int64_t available = int64_t(text.tokens.size()) / ctx;
        QVERIFY(available >= 4);
        CalibrationOptions options = small_run(1'000'000, ctx);
        options.full_hessian = false;
        const Calibration all = calibrate(stories().net, text, options);
        QCOMPARE(all.run.chunks, available);
        QCOMPARE(all.run.tokens, available * ctx);
        for (const ActivationStats& s : all.records) {
            QCOMPARE(s.tokens, available * ctx);
            QVERIFY(!s.hessian);
        }
        options.tokens = 3 * ctx + 100;  // the rest of a chunk is dropped
        const Calibration three = calibrate(stories().net, text, options);
        QCOMPARE(three.run.chunks, int64_t(3));
        QCOMPARE(three.records[0].tokens, int64_t(3 * ctx));
    }

    void hessians_in_several_passes_equal_one_pass() {
        const int64_t ctx = 64;
        CalibrationOptions options = small_run(2 * ctx, ctx);
        const Calibration one = calibrate(stories().net, stories().text, options, nullptr, 1);
        QCOMPARE(one.run.passes, 1);
        options.hessian_memory_bytes = 64 * 64 * 8 * 3;  // three 64-channel records per pass, ffn_down alone
        std::vector<std::string> order;
        std::vector<ActivationStats> streamed;
        const CalibrationRun run = calibrate(stories().net, stories().text, options, [&](ActivationStats&& s) {
            order.push_back(s.record);
            streamed.push_back(std::move(s));
        }, nullptr, 2);
        QVERIFY2(run.passes > 5, qPrintable(QString::number(run.passes)));
        QCOMPARE(order, run.records);
        for (size_t i = 0; i < streamed.size(); ++i) {
            QCOMPARE(streamed[i].hessian->values, one.records[i].hessian->values);  // bit for bit, any thread count
            QCOMPARE(streamed[i].mean_sq, one.records[i].mean_sq);
            QCOMPARE(streamed[i].histogram.counts, one.records[i].histogram.counts);
        }
    }

    void reports_progress_and_can_be_cancelled() {
        int calls = 0;
        JobControl control([&](double, std::string_view) { ++calls; });
        calibrate(stories().net, stories().text, small_run(4 * 32, 32), &control);
        QVERIFY(calls >= 4);
        JobControl cancelled;
        cancelled.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, calibrate(stories().net, stories().text, small_run(32, 32), &cancelled));
    }

    void rejects_text_shorter_than_one_chunk() {
        const EvalText text = evaluation_text(model_tokenizer(stories().model), "Once upon a time.");
        QCOMPARE(error_of([&] { calibrate(stories().net, text, small_run(512, 512)); }),
                 QString("calibration: text too short: %1 tokens, but one chunk of 512 needs 512").arg(text.tokens.size()));
    }

    void rejects_bad_options() {
        QCOMPARE(error_of([] { calibrate(stories().net, stories().text, small_run(100, 128)); }),
                 QString("calibration: 100 tokens do not fill one chunk of 128"));
        QCOMPARE(error_of([] { calibrate(stories().net, stories().text, small_run(4096, 1024)); }),
                 QString("calibration: context of 1024 tokens exceeds the model's context of 512"));
        CalibrationOptions options = small_run(32, 32);
        options.histogram_margin = 0.5;
        QCOMPARE(error_of([&] { calibrate(stories().net, stories().text, options); }),
                 QString("calibration: histogram margin must be a finite number of at least 1"));
    }

    void cli_json_equals_the_core_calibration() {
        const auto r = qbtest::run_cli({"calibrate", qbtest::stories260k("gguf").string(), "--text",
                                        qbtest::data_path("text/wiki.valid.tokens").string(), "--tokens", "256", "--ctx", "64", "--json"});
        QCOMPARE(r.exit_code, 0);
        const auto doc = nlohmann::json::parse(r.out);
        const EvalText text = evaluation_text(model_tokenizer(stories().model), qbtest::read_text("text/wiki.valid.tokens"));
        CalibrationOptions options = small_run(256, 64);
        options.full_hessian = false;
        const Calibration expected = calibrate(stories().net, text, options);
        QCOMPARE(doc["chunks"].get<int64_t>(), int64_t(4));
        QCOMPARE(doc["passes"].get<int>(), 1);
        QCOMPARE(doc["records"].size(), expected.records.size());
        const auto& down = doc["records"][3];
        const ActivationStats& s = expected.records[3];
        QCOMPARE(down["record"].get<std::string>(), s.record);
        QCOMPARE(down["tensors"].get<std::vector<std::string>>(), s.tensors);
        QCOMPARE(down["abs_max"].get<double>(), double(*std::max_element(s.abs_max.begin(), s.abs_max.end())));
        QCOMPARE(down["hessian_trace"].get<double>(), s.hessian_trace);
        QCOMPARE(down["outlier_channels"].get<int64_t>(), s.outlier_channels);
        QCOMPARE(doc["text_sha256"].get<std::string>().size(), size_t(64));
    }

    void cli_rejects_bad_input_in_one_line() {
        const std::string model = qbtest::stories260k("gguf").string();
        const auto empty = qbtest::scratch_dir() / "empty.txt", short_text = qbtest::scratch_dir() / "short.txt";
        std::ofstream(empty).flush();
        std::ofstream(short_text) << "Once upon a time.";
        auto r = qbtest::run_cli({"calibrate", model, "--text", empty.string()});
        QCOMPARE(r.exit_code, 1);
        QCOMPARE(r.err, std::string("quantbench-cli calibrate: text: empty: there is nothing to evaluate\n"));
        r = qbtest::run_cli({"calibrate", model, "--text", short_text.string()});
        QCOMPARE(r.exit_code, 1);
        const size_t tokens = evaluation_text(model_tokenizer(stories().model), "Once upon a time.").tokens.size();
        QCOMPARE(r.err, "quantbench-cli calibrate: calibration: text too short: " + std::to_string(tokens) +
                            " tokens, but one chunk of 512 needs 512\n");
        const auto no_tokenizer = qbtest::scratch_copy(qbtest::stories260k("llama2c"), "stories260K-alone.bin");
        r = qbtest::run_cli({"calibrate", no_tokenizer.string(), "--text", short_text.string()});
        QCOMPARE(r.exit_code, 1);
        QCOMPARE(r.err, "quantbench-cli calibrate: " + no_tokenizer.string() + ": has no tokenizer, so text cannot be evaluated with it\n");
        r = qbtest::run_cli({"calibrate", model, "--text", "/nonexistent/text.txt"});
        QCOMPARE(r.err, std::string("quantbench-cli calibrate: /nonexistent/text.txt: cannot open the text file\n"));
        r = qbtest::run_cli({"calibrate", model});
        QCOMPARE(r.exit_code, 2);
        QCOMPARE(r.err, std::string("quantbench-cli calibrate: usage: calibrate needs --text FILE\n"));
        QVERIFY(r.out.empty());
    }
};

QTEST_GUILESS_MAIN(CalibrationTest)
#include "tst_calibration.moc"
