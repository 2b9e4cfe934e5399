// Reports of run records: every format carries the regenerating command and each run's provenance; tables
// hold the comparison columns; LaTeX uses booktabs and escapes; JSON keeps the runs; analysis files gain
// /plans/<name> and /evaluations/<name>; the report command draws its plots as well-formed SVG with their labels.
#include <QtTest>

#include <QXmlStreamReader>

#include "core/pipeline/run_result.h"
#include "core/report/report.h"
#include "core/store/hdf5_file.h"
#include "core/util/error.h"
#include "tests/support/run_process.h"
#include "tests/support/test_data.h"

using namespace qb;

namespace {

const std::string kCommand = "quantbench-cli report a.run.json b.run.json --format md";

RunResult sample_run(const std::string& config, double ppl) {
    RunResult r;
    r.config = config;
    r.target = "gguf";
    r.plan_summary = "q5_0 x29, f32 x11";
    r.output = config + ".gguf";
    r.file_bytes = 304320;
    r.tensor_bytes = 289696;
    r.parameters = 292800;
    r.bits_per_weight = 7.9152;
    r.evaluation = {true, "llama.cpp", 512, 30, 7650, ppl, 0.12, 5.3856, 0.119, ppl - 5.3856, 100 * (ppl / 5.3856 - 1),
                    true, 0.0196, 0.0005, 0.0106, 0.1538, 1.72, 0.923};
    r.seconds = {0, 0.06, 0.02, 2.3, 2.38};
    r.tensors.push_back({"blk.0.attn_q", "q5_0", "rtn", 4096, 2816, 5.5, 1e-5, 30.1, 0.999, 0.01, NAN, 0.001});
    r.tensors.push_back({"blk.0.attn_norm", "f32", "", 64, 256, 32, NAN, NAN, NAN, NAN, NAN, 0});
    r.provenance.tool_version = "0.1.0";
    r.provenance.created = "2026-11-25T10:00:00Z";
    r.provenance.command_line = "quantbench-cli quantize m.gguf --preset " + config + " --out " + config + ".gguf";
    r.provenance.model_path = "m.gguf";
    r.provenance.model_files = {"m.gguf"};
    r.provenance.model_sha256 = {std::string(64, 'a')};
    r.provenance.plan = {{"schema", "quantbench.plan"}, {"version", 1}, {"name", config}};
    r.provenance.evaluation_text = "snippet.txt";
    r.provenance.evaluation_text_sha256 = std::string(64, 'b');
    return r;
}

std::vector<RunResult> sample_runs() { return {sample_run("q4_k_m", 5.4760), sample_run("q8_0", 5.3860)}; }

void verify_provenance(const std::string& text) {
    QVERIFY(text.find(kCommand) != std::string::npos);
    QVERIFY(text.find("quantbench-cli quantize m.gguf --preset q4_k_m --out q4_k_m.gguf") != std::string::npos);
    QVERIFY(text.find(std::string(64, 'a')) != std::string::npos);
    QVERIFY(text.find(std::string(64, 'b')) != std::string::npos);
}

// The text of the <text> elements of a well-formed SVG document, concatenated in document order
// (QSvgGenerator writes a label as <text> elements, one per font run: "Size vs ", "Δ", "ppl"); fails the
// test on an XML error or another root element.
QString svg_text(const std::filesystem::path& path) {
    QFile file(QString::fromStdString(path.string()));
    if (!file.open(QIODevice::ReadOnly)) {
        QTest::qFail(qPrintable("cannot open " + file.fileName()), __FILE__, __LINE__);
        return {};
    }
    QXmlStreamReader xml(&file);
    QString texts;
    bool root = true;
    while (!xml.atEnd()) {
        if (xml.readNext() != QXmlStreamReader::StartElement) continue;
        if (root && xml.name() != QLatin1String("svg")) QTest::qFail("the root element is not <svg>", __FILE__, __LINE__);
        root = false;
        if (xml.name() == QLatin1String("text")) texts += xml.readElementText(QXmlStreamReader::IncludeChildElements);
    }
    if (xml.hasError()) QTest::qFail(qPrintable(file.fileName() + ": " + xml.errorString()), __FILE__, __LINE__);
    return texts;
}

}  // namespace

class ReportsTest : public QObject {
    Q_OBJECT

private slots:
    void every_format_carries_provenance_and_the_command() {
        for (const char* name : {"md", "csv", "latex", "json"}) {
            const std::string text = render_report(sample_runs(), report_format_by_name(name), kCommand);
            verify_provenance(text);
            if (std::string(name) != "json") QVERIFY(text.find("llama.cpp") != std::string::npos);
        }
    }

    void markdown_has_the_comparison_and_layer_tables() {
        const std::string md = render_report(sample_runs(), ReportFormat::Markdown, kCommand);
        QVERIFY(md.find("| config | target | bytes | bpw | ppl | ± | Δppl | Δppl % | KLD mean | KLD p99 | top-1 % | wall s |") !=
                std::string::npos);
        QVERIFY(md.find("| q4_k_m | gguf | 304320 | 7.915 | 5.4760 | 0.1200 | +0.0904 | +1.68 |") != std::string::npos);
        QVERIFY(md.find("## Per-layer: q8_0") != std::string::npos);
        QVERIFY(md.find("| blk.0.attn_norm | f32 | – |") != std::string::npos);
    }

    void csv_rows_parse_back() {
        const std::string csv = render_report(sample_runs(), ReportFormat::Csv, kCommand, false);
        QVERIFY(csv.find("config,target,bytes,bpw,ppl") != std::string::npos);
        QVERIFY(csv.find("\nq8_0,gguf,304320,7.915,5.3860,") != std::string::npos);
    }

    void latex_uses_booktabs_and_escapes() {
        const std::string tex = render_report(sample_runs(), ReportFormat::Latex, kCommand);
        QVERIFY(tex.find("\\toprule") != std::string::npos);
        QVERIFY(tex.find("\\midrule") != std::string::npos);
        QVERIFY(tex.find("\\bottomrule") != std::string::npos);
        QVERIFY(tex.find("q4\\_k\\_m & gguf") != std::string::npos);
        QVERIFY(tex.find("ppl & $\\pm$ & $\\Delta$ppl & $\\Delta$ppl \\% &") != std::string::npos);
        QVERIFY(tex.find("Δ") == std::string::npos);
        QVERIFY(tex.find("% regenerate: " + kCommand) != std::string::npos);
    }

    void json_keeps_the_runs() {
        const nlohmann::json doc = nlohmann::json::parse(render_report(sample_runs(), ReportFormat::Json, kCommand));
        QCOMPARE(doc["command"].get<std::string>(), kCommand);
        QCOMPARE(doc["runs"].size(), size_t(2));
        const RunResult back = run_result_from_json(doc["runs"][0]);
        QCOMPARE(back.evaluation.ppl, 5.4760);
        QVERIFY(std::isnan(back.tensors[1].mse));
    }

    void unknown_format_is_an_error() { QVERIFY_THROWS_EXCEPTION(Error, report_format_by_name("html")); }

    void report_command_writes_well_formed_svg_plots_with_their_labels() {
        const auto dir = qbtest::scratch_dir() / "svg";
        std::filesystem::create_directories(dir);
        std::vector<std::string> args{"report"};
        for (const auto& run : sample_runs()) {
            args.push_back((dir / (run.config + ".run.json")).string());
            save_run_result(run, args.back());
        }
        const auto pareto = dir / "pareto.svg", layers = dir / "layers.svg", errors = dir / "errors.svg", md = dir / "r.md";
        for (const auto& arg : {"--plot-pareto", pareto.c_str(), "--plot-layers", layers.c_str(), "--plot-errors",
                                errors.c_str(), "--out", md.c_str()})
            args.push_back(arg);
        const auto result = qbtest::run_cli(args);
        QVERIFY2(result.exit_code == 0, result.err.c_str());

        const QString pareto_text = svg_text(pareto);
        QVERIFY2(pareto_text.contains("bits per weight"), qPrintable(pareto_text));
        QVERIFY(pareto_text.contains(QString::fromUtf8("Δppl (log scale)")));
        QVERIFY(pareto_text.contains(QString::fromUtf8("Size vs Δppl")));
        QVERIFY(pareto_text.contains("q4_k_m"));  // the points' labels
        const QString layer_text = svg_text(layers);
        QVERIFY2(layer_text.contains("Hessian-weighted error (else weight MSE)"), qPrintable(layer_text));
        QVERIFY(layer_text.contains("blk.0.attn_q (q5_0)"));
        const QString error_text = svg_text(errors);
        QVERIFY(error_text.contains("Per-tensor SQNR: q4_k_m"));
        QVERIFY(error_text.contains("SQNR (dB)"));

        const auto bad = qbtest::run_cli({"report", args[1], "--plot-pareto", (dir / "pareto.bmp").string()});
        QVERIFY(bad.exit_code != 0);
        QVERIFY2(bad.err.find(".svg") != std::string::npos, bad.err.c_str());
    }

    void analysis_file_gains_plans_and_evaluations() {
        const auto path = qbtest::scratch_dir() / "runs.qbh5";
        {
            Hdf5Writer file(path);
            for (const auto& run : sample_runs()) write_run_to_analysis(file, run);
            file.commit();
        }
        const Hdf5Reader file(path);
        QCOMPARE(file.read_strings("/plans/q4_k_m/tensor"), (std::vector<std::string>{"blk.0.attn_q", "blk.0.attn_norm"}));
        QCOMPARE(file.read_dataset<int64_t>("/plans/q8_0/bytes"), (std::vector<int64_t>{2816, 256}));
        QCOMPARE(number_attribute(file, "/evaluations/q4_k_m", "ppl"), 5.4760);
        QCOMPARE(string_attribute(file, "/evaluations/q8_0", "protocol"), std::string("llama.cpp"));
        const RunResult back = run_result_from_json(
            nlohmann::json::parse(string_attribute(file, "/evaluations/q4_k_m", "run_json")));
        QCOMPARE(back.provenance.command_line, sample_runs()[0].provenance.command_line);
    }
};

QTEST_GUILESS_MAIN(ReportsTest)
#include "tst_reports.moc"
