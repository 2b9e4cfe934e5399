// Sensitivity in the desktop application on stories260K: the GUI's job gives core's numbers (same
// calibration, same estimates), the heat map and the explorer's sensitivity column draw them, the plan's
// predicted loss sums them, and the automatic assignment meets its bits-per-weight budget with a
// Pareto curve whose loss never rises with the budget.
#include <QtTest>

#include <QMimeData>
#include <nlohmann/json.hpp>
#include <cmath>
#include <qcustomplot.h>

#include "core/analysis/calibration.h"
#include "core/analysis/outlier_cell.h"
#include "core/analysis/sensitivity.h"
#include "core/plan/presets.h"
#include "core/plan/sensitivity_assign.h"
#include "tests/support/run_process.h"
#include "core/infer/tokenizer.h"
#include "core/store/text_file.h"
#include "tests/support/test_data.h"
#include "ui/explorer/model_explorer.h"
#include "ui/explorer/tensor_tree_model.h"
#include "ui/jobs/job_runner.h"
#include "ui/log/message_log.h"
#include "ui/main/main_window.h"
#include "ui/outliers/activation_cell_model.h"
#include "ui/outliers/outlier_map_view.h"
#include "ui/weights/weight_view.h"
#include "ui/plan/auto_assign_command.h"
#include "ui/plan/auto_assign_panel.h"
#include "ui/plan/plan_document.h"
#include "ui/plan/plan_editor.h"
#include "ui/sensitivity/sensitivity_metric.h"
#include "ui/sensitivity/sensitivity_table_model.h"
#include "ui/sensitivity/sensitivity_view.h"
#include "ui/session/workspace.h"

using namespace qbui;

namespace {

QString path(const std::filesystem::path& p) { return QString::fromStdString(p.string()); }
constexpr int kCalibrationTokens = 4096;

}  // namespace

class SensitivityTest : public QObject {
    Q_OBJECT

    std::unique_ptr<MainWindow> window_;

private slots:
    void initTestCase() {
        qputenv("XDG_CONFIG_HOME", QByteArray::fromStdString((qbtest::scratch_dir() / "config").string()));
        QApplication::setApplicationName("quantbench-test");
        window_ = std::make_unique<MainWindow>();
        window_->setErrorDialogsEnabled(false);
        window_->openModel(path(qbtest::stories260k("gguf")));
        QTRY_VERIFY(window_->workspace().model() != nullptr);
    }

    void cleanupTestCase() { window_.reset(); }

    void the_sensitivity_job_gives_cores_estimates() {
        SensitivityRequest request;
        request.calibrationText = path(qbtest::data_path("text/wiki.valid.tokens"));
        request.calibrationTokens = kCalibrationTokens;
        request.evaluationText = path(qbtest::data_path("text/tinystories-snippet-30k.txt"));
        request.measure = false;
        window_->computeSensitivity(request);
        QTRY_VERIFY_WITH_TIMEOUT(window_->jobs().isIdle(), 300000);
        QVERIFY2(window_->log().lastError().isEmpty(), qPrintable(window_->log().lastError()));
        const auto& shown = window_->sensitivityView()->result();
        QVERIFY(shown && !shown->entries.empty());

        const qb::Model& model = *window_->workspace().model();
        const qb::Transformer net(model);
        qb::CalibrationOptions calibration;
        calibration.tokens = kCalibrationTokens;
        calibration.full_hessian = true;
        const qb::Tokenizer tokenizer = qb::model_tokenizer(model);
        const qb::Calibration inputs =
            qb::calibrate(net, qb::evaluation_text(tokenizer, qb::read_text_file(request.calibrationText.toStdString()).text), calibration);
        qb::SensitivityOptions options;
        options.measure = false;
        const qb::SensitivityResult expected = qb::analyze_sensitivity(
            net, qb::hessian_source(inputs), qb::evaluation_text(tokenizer, qb::read_text_file(request.evaluationText.toStdString()).text), options);
        QCOMPARE(shown->entries.size(), expected.entries.size());
        for (size_t i = 0; i < expected.entries.size(); ++i) {
            QCOMPARE(shown->entries[i].tensor, expected.entries[i].tensor);
            QCOMPARE(shown->entries[i].format, expected.entries[i].format);
            QCOMPARE(shown->entries[i].hessian_error, expected.entries[i].hessian_error);
        }
        QCOMPARE(window_->sensitivityView()->table()->rowCount(), int(expected.entries.size()));
    }

    void the_heat_map_explorer_and_budget_show_the_metric() {
        const qb::SensitivityResult& result = *window_->sensitivityView()->result();
        const qb::SensitivityEntry& first = result.entries.front();
        QCOMPARE(window_->sensitivityView()->colorMap()->data()->cell(0, 0), first.hessian_error);  // first tensor, first format

        const PlanDocument& plan = window_->plan();
        const qb::TensorAssignment* q = plan.resolved().find("blk.1.attn_q");
        const double value = sensitivityValue(result, q->name, q->format->name, "hessian_error");
        QVERIFY(std::isfinite(value));
        const QModelIndex cell = window_->explorer()->treeModel()->indexOfTensor("blk.1.attn_q").siblingAtColumn(TensorTreeModel::SensitivityColumn);
        QCOMPARE(cell.data(TensorTreeModel::SortRole).toDouble(), value);
        QVERIFY(cell.data(Qt::BackgroundRole).isValid());

        double total = 0;
        for (const qb::TensorAssignment& t : plan.resolved().tensors)
            if (t.quantized()) {
                const double v = sensitivityValue(result, t.name, t.format->name, "hessian_error");
                if (std::isfinite(v)) total += v;
            }
        QCOMPARE(plan.predictedLoss().total, total);
    }

    void the_outlier_map_shows_a_tensors_input_activations_from_the_calibration() {
        QVERIFY(window_->explorer()->selectTensor("blk.1.ffn_down"));
        QTRY_VERIFY(window_->weightView()->stats() && window_->weightView()->stats()->tensor == "blk.1.ffn_down");
        OutlierMapView* map = window_->outlierView();
        QTRY_VERIFY(map->showActivations(true));
        const ActivationsPtr input = window_->workspace().activationsOf("blk.1.ffn_down");
        QVERIFY(input && input->record == "blk.1.ffn_down" && input->tokens == kCalibrationTokens);
        QCOMPARE(int64_t(map->colorMap()->data()->valueSize()), input->token_map.cell_rows());  // input channels
        QCOMPARE(int64_t(map->colorMap()->data()->keySize()), input->token_map.cell_cols());    // token cells
        QCOMPARE(map->colorMap()->data()->cell(3, 5), double(input->token_map.at(5, 3)));
        QVERIFY(map->selectCell(5, 3));
        const qb::ActivationCell* cell = map->channelValues()->cell();  // core's activation cell, as `stats --cell --calib`
        QVERIFY(cell && cell->record == "blk.1.ffn_down");
        QCOMPARE(qb::to_json(*cell), qb::to_json(qb::activation_cell(*input, 5, 3)));
        QCOMPARE(map->channelValues()->rowCount(), int(cell->channels.size()));
        QCOMPARE(map->channelValues()->index(0, ActivationCellModel::AbsMaxColumn).data(Qt::EditRole).toDouble(),
                 double(input->abs_max[size_t(input->token_map.row_edges[5])]));
        QVERIFY(map->showActivations(false));
        QCOMPARE(map->colorMap()->data()->cell(0, 0), double(window_->weightView()->stats()->heat_map.at(0, 0)));
    }

    void auto_assignment_meets_the_budget_along_a_pareto_curve() {
        const double budget = 7.5;  // stories260K: embeddings and norms alone hold it above 6.8 bpw
        window_->autoAssign(budget);
        QTRY_VERIFY_WITH_TIMEOUT(window_->jobs().isIdle(), 120000);
        QVERIFY2(window_->log().lastError().isEmpty(), qPrintable(window_->log().lastError()));
        const PlanDocument& plan = window_->plan();
        QVERIFY(plan.state().plan.name.find("auto") != std::string::npos);
        QCustomPlot* curve = window_->planEditor()->autoAssign()->plot();
        const auto points = curve->graph(0)->data();
        QVERIFY(points->size() > 2);
        for (int i = 1; i < points->size(); ++i) {
            QVERIFY(points->at(i)->key >= points->at(i - 1)->key);
            QVERIFY(points->at(i)->value <= points->at(i - 1)->value * (1 + 1e-9));
        }
        const double chosenBpw = curve->graph(1)->data()->at(0)->key;
        QVERIFY(chosenBpw <= budget);
        QCOMPARE(curve->graph(1)->data()->at(0)->value, plan.predictedLoss().total);
    }

    void auto_assignment_from_an_analysis_file_is_the_clis() {
        // The CLI's sensitivity file for the same calibration and evaluation texts, opened in the GUI.
        const std::string model = qbtest::stories260k("gguf").string();
        const std::string calibration = (qbtest::scratch_dir() / "gui-calibration.qbh5").string();
        const std::string sensitivity = (qbtest::scratch_dir() / "gui-sensitivity.qbh5").string();
        auto r = qbtest::run_cli({"calibrate", model, "--text", qbtest::data_path("text/wiki.valid.tokens").string(), "--tokens",
                                  std::to_string(kCalibrationTokens), "--full-hessian", "--out", calibration});
        QVERIFY2(r.exit_code == 0, r.err.c_str());
        r = qbtest::run_cli({"sensitivity", model, "--calib", calibration, "--text",
                             qbtest::data_path("text/tinystories-snippet-30k.txt").string(), "--estimates-only", "--out", sensitivity});
        QVERIFY2(r.exit_code == 0, r.err.c_str());
        window_->openAnalysisFile(path(sensitivity));
        QVERIFY2(window_->log().lastError().isEmpty(), qPrintable(window_->log().lastError()));

        PlanDocument& plan = window_->plan();
        QVERIFY(plan.replacePlan(qb::preset_plan("q4_k_m", *window_->workspace().model()), "q4_k_m"));
        const double budget = 7.25;
        const QStringList recorded = autoAssignCliArguments(path(qbtest::stories260k("gguf")), *window_->workspace().model(),
                                                            plan.state().plan, plan.state().target, path(sensitivity),
                                                            plan.lossMetric(), budget);
        window_->autoAssign(budget);
        QTRY_VERIFY_WITH_TIMEOUT(window_->jobs().isIdle(), 120000);
        QVERIFY2(window_->log().lastError().isEmpty(), qPrintable(window_->log().lastError()));
        QCOMPARE(plan.state().plan.name, std::string("q4_k_m-auto-7.25bpw"));

        // The command the GUI records for the assignment makes the same plan with the same bytes.
        std::vector<std::string> arguments;
        for (const QString& a : recorded) arguments.push_back(a.toStdString());
        QCOMPARE(arguments[2], std::string("--preset"));
        const std::string out = (qbtest::scratch_dir() / "gui-auto.plan.json").string();
        arguments.back() = out;  // --out
        arguments.push_back("--json");
        r = qbtest::run_cli(arguments);
        QVERIFY2(r.exit_code == 0, r.err.c_str());
        const nlohmann::json printed = nlohmann::json::parse(r.out);
        QVERIFY(printed["plan"] == qb::plan_to_json(plan.state().plan));
        QCOMPARE(printed["totals"]["bytes"].get<uint64_t>(), plan.resolved().total_bytes());
        QCOMPARE(printed["allocation"]["predicted_loss"].get<double>(), plan.predictedLoss().total);
    }

    void a_calibration_file_gives_the_activation_cells_the_cli_prints() {
        // The calibration file of the test above, opened in the GUI: the outlier map's activations.
        const std::string calibration = (qbtest::scratch_dir() / "gui-calibration.qbh5").string();
        window_->openAnalysisFile(path(calibration));
        QVERIFY2(window_->log().lastError().isEmpty(), qPrintable(window_->log().lastError()));
        QVERIFY(window_->explorer()->selectTensor("blk.1.ffn_down"));
        QTRY_VERIFY(window_->weightView()->stats() && window_->weightView()->stats()->tensor == "blk.1.ffn_down");
        OutlierMapView* map = window_->outlierView();
        QTRY_VERIFY(map->showActivations(true));
        QVERIFY(map->selectCell(5, 3));
        QVERIFY(map->channelValues()->cell());
        const qbtest::ProcessResult cli = qbtest::run_cli({"stats", qbtest::stories260k("gguf").string(), "--tensor",
                                                           "^blk\\.1\\.ffn_down$", "--cell", "5,3", "--calib", calibration, "--json"});
        QVERIFY2(cli.exit_code == 0, cli.err.c_str());
        QVERIFY(nlohmann::json::parse(cli.out)["tensors"][0]["activation_cell"] == qb::to_json(*map->channelValues()->cell()));
        QVERIFY(map->showActivations(false));
    }
};

QTEST_MAIN(SensitivityTest)
#include "tst_gui_sensitivity.moc"
