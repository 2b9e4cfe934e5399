#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/analysis/weight_stats.h"
#include "core/model/model.h"
#include "tests/support/run_process.h"
#include "tests/support/synthetic_model.h"
#include "tests/support/test_data.h"

using qbtest::run_cli;

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
        // The bar is 300 MB; streaming with page eviction measures ~45 MB, so regressions show early.
        QVERIFY2(r.peak_rss_bytes < 100ull * 1000 * 1000, std::to_string(r.peak_rss_bytes).c_str());
    }
};

QTEST_GUILESS_MAIN(CliTest)
#include "tst_cli.moc"
