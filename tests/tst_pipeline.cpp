// The quantize pipeline on stories260K: the q4_k_m preset written as GGUF has the plan's exact size, reloads
// and evaluates like llama.cpp's own Q4_K_M file; cancelling leaves nothing; calibration-based algorithms get
// their inputs; run records survive JSON; the quantize CLI prints the same run, report renders it and its
// plots (PNG, PDF).
#include <QtTest>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "core/jobs/job.h"
#include "core/pipeline/quantize_job.h"
#include "core/plan/plan_export.h"
#include "core/plan/presets.h"
#include "core/util/error.h"
#include "tests/support/run_process.h"
#include "tests/support/test_data.h"

using namespace qb;

namespace {

constexpr double kLlamaCppQ4KM = 5.4772;  // llama.cpp's perplexity of its own Q4_K_M file (shared/data/README.md)

std::string snippet_path() { return qbtest::data_path("text/tinystories-snippet-30k.txt").string(); }

const Model& stories() {
    static const Model model = load_model(qbtest::data_path("models/stories260K/gguf/stories260K-f32.gguf"));
    return model;
}

QuantizeJobOptions options_to(const std::filesystem::path& output, bool evaluate) {
    QuantizeJobOptions options;
    options.output = output;
    options.command_line = "quantbench-cli quantize stories260K-f32.gguf --preset q4_k_m --out " + output.string();
    if (evaluate) options.evaluation_text = read_text_file(snippet_path());
    return options;
}

std::string file_start(const std::string& path, size_t count) {
    std::ifstream in(path, std::ios::binary);
    std::string start(count, '\0');
    in.read(start.data(), std::streamsize(count));
    return start;
}

size_t files_in(const std::filesystem::path& dir) {
    return size_t(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()));
}

}  // namespace

class PipelineTest : public QObject {
    Q_OBJECT

private slots:
    void q4_k_m_gguf_has_the_planned_size_reloads_and_matches_llamacpp_perplexity() {
        const std::filesystem::path output = qbtest::scratch_dir() / "q4_k_m.gguf";
        const QuantPlan plan = preset_plan("q4_k_m", stories());
        const ResolvedPlan resolved = resolve_plan(plan, stories(), PlanTarget::Gguf);
        const RunResult run = run_quantize_job(stories(), plan, resolved, options_to(output, true));

        QCOMPARE(run.file_bytes, gguf_file_size(resolved, stories()).file_bytes);
        QCOMPARE(uint64_t(std::filesystem::file_size(output)), run.file_bytes);
        QCOMPARE(run.roundtrip.exact_tensors, run.roundtrip.tensors);
        QCOMPARE(run.roundtrip.max_logit_diff, 0.0);
        QVERIFY(run.evaluation.done);
        qInfo("q4_k_m: %llu bytes, ppl %.4f (llama.cpp's Q4_K_M file: %.4f), base %.4f",
              (unsigned long long)run.file_bytes, run.evaluation.ppl, kLlamaCppQ4KM, run.evaluation.base_ppl);
        QVERIFY2(std::abs(run.evaluation.ppl / kLlamaCppQ4KM - 1) < 1e-3, qPrintable(QString::number(run.evaluation.ppl)));
        QVERIFY(run.evaluation.delta_ppl > 0);
        QCOMPARE(run.tensors.size(), size_t(48));
        QCOMPARE(run.provenance.plan, plan_to_json(plan));
        QVERIFY(!run.provenance.model_sha256.empty());
        QVERIFY(!run.provenance.evaluation_text_sha256.empty());
    }

    void cancelling_mid_way_leaves_no_output() {
        const std::filesystem::path dir = qbtest::scratch_dir() / "cancel";
        std::filesystem::create_directories(dir);
        const QuantPlan plan = preset_plan("q4_k_m", stories());
        const ResolvedPlan resolved = resolve_plan(plan, stories(), PlanTarget::Gguf);
        JobControl* self = nullptr;
        JobControl job([&self](double fraction, std::string_view) {
            if (fraction > 0.5) self->cancel();
        });
        self = &job;
        QVERIFY_THROWS_EXCEPTION(Cancelled, run_quantize_job(stories(), plan, resolved, options_to(dir / "q.gguf", false), &job));
        QCOMPARE(files_in(dir), size_t(0));
    }

    void gptq_calibrates_and_token_embd_takes_rtn() {
        QuantPlan plan = preset_plan("q4_k_m", stories());
        plan.defaults.algorithm = "gptq";
        const ResolvedPlan resolved = resolve_plan(plan, stories(), PlanTarget::Gguf);
        QVERIFY(plan_needs_calibration(resolved));
        const std::filesystem::path output = qbtest::scratch_dir() / "gptq.gguf";
        QVERIFY_THROWS_EXCEPTION(Error, run_quantize_job(stories(), plan, resolved, options_to(output, false)));
        QVERIFY(!std::filesystem::exists(output));

        QuantizeJobOptions options = options_to(output, false);
        options.calibration_text = read_text_file(snippet_path());
        options.calibration.tokens = 4096;
        const RunResult run = run_quantize_job(stories(), plan, resolved, options);
        for (const auto& t : run.tensors) {
            if (t.name == "token_embd") QCOMPARE(t.algorithm, std::string("rtn"));
            else if (t.name == "blk.0.attn_q") QCOMPARE(t.algorithm, std::string("gptq"));
        }
        QCOMPARE(run.provenance.calibration_tokens, int64_t(4096));
    }

    void awq_without_a_calibration_text_is_rejected_before_anything_runs() {
        QuantPlan plan = uniform_plan("q8_0");
        plan.fallback = true;
        plan.defaults.algorithm = "awq";
        const ResolvedPlan resolved = resolve_plan(plan, stories(), PlanTarget::Gguf);
        const std::filesystem::path output = qbtest::scratch_dir() / "awq.gguf";
        QVERIFY_THROWS_EXCEPTION(Error, run_quantize_job(stories(), plan, resolved, options_to(output, false)));
        QVERIFY(!std::filesystem::exists(output));
    }

    void run_results_round_trip_through_json() {
        QuantPlan plan = uniform_plan("q8_0");
        plan.fallback = true;
        const ResolvedPlan resolved = resolve_plan(plan, stories(), PlanTarget::Gguf);
        const RunResult run =
            run_quantize_job(stories(), plan, resolved, options_to(qbtest::scratch_dir() / "q8.gguf", false));
        const nlohmann::json doc = run_result_to_json(run);
        QCOMPARE(run_result_to_json(run_result_from_json(doc)), doc);
        QVERIFY(doc["evaluation"]["ppl"].is_null());
        QVERIFY_THROWS_EXCEPTION(Error, run_result_from_json(nlohmann::json{{"schema", "other"}}));
    }

    void quantize_cli_saves_the_run_and_reports_it() {
        const std::filesystem::path dir = qbtest::scratch_dir();
        const std::string out = (dir / "cli.gguf").string(), saved = (dir / "cli.run.json").string();
        const std::string model = qbtest::data_path("models/stories260K/gguf/stories260K-f32.gguf").string();
        const auto q = qbtest::run_cli({"quantize", model, "--preset", "q8_0", "--out", out, "--save-run", saved, "--json"});
        QVERIFY2(q.exit_code == 0, q.err.c_str());
        const nlohmann::json printed = nlohmann::json::parse(q.out);
        QCOMPARE(printed["file_bytes"].get<uint64_t>(), uint64_t(std::filesystem::file_size(out)));
        QVERIFY(printed["provenance"]["command_line"].get<std::string>().find("--preset q8_0") != std::string::npos);
        const auto r = qbtest::run_cli({"report", saved, "--format", "csv"});
        QVERIFY2(r.exit_code == 0, r.err.c_str());
        QVERIFY(r.out.find("# regenerate: quantbench-cli report " + saved + " --format csv") != std::string::npos);

        const std::string png = (dir / "pareto.png").string(), pdf = (dir / "errors.pdf").string();
        const auto plots = qbtest::run_cli({"report", saved, "--plot-pareto", png, "--plot-errors", pdf, "--out", (dir / "r.md").string()});
        QVERIFY2(plots.exit_code == 0, plots.err.c_str());
        QCOMPARE(file_start(png, 4), std::string("\x89PNG"));
        QCOMPARE(file_start(pdf, 4), std::string("%PDF"));

        const auto bad = qbtest::run_cli({"quantize", model, "--preset", "q4_k_m"});
        QCOMPARE(bad.exit_code, 2);
    }
};

QTEST_GUILESS_MAIN(PipelineTest)
#include "tst_pipeline.moc"
