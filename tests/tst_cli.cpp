#include <QtTest>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "core/analysis/format_probe.h"
#include "core/analysis/outlier_cell.h"
#include "core/analysis/weight_stats.h"
#include "core/model/model.h"
#include "core/plan/presets.h"
#include "core/plan/sensitivity_assign.h"
#include "core/store/analysis_file.h"
#include "tests/support/run_process.h"
#include "tests/support/synthetic_model.h"
#include "tests/support/test_data.h"

using qbtest::run_cli;

namespace {

std::string text_path(const char* name) { return qbtest::data_path(std::string("text/") + name).string(); }

// calibrate + sensitivity (estimates only) of stories260K, once per run: the files the GUI opens.
struct AnalysisFiles {
    std::string calibration, sensitivity;
};
const AnalysisFiles& analysis_files() {
    static const AnalysisFiles files = [] {
        const std::string model = qbtest::stories260k("gguf").string();
        AnalysisFiles f{(qbtest::scratch_dir() / "cli-calibration.qbh5").string(),
                        (qbtest::scratch_dir() / "cli-sensitivity.qbh5").string()};
        auto r = run_cli({"calibrate", model, "--text", text_path("wiki.valid.tokens"), "--tokens", "4096", "--full-hessian",
                          "--out", f.calibration});
        if (r.exit_code != 0) qFatal("calibrate failed: %s", r.err.c_str());
        r = run_cli({"sensitivity", model, "--calib", f.calibration, "--text", text_path("tinystories-snippet-30k.txt"),
                     "--estimates-only", "--out", f.sensitivity});
        if (r.exit_code != 0) qFatal("sensitivity failed: %s", r.err.c_str());
        return f;
    }();
    return files;
}

}  // namespace

class CliTest : public QObject {
    Q_OBJECT
private slots:
    void inspect_lists_the_stories260k_tensor_table() {
        const auto r = run_cli({"inspect", qbtest::stories260k("llama2c").string()});
        QCOMPARE(r.exit_code, 0);
        QVERIFY2(r.out.find("architecture  llama\n") != std::string::npos, r.out.c_str());
        QVERIFY(r.out.find("dimensions    vocab 512, embd 64, layers 5, heads 8 (kv 4, head dim 8), ff 172, ctx 512") !=
                std::string::npos);
        QVERIFY(r.out.find("blk.4.ffn_down           ffn_down     64x172       f32            11008        44032") !=
                std::string::npos);
    }

    void inspect_json_describes_every_tensor() {
        const auto r = run_cli({"inspect", qbtest::stories260k("hf").string(), "--json"});
        QCOMPARE(r.exit_code, 0);
        const auto doc = nlohmann::json::parse(r.out);
        QCOMPARE(doc["architecture"].get<std::string>(), std::string("llama"));
        QCOMPARE(doc["parameters"].get<int64_t>(), int64_t(260032));
        QCOMPARE(doc["hparams"]["n_head_kv"].get<int>(), 4);
        QCOMPARE(doc["tensors"].size(), size_t(48));
        const auto& k = doc["tensors"][3];
        QCOMPARE(k["name"].get<std::string>(), std::string("blk.0.attn_k"));
        QCOMPARE(k["source_name"].get<std::string>(), std::string("model.layers.0.self_attn.k_proj.weight"));
        QCOMPARE(k["shape"], nlohmann::json({32, 64}));
        QCOMPARE(k["bytes"].get<int64_t>(), int64_t(32 * 64 * 4));
    }

    void stats_json_equals_the_core_analysis() {
        const auto model_path = qbtest::stories260k("gguf");
        const auto r = run_cli({"stats", model_path.string(), "--tensor", "^blk\\.2\\.ffn_up$", "--format", "q8_0,int4_g32_asym",
                                "--bins", "64", "--json"});
        QCOMPARE(r.exit_code, 0);
        const auto doc = nlohmann::json::parse(r.out);
        QCOMPARE(doc["tensors"].size(), size_t(1));
        const auto& t = doc["tensors"][0];

        const qb::Model model = qb::load_model(model_path);
        qb::WeightStatsOptions options;
        options.histograms[0].bins = 64;
        options.error_formats = {"q8_0", "int4_g32_asym"};
        const auto expected = qb::analyze_weights(model.tensor("blk.2.ffn_up"), options, nullptr, 1);
        QCOMPARE(t["moments"]["count"].get<int64_t>(), int64_t(172 * 64));
        QCOMPARE(t["moments"]["mean"].get<double>(), expected.moments.mean);
        QCOMPARE(t["moments"]["excess_kurtosis"].get<double>(), expected.moments.excess_kurtosis);
        QCOMPARE(t["histograms"][0]["counts"].size(), size_t(64));
        QCOMPARE(t["format_errors"].size(), size_t(2));
        QCOMPARE(t["format_errors"][0]["format"].get<std::string>(), std::string("q8_0"));
        QCOMPARE(t["format_errors"][0]["mse"].get<double>(), expected.format_errors[0].metrics.mse);
        QCOMPARE(t["format_errors"][1]["bits_per_weight"].get<double>(), 4.75);
    }

    void stats_probe_prints_cores_grid_levels_and_error_histogram() {
        const auto model_path = qbtest::stories260k("gguf");
        const auto r = run_cli({"stats", model_path.string(), "--tensor", "^blk\\.2\\.ffn_up$", "--format", "none",
                                "--probe", "q4_0", "--error-bins", "64", "--json"});
        QCOMPARE(r.exit_code, 0);
        const auto printed = nlohmann::json::parse(r.out)["tensors"][0]["probe"];

        const qb::Model model = qb::load_model(model_path);
        const qb::TensorView& view = model.tensor("blk.2.ffn_up");
        qb::WeightStatsOptions options;
        options.format_errors = false;
        const qb::WeightStats stats = qb::analyze_weights(view, options);
        qb::FormatProbeRequest request = qb::default_probe_request(stats, "q4_0");
        request.error_bins = 64;
        const qb::FormatProbe probe = qb::probe_format(view, request);
        QCOMPARE(printed, qb::to_json(probe));
        QCOMPARE(printed["row"].get<int64_t>(), stats.channels.top_rows.front().index);
        QVERIFY(printed["levels"].size() > 1 && printed["levels"].size() <= 16);  // 4-bit grid

        // Every weight is in the error histogram once; its mean and mean square are the exact ones
        // (core's error metrics for q4_0) up to the binning.
        const auto& h = printed["error_histogram"];
        const auto edges = h["edges"].get<std::vector<double>>();
        const auto counts = h["counts"].get<std::vector<uint64_t>>();
        uint64_t total = h["underflow"].get<uint64_t>() + h["overflow"].get<uint64_t>();
        double sum = 0, sum_sq = 0;
        for (size_t i = 0; i < counts.size(); ++i) {
            const double centre = (edges[i] + edges[i + 1]) / 2;
            total += counts[i];
            sum += double(counts[i]) * centre;
            sum_sq += double(counts[i]) * centre * centre;
        }
        QCOMPARE(total, uint64_t(view.rows() * view.cols()));
        const double width = edges[1] - edges[0], largest = edges.back();
        QVERIFY(std::abs(sum / double(total) - printed["mean_error"].get<double>()) <= width / 2);
        qb::WeightStatsOptions with_q4_0;
        with_q4_0.error_formats = {"q4_0"};
        const double mse = qb::analyze_weights(view, with_q4_0).format_errors[0].metrics.mse;
        QCOMPARE(printed["metrics"]["mse"].get<double>(), mse);
        QVERIFY(std::abs(sum_sq / double(total) - mse) <= width / 2 * (2 * largest + width / 2));
    }

    void stats_cell_prints_the_weights_behind_a_heat_map_cell() {
        const auto model_path = qbtest::stories260k("gguf");
        const auto r = run_cli({"stats", model_path.string(), "--tensor", "^blk\\.2\\.ffn_up$", "--cell", "3,5",
                                "--heatmap", "16x16", "--json"});
        QCOMPARE(r.exit_code, 0);
        const auto cell = nlohmann::json::parse(r.out)["tensors"][0]["cell"];
        // 172 x 64 over 16 x 16 cells: rows [floor(3·172/16), floor(4·172/16)) = [32, 43), columns [20, 24).
        QCOMPARE(cell["rows"], nlohmann::json({32, 11}));
        QCOMPARE(cell["cols"], nlohmann::json({20, 4}));
        const qb::Model model = qb::load_model(model_path);
        const qb::TensorView& view = model.tensor("blk.2.ffn_up");
        std::vector<float> row(size_t(view.cols()));
        float largest = 0;
        std::vector<int64_t> at;
        for (int64_t i = 0; i < 11; ++i) {
            view.read_rows(32 + i, 1, row.data());
            for (int64_t j = 0; j < 4; ++j) {
                QCOMPARE(cell["values"][size_t(i)][size_t(j)].get<float>(), row[size_t(20 + j)]);
                if (std::fabs(row[size_t(20 + j)]) > largest) {
                    largest = std::fabs(row[size_t(20 + j)]);
                    at = {32 + i, 20 + j};
                }
            }
        }
        QCOMPARE(cell["max_abs"].get<float>(), largest);
        QCOMPARE(cell["max_abs_at"].get<std::vector<int64_t>>(), at);
        // The text form prints the same values.
        const auto text = run_cli({"stats", model_path.string(), "--tensor", "^blk\\.2\\.ffn_up$", "--cell", "3,5",
                                   "--heatmap", "16x16"});
        QCOMPARE(text.exit_code, 0);
        QVERIFY2(text.out.find("rows 32..42 x columns 20..23") != std::string::npos, text.out.c_str());
    }

    void stats_cell_with_a_calibration_prints_the_activation_cell() {
        const auto model_path = qbtest::stories260k("gguf");
        const auto r = run_cli({"stats", model_path.string(), "--tensor", "^blk\\.1\\.ffn_down$", "--cell", "5,3",
                                "--calib", analysis_files().calibration, "--json"});
        QCOMPARE(r.exit_code, 0);
        const auto printed = nlohmann::json::parse(r.out)["tensors"][0]["activation_cell"];
        const qb::ActivationStats input = qb::AnalysisFile(analysis_files().calibration).activations("blk.1.ffn_down");
        QCOMPARE(printed, qb::to_json(qb::activation_cell(input, 5, 3)));
        const auto& map = input.token_map;
        QCOMPARE(printed["tokens"], nlohmann::json({map.col_edges[3], map.col_edges[4] - map.col_edges[3]}));
        QCOMPARE(printed["max_abs"].get<float>(), map.at(5, 3));
        QCOMPARE(printed["channel_stats"][0]["abs_max"].get<float>(), input.abs_max[size_t(map.row_edges[5])]);
        const auto missing = run_cli({"stats", model_path.string(), "--tensor", "^blk\\.1\\.ffn_down$", "--cell", "5,3",
                                      "--calib", analysis_files().sensitivity});
        QCOMPARE(missing.exit_code, 1);
        QVERIFY2(missing.err.find("no activations") != std::string::npos, missing.err.c_str());
    }

    void plan_from_a_sensitivity_file_is_cores_allocation() {
        const auto model_path = qbtest::stories260k("gguf");
        const std::string out = (qbtest::scratch_dir() / "cli-auto.plan.json").string();
        const auto r = run_cli({"plan", model_path.string(), "--sensitivity", analysis_files().sensitivity, "--target-bpw",
                                "7.5", "--out", out, "--json"});
        QCOMPARE(r.exit_code, 0);
        const auto doc = nlohmann::json::parse(r.out);

        const qb::Model model = qb::load_model(model_path);
        const qb::QuantPlan base = qb::preset_plan("q4_k_m", model);  // the plan editor's starting plan
        const qb::SensitivityResult sensitivity = *qb::AnalysisFile(analysis_files().sensitivity).sensitivity();
        const qb::SensitivityAssignment expected = qb::assign_from_sensitivity(
            model, base, qb::resolve_plan(base, model, qb::PlanTarget::Gguf), sensitivity, "hessian_error", 7.5);
        QCOMPARE(doc["plan"], qb::plan_to_json(expected.plan));
        QCOMPARE(qb::plan_to_json(qb::load_plan(out)), qb::plan_to_json(expected.plan));
        QCOMPARE(doc["plan"]["name"].get<std::string>(), std::string("q4_k_m-auto-7.50bpw"));
        // The resolved plan has exactly the allocation's bytes and bits per weight, within the budget.
        QCOMPARE(doc["totals"]["bytes"].get<uint64_t>(), expected.chosen.bytes);
        QCOMPARE(doc["totals"]["bits_per_weight"].get<double>(), expected.chosen.bits_per_weight);
        QVERIFY(expected.chosen.bits_per_weight <= 7.5);
        QCOMPARE(doc["allocation"]["predicted_loss"].get<double>(), expected.chosen.predicted_loss);
        QCOMPARE(doc["allocation"]["curve"].size(), expected.curve.size());

        const auto bad = run_cli({"plan", model_path.string(), "--sensitivity", analysis_files().sensitivity,
                                  "--target-bpw", "7.5", "--metric", "frobnicate"});
        QCOMPARE(bad.exit_code, 1);
        QVERIFY2(bad.err.find("unknown metric 'frobnicate' (known: hessian_error, hawq, mse, delta_ppl, mean_kld)") !=
                     std::string::npos, bad.err.c_str());
    }

    void reports_a_missing_model_in_one_line_naming_it() {
        const auto r = run_cli({"inspect", "/nonexistent/model.gguf"});
        QCOMPARE(r.exit_code, 1);
        QCOMPARE(r.err, std::string("quantbench-cli inspect: /nonexistent/model.gguf: no such file or folder\n"));
        QVERIFY(r.out.empty());
    }

    void rejects_bad_usage_with_exit_code_2() {
        auto r = run_cli({"stats", qbtest::stories260k("gguf").string(), "--bins"});
        QCOMPARE(r.exit_code, 2);
        QCOMPARE(r.err, std::string("quantbench-cli stats: usage: option --bins needs a value\n"));
        r = run_cli({"frobnicate"});
        QCOMPARE(r.exit_code, 2);
        QVERIFY(r.err.rfind("quantbench-cli: unknown command 'frobnicate'", 0) == 0);
        r = run_cli({"stats", qbtest::stories260k("gguf").string(), "--tensor", "nothing-matches"});
        QCOMPARE(r.exit_code, 1);
        QVERIFY2(r.err.find("no tensor matches 'nothing-matches'") != std::string::npos, r.err.c_str());
    }

    void tokenize_prints_the_reference_ids_of_every_model_form() {
        const std::filesystem::path text = qbtest::scratch_dir() / "once-upon-a-time.txt";
        std::ofstream(text) << "Once upon a time, there was a little girl named Lily.";
        // stories260K's ids of this sentence (the llama2.c tokenizer's), with the leading BOS eval adds.
        const std::vector<int32_t> want = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426};
        for (const char* form : {"gguf", "llama2c", "hf"}) {
            const auto r = run_cli({"tokenize", qbtest::stories260k(form).string(), "--text", text.string(), "--json"});
            QCOMPARE(r.exit_code, 0);
            const auto doc = nlohmann::json::parse(r.out);
            QCOMPARE(doc["tokens"].get<std::vector<int32_t>>(), want);
            QCOMPARE(doc["bos_id"].get<int>(), 1);
        }
        const auto plain = run_cli({"tokenize", qbtest::stories260k("gguf").string(), "--text", text.string()});
        QCOMPARE(plain.out.substr(0, 10), std::string("1\n403\n407\n"));
    }

    void rejects_an_unknown_device_before_writing_anything() {
        const std::string model = qbtest::stories260k("gguf").string();
        const std::string text = text_path("tinystories-snippet-30k.txt");
        const std::filesystem::path out = qbtest::scratch_dir() / "unknown-device";
        std::filesystem::remove_all(out);
        const std::vector<std::vector<std::string>> commands = {
            {"quantize", model, "--preset", "q8_0", "--out", (out / "q8_0.gguf").string(), "--device", "nope"},
            {"compare", model, "--presets", "q8_0", "--text", text, "--out-dir", out.string(), "--device", "nope"},
            {"eval", model, "--text", text, "--device", "nope"}};
        for (const auto& command : commands) {
            const auto r = run_cli(command);
            QCOMPARE(r.exit_code, 1);
            QCOMPARE(r.err, "quantbench-cli " + command[0] + ": backend: unknown backend 'nope' (auto, vulkan, cpu)\n");
        }
        QVERIFY(!std::filesystem::exists(out));
    }

    void stats_of_a_1gb_model_stays_under_300mb_resident() {
        const auto folder = qbtest::scratch_dir() / "synthetic-llama-1gb";
        const uint64_t bytes = qbtest::write_synthetic_llama(folder, {});
        QVERIFY(bytes > 1'000'000'000ull);
        const auto r = run_cli({"stats", folder.string(), "--format", "q4_0", "--json", "--threads", "2"});
        std::filesystem::remove_all(folder);
        QCOMPARE(r.exit_code, 0);
        const auto doc = nlohmann::json::parse(r.out);
        QCOMPARE(doc["tensors"].size(), size_t(1 + 2 * 9 + 1 + 1));  // embd, 2 blocks, output_norm, tied output
        qInfo("peak RSS of stats over %.2f GB: %.1f MB", double(bytes) / 1e9, double(r.peak_rss_bytes) / 1e6);
#ifdef __SANITIZE_ADDRESS__
        QSKIP("AddressSanitizer's shadow memory and quarantine, not the streaming, set the RSS of this build");
#endif
        // The bar is 300 MB; streaming with page eviction measures ~45 MB, so regressions show early.
        QVERIFY2(r.peak_rss_bytes < 100ull * 1000 * 1000, std::to_string(r.peak_rss_bytes).c_str());
    }
};

QTEST_GUILESS_MAIN(CliTest)
#include "tst_cli.moc"
