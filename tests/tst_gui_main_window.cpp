// The desktop application end to end, offscreen, on the shared stories260K: open by drop, the explorer
// tree, the histogram / grid levels / outlier map against core's own results, perplexity into the run
// list with the event loop never blocked for 100 ms, a cancelled export that writes nothing, the
// exported statistics equal to the CLI's, and a readable error for a file that is not a model.
#include <QtTest>

#include <QComboBox>
#include <QMessageBox>
#include <QMimeData>
#include <QTreeView>
#include <algorithm>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <qcustomplot.h>

#include "core/analysis/format_probe.h"
#include "core/analysis/outlier_cell.h"
#include "core/analysis/weight_stats.h"
#include "core/model/model.h"
#include "core/pipeline/run_result.h"
#include "core/quant/format.h"
#include "tests/support/event_loop_probe.h"
#include "tests/support/modal_watch.h"
#include "tests/support/run_process.h"
#include "tests/support/test_data.h"
#include "ui/analysis/weight_view_stats.h"
#include "ui/common/units.h"
#include "ui/explorer/model_explorer.h"
#include "ui/explorer/tensor_tree_model.h"
#include "ui/jobs/job_runner.h"
#include "ui/log/message_log.h"
#include "ui/main/main_window.h"
#include "ui/outliers/matrix_block_model.h"
#include "ui/outliers/outlier_map_view.h"
#include "ui/plan/plan_document.h"
#include "ui/runs/quantize_run.h"
#include "ui/runs/report_export.h"
#include "ui/runs/run_list_model.h"
#include "ui/runs/runs_view.h"
#include "ui/session/workspace.h"
#include "ui/weights/histogram_plot.h"
#include "ui/weights/stats_panel.h"
#include "ui/weights/weight_view.h"

using namespace qbui;
using qbtest::EventLoopProbe;

namespace {

// Shared data paths as the GUI shows them: absolute, without "..".
QString cleanPath(const std::filesystem::path& path) { return QFileInfo(QString::fromStdString(path.string())).absoluteFilePath(); }
QString stories260k() { return cleanPath(qbtest::stories260k("gguf")); }
QString snippetText() { return cleanPath(qbtest::data_path("text/tinystories-snippet-30k.txt")); }
QString scratchFile(const QString& name) { return cleanPath(qbtest::scratch_dir() / name.toStdString()); }

// What a file manager does when a file is dropped on the window.
void dropFile(QWidget& target, const QString& path) {
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(path)});
    const QPoint centre = target.rect().center();
    QDragEnterEvent enter(centre, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&target, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(centre), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&target, &drop);
    QVERIFY(drop.isAccepted());
}

// Clicks the tensor's row in the explorer tree, as a user would.
void clickTensor(ModelExplorer& explorer, const QString& name) {
    QTreeView* tree = explorer.treeView();
    auto* proxy = qobject_cast<QSortFilterProxyModel*>(tree->model());
    const QModelIndex index = proxy->mapFromSource(explorer.treeModel()->indexOfTensor(name));
    QVERIFY(index.isValid());
    tree->scrollTo(index);
    QTest::mouseClick(tree->viewport(), Qt::LeftButton, Qt::NoModifier, tree->visualRect(index).center());
    QCOMPARE(explorer.selectedTensor(), name);
}

// Graph `graph` of the plot holds the step curve of `histogram` (see histogram_plot.h).
void verifyStepCurve(QCustomPlot* plot, int graph, const qb::Histogram& histogram) {
    const auto data = plot->graph(graph)->data();
    const size_t bins = histogram.counts.size();
    QCOMPARE(size_t(data->size()), bins + 1);
    for (size_t i = 0; i < bins; ++i) {
        QCOMPARE(data->at(int(i))->key, histogram.edges[i]);
        QCOMPARE(data->at(int(i))->value, double(histogram.counts[i]));
    }
    QCOMPARE(data->at(int(bins))->key, histogram.edges[bins]);
}

std::vector<float> distinctDecodedValues(const qb::TensorView& view, const std::string& format, int64_t row,
                                         int64_t firstCol, int64_t count) {
    const qb::FormatInfo& f = qb::format_by_name(format);
    const std::vector<float> original = view.to_f32();
    const std::vector<float> decoded =
        qb::decode_tensor(f, qb::encode_tensor(f, original, view.rows(), view.cols()), view.rows(), view.cols());
    std::vector<float> levels(decoded.begin() + row * view.cols() + firstCol,
                              decoded.begin() + row * view.cols() + firstCol + count);
    std::sort(levels.begin(), levels.end());
    levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
    return levels;
}

}  // namespace

class MainWindowTest : public QObject {
    Q_OBJECT

    std::unique_ptr<MainWindow> window_;
    qb::Model model_;

    void openStories260k() {
        window_ = std::make_unique<MainWindow>();
        window_->setErrorDialogsEnabled(false);
        window_->show();
        QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
        dropFile(*window_, stories260k());
        QTRY_VERIFY(window_->workspace().model() != nullptr);
    }

private slots:
    void initTestCase() {
        qputenv("XDG_CONFIG_HOME", QByteArray::fromStdString((qbtest::scratch_dir() / "config").string()));
        QApplication::setOrganizationName("Quantbench");
        QApplication::setApplicationName("quantbench-test");
        model_ = qb::load_model(qbtest::stories260k("gguf"));
        openStories260k();
    }

    void cleanupTestCase() { window_.reset(); }

    void dropping_a_model_file_opens_it_and_fills_the_explorer() {
        QCOMPARE(window_->workspace().modelPath(), stories260k());
        TensorTreeModel* tree = window_->explorer()->treeModel();
        // token_embd, 5 blocks, output_norm, output
        QCOMPARE(tree->rowCount(), 8);
        const QModelIndex block = tree->index(1, 0);
        QCOMPARE(block.data(TensorTreeModel::CanonicalNameRole).toString(), QString("blk.0"));
        QCOMPARE(tree->rowCount(block), 9);
        const QModelIndex gate = tree->indexOfTensor("blk.0.ffn_gate");
        QCOMPARE(gate.siblingAtColumn(TensorTreeModel::RoleColumn).data().toString(), QString("ffn_gate"));
        QCOMPARE(gate.siblingAtColumn(TensorTreeModel::ShapeColumn).data().toString(), QString("172 × 64"));
        QCOMPARE(gate.siblingAtColumn(TensorTreeModel::TypeColumn).data().toString(), QString("f32"));
        QCOMPARE(gate.siblingAtColumn(TensorTreeModel::ParametersColumn).data(TensorTreeModel::SortRole).toLongLong(), 11008LL);
        QCOMPARE(gate.siblingAtColumn(TensorTreeModel::SizeColumn).data(TensorTreeModel::SortRole).toULongLong(), 44032ULL);
        // The plan column shows the plan being edited (the q4_k_m preset to start with).
        const qb::TensorAssignment* planned = window_->plan().resolved().find("blk.0.ffn_gate");
        QVERIFY(gate.siblingAtColumn(TensorTreeModel::PlanColumn).data().toString().startsWith(QString::fromStdString(planned->format->name)));
        QVERIFY(gate.siblingAtColumn(TensorTreeModel::SensitivityColumn).data().isNull());
        QVERIFY(window_->log().lastError().isEmpty());
    }

    void the_regex_filter_keeps_matching_tensors_and_their_blocks() {
        ModelExplorer* explorer = window_->explorer();
        QAbstractItemModel* shown = explorer->treeView()->model();
        explorer->filterEdit()->setText("^blk\\.[0-1]\\.attn_(q|k)$");
        QCOMPARE(shown->rowCount(), 2);
        QCOMPARE(shown->rowCount(shown->index(0, 0)), 2);
        explorer->filterEdit()->setText("attn_(");  // invalid: no filtering
        QCOMPARE(shown->rowCount(), 8);
        explorer->filterEdit()->clear();
    }

    void selecting_a_tensor_plots_cores_histograms_and_statistics() {
        clickTensor(*window_->explorer(), "blk.0.ffn_gate");
        WeightView* view = window_->weightView();
        QTRY_VERIFY(view->stats() && view->stats()->tensor == "blk.0.ffn_gate");
        const qb::WeightStats expected = qb::analyze_weights(model_.tensor("blk.0.ffn_gate"), weightViewStatsOptions());
        verifyStepCurve(view->histogramPlot()->plot(), 0, expected.histograms[0]);
        view->scaleBox()->setCurrentIndex(1);  // |w| on log-spaced bins
        verifyStepCurve(view->histogramPlot()->plot(), 0, expected.histograms[1]);
        QCOMPARE(view->histogramPlot()->plot()->xAxis->scaleType(), QCPAxis::stLogarithmic);
        QVERIFY(view->logCountsBox()->isChecked());  // the log |w| histogram asks for log counts
        view->scaleBox()->setCurrentIndex(0);

        QCOMPARE(view->stats()->moments.std, expected.moments.std);
        QCOMPARE(view->stats()->moments.excess_kurtosis, expected.moments.excess_kurtosis);
        QCOMPARE(view->stats()->tails[0].fraction, expected.tails[0].fraction);
        QCOMPARE(view->stats()->format_errors.size(), expected.format_errors.size());
        for (size_t i = 0; i < expected.format_errors.size(); ++i) {
            QCOMPARE(view->stats()->format_errors[i].format, expected.format_errors[i].format);
            QCOMPARE(view->stats()->format_errors[i].metrics.mse, expected.format_errors[i].metrics.mse);
        }
        QVERIFY(view->statsPanel()->text().contains(QString::number(expected.moments.std, 'g', 5)));
    }

    void the_grid_overlay_shows_the_levels_the_chosen_format_decodes_to() {
        WeightView* view = window_->weightView();
        QVERIFY(view->selectFormat("int4_g32_asym"));
        QTRY_VERIFY(view->probe() && view->probe()->format == "int4_g32_asym");
        const qb::FormatProbe& probe = *view->probe();
        const std::vector<float> levels =
            distinctDecodedValues(model_.tensor("blk.0.ffn_gate"), "int4_g32_asym", probe.row, probe.first_col, probe.col_count);
        QCOMPARE(probe.col_count, int64_t(32));
        QVERIFY(levels.size() > 1 && levels.size() <= 16);
        const auto marks = view->histogramPlot()->plot()->graph(2)->data();
        QCOMPARE(size_t(marks->size()), levels.size());
        for (size_t i = 0; i < levels.size(); ++i) QCOMPARE(marks->at(int(i))->key, double(levels[i]));
        QCOMPARE(view->errorPlot()->plot()->graph(0)->data()->size(), probe.error_histogram.counts.size() + 1);
    }

    void the_probe_the_weight_view_plots_is_the_clis() {
        WeightView* view = window_->weightView();
        QVERIFY(view->selectFormat("q4_0"));
        QTRY_VERIFY(view->probe() && view->probe()->format == "q4_0");
        const qb::FormatProbe& probe = *view->probe();
        verifyStepCurve(view->errorPlot()->plot(), 0, probe.error_histogram);  // what the error plot draws

        // The command the GUI records for this probe prints the same probe.
        std::vector<std::string> arguments;
        for (const QString& a : probeCliArguments(stories260k(), "blk.0.ffn_gate", view->probeRequest()))
            arguments.push_back(a.toStdString());
        const qbtest::ProcessResult cli = qbtest::run_cli(arguments);
        QCOMPARE(cli.exit_code, 0);
        const nlohmann::json printed = nlohmann::json::parse(cli.out)["tensors"][0]["probe"];
        QVERIFY(printed == qb::to_json(probe));
        const auto marks = view->histogramPlot()->plot()->graph(2)->data();
        QCOMPARE(size_t(marks->size()), printed["levels"].size());
        for (int i = 0; i < marks->size(); ++i) QCOMPARE(marks->at(i)->key, printed["levels"][size_t(i)].get<double>());
        const uint64_t weights = uint64_t(model_.tensor("blk.0.ffn_gate").rows() * model_.tensor("blk.0.ffn_gate").cols());
        QCOMPARE(probe.error_histogram.total(), weights);
    }

    void the_outlier_map_draws_the_heat_map_and_shows_a_cells_values() {
        OutlierMapView* map = window_->outlierView();
        window_->showTab(MainWindow::OutliersTab);
        const qb::WeightStats& stats = *window_->weightView()->stats();
        QCPColorMapData* data = map->colorMap()->data();
        QCOMPARE(int64_t(data->keySize()), stats.heat_map.cell_cols());
        QCOMPARE(int64_t(data->valueSize()), stats.heat_map.cell_rows());
        QCOMPARE(data->cell(7, 100), double(stats.heat_map.at(100, 7)));

        QVERIFY(map->selectCell(100, 7));
        QTRY_VERIFY(map->cellValues()->block() != nullptr);
        const qb::MatrixBlock& block = *map->cellValues()->block();
        QCOMPARE(block.first_row, stats.heat_map.row_edges[100]);
        QCOMPARE(block.first_col, stats.heat_map.col_edges[7]);
        std::vector<float> row(size_t(model_.tensor("blk.0.ffn_gate").cols()));
        model_.tensor("blk.0.ffn_gate").read_rows(block.first_row, 1, row.data());
        QCOMPARE(block.at(0, 0), row[size_t(block.first_col)]);
        QCOMPARE(map->cellValues()->index(0, 0).data().toString(), QString::number(double(row[size_t(block.first_col)]), 'g', 5));

        // The CLI's `stats --cell` for the same cell prints the values the table shows.
        std::vector<std::string> arguments;
        for (const QString& a : cellCliArguments(stories260k(), "blk.0.ffn_gate", map->selectedCell()))
            arguments.push_back(a.toStdString());
        const qbtest::ProcessResult cli = qbtest::run_cli(arguments);
        QCOMPARE(cli.exit_code, 0);
        QVERIFY(nlohmann::json::parse(cli.out)["tensors"][0]["cell"] == qb::to_json(block));
        window_->showTab(MainWindow::WeightsTab);
    }

    void perplexity_lands_in_the_run_list_while_the_event_loop_keeps_running() {
        EventLoopProbe idle;  // what this machine's load alone does to the event loop
        idle.start();
        QTest::qWait(500);
        idle.stop();

        EventLoopProbe probe;
        EvaluationRequest request;
        request.textPath = snippetText();
        QElapsedTimer job;
        job.start();
        probe.start();
        window_->evaluate(request);
        QTRY_VERIFY_WITH_TIMEOUT(window_->jobs().isIdle(), 120000);
        probe.stop();
        qInfo("perplexity job %lld ms: longest event-loop gap %lld ms, longest GUI-thread busy stretch %.1f ms "
              "(idle machine: gap %lld ms)", job.elapsed(), probe.longestGapMs(), probe.longestBusyMs(), idle.longestGapMs());
        QVERIFY2(probe.longestBusyMs() < qbtest::kNoticeableStallMs, qPrintable(QString("GUI thread busy for %1 ms").arg(probe.longestBusyMs())));
        if (idle.longestGapMs() < 50)
            QVERIFY2(probe.longestGapMs() < qbtest::kNoticeableStallMs, qPrintable(QString("event loop blocked for %1 ms").arg(probe.longestGapMs())));
        else
            qWarning("the machine alone delays the event loop by %lld ms: wall-clock gap not asserted", idle.longestGapMs());

        QCOMPARE(window_->runs().rowCount(), 1);
        const EvaluationResult& run = *window_->runs().runs().front().evaluation;
        QCOMPARE(run.perplexity.chunks, int64_t(30));
        QVERIFY(std::abs(run.perplexity.ppl - 5.3856) / 5.3856 < 0.001);  // llama.cpp's reference
        QCOMPARE(window_->runs().index(0, RunListModel::PerplexityColumn).data().toString(),
                 QString::number(run.perplexity.ppl, 'f', 4));
    }

    void a_cancelled_export_writes_nothing() {
        const QString target = QString::fromStdString((qbtest::scratch_dir() / "cancelled.stats.json").string());
        QSignalSpy cancelled(&window_->jobs(), &JobRunner::jobCancelled);
        window_->exportWeightStatsTo(target);
        window_->jobs().cancel(window_->jobs().runningId());
        QTRY_COMPARE(cancelled.count(), 1);
        QVERIFY(!QFileInfo::exists(target));
        const QStringList leftovers = QDir(QFileInfo(target).absolutePath()).entryList({"cancelled.stats.json*"});
        QVERIFY2(leftovers.isEmpty(), qPrintable(leftovers.join(", ")));
    }

    void exported_statistics_equal_the_clis() {
        const QString target = QString::fromStdString((qbtest::scratch_dir() / "gui.stats.json").string());
        window_->exportWeightStatsTo(target);
        QTRY_VERIFY_WITH_TIMEOUT(window_->jobs().isIdle(), 60000);
        QFile file(target);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const nlohmann::json gui = nlohmann::json::parse(file.readAll().toStdString());
        const qbtest::ProcessResult cli = qbtest::run_cli({"stats", stories260k().toStdString(), "--log-abs", "--json", "--full"});
        QCOMPARE(cli.exit_code, 0);
        QVERIFY(gui == nlohmann::json::parse(cli.out));
    }

    void a_quantize_run_lands_in_the_comparison_table() {
        RunRequest request;
        request.plan = window_->plan().state().plan;  // the editor's q4_k_m preset
        request.output = scratchFile("stories260K.q4_k_m.gguf");
        request.evaluationText = snippetText();
        request.kld = true;
        window_->quantize(request);
        QTRY_VERIFY_WITH_TIMEOUT(window_->jobs().isIdle(), 300000);
        QVERIFY2(window_->log().lastError().isEmpty(), qPrintable(window_->log().lastError()));

        const RunListModel& runs = window_->runs();
        const int row = runs.rowCount() - 1;
        QVERIFY(runs.runs().back().quantized != nullptr);
        const qb::RunResult saved = qb::load_run_result(runPathFor(request.output).toStdString());
        const qb::RunResult& shown = *runs.runs().back().quantized;
        QCOMPARE(qb::run_result_to_json(shown), qb::run_result_to_json(saved));
        QCOMPARE(qulonglong(QFileInfo(request.output).size()), qulonglong(shown.file_bytes));
        QCOMPARE(runs.index(row, RunListModel::SizeColumn).data(RunListModel::SortRole).toULongLong(), qulonglong(shown.file_bytes));
        QCOMPARE(runs.index(row, RunListModel::PerplexityColumn).data(RunListModel::SortRole).toDouble(), shown.evaluation.ppl);
        QCOMPARE(runs.index(row, RunListModel::DeltaColumn).data(RunListModel::SortRole).toDouble(), shown.evaluation.delta_ppl);
        QVERIFY(std::abs(shown.evaluation.base_ppl - 5.3856) < 0.005);  // llama.cpp's F32 reference
        QVERIFY(shown.evaluation.delta_ppl > 0 && shown.evaluation.delta_ppl < 0.5);
        QCOMPARE(runs.index(row, RunListModel::KldColumn).data(RunListModel::SortRole).toDouble(), shown.evaluation.mean_kld);
        QVERIFY(QFileInfo::exists(planPathFor(request.output)));
        QCOMPARE(window_->runsView()->paretoPlot()->graph(0)->data()->size(), 2);  // the evaluation and this run
    }

    void a_cancelled_quantize_run_leaves_no_file() {
        RunRequest request;
        request.plan = window_->plan().state().plan;
        request.output = scratchFile("cancelled.gguf");
        request.evaluationText = snippetText();
        QSignalSpy cancelled(&window_->jobs(), &JobRunner::jobCancelled);
        window_->quantize(request);
        window_->jobs().cancel(window_->jobs().runningId());
        QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 1, 60000);
        const QStringList leftovers = QDir(qtext(qbtest::scratch_dir().string())).entryList({"cancelled*"});
        QVERIFY2(leftovers.isEmpty(), qPrintable(leftovers.join(", ")));
    }

    void the_exported_report_is_the_clis_data() {
        QTest::addColumn<QString>("file");
        for (const char* file : {"report.md", "report.csv", "report.tex", "report.json"}) QTest::newRow(file) << QString(file);
    }

    void the_exported_report_is_the_clis() {
        QFETCH(QString, file);
        const QString path = scratchFile(file);
        window_->exportReportTo(path);
        QFile gui(path);
        QVERIFY(gui.open(QIODevice::ReadOnly));
        const QByteArray guiText = gui.readAll();
        gui.close();
        QVERIFY(guiText.contains("q4_k_m"));
        for (const char* figure : {"pareto", "layers", "errors"})
            for (const char* extension : {"png", "pdf", "svg"})
                QVERIFY(QFileInfo(scratchFile(QString("report.%1.%2").arg(figure, extension))).size() > 0);
        if (file.endsWith(".json")) QVERIFY(!nlohmann::json::parse(guiText.toStdString()).empty());

        // The command the GUI recorded as the report's provenance, run by the CLI, writes the same report.
        std::vector<std::string> arguments;
        for (const QString& a : reportCliArguments(window_->runs().quantizeRunFiles(), path)) arguments.push_back(a.toStdString());
        QCOMPARE(arguments[arguments.size() - 6], std::string("--plot-pareto"));
        QVERIFY(QFile::remove(path));
        QCOMPARE(qbtest::run_cli(arguments).exit_code, 0);
        QFile cli(path);
        QVERIFY(cli.open(QIODevice::ReadOnly));
        QCOMPARE(cli.readAll(), guiText);
    }

    void a_model_dropped_on_the_runs_tab_opens_the_conversion_dialog() {
        window_->showTab(MainWindow::RunsTab);
        QString dialogTitle;
        const auto closer = qbtest::watch_modal<QDialog>([&](QDialog& dialog) {
            dialogTitle = dialog.windowTitle();
            dialog.reject();
        });
        dropFile(*window_, stories260k());
        QTRY_VERIFY(!dialogTitle.isEmpty());
        QCOMPARE(dialogTitle, QString("Quantize stories260K-f32.gguf"));
        window_->showTab(MainWindow::WeightsTab);
    }

    void a_file_that_is_not_a_model_gives_a_readable_error() {
        const QString modelBefore = window_->workspace().modelPath();
        window_->setErrorDialogsEnabled(true);
        dropFile(*window_, snippetText());
        QTRY_VERIFY(!window_->log().lastError().isEmpty());
        const QString error = window_->log().lastError();
        QVERIFY2(error.contains(snippetText()) && error.contains("not a model file"), qPrintable(error));
        auto* box = window_->findChild<QMessageBox*>();
        QVERIFY(box && box->isVisible() && box->windowModality() == Qt::NonModal);
        QCOMPARE(box->text(), error);
        box->close();
        QCOMPARE(window_->workspace().modelPath(), modelBefore);  // the open model stays
        window_->setErrorDialogsEnabled(false);
    }
};

QTEST_MAIN(MainWindowTest)
#include "tst_gui_main_window.moc"
