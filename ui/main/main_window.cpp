#include "ui/main/main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QtConcurrent>
#include <cmath>

#include "ui/common/units.h"
#include "ui/explorer/model_explorer.h"
#include "ui/explorer/tensor_tree_model.h"
#include "ui/jobs/job_panel.h"
#include "ui/jobs/job_runner.h"
#include "ui/log/message_log.h"
#include "ui/main/versions.h"
#include "ui/outliers/outlier_map_view.h"
#include "core/plan/sensitivity_assign.h"
#include "ui/plan/auto_assign_command.h"
#include "ui/plan/auto_assign_panel.h"
#include "ui/plan/plan_document.h"
#include "ui/plan/plan_editor.h"
#include "ui/runs/evaluation_dialog.h"
#include "ui/runs/report_export.h"
#include "ui/runs/run_dialog.h"
#include "ui/runs/run_list_model.h"
#include "ui/runs/runs_view.h"
#include "ui/sensitivity/sensitivity_dialog.h"
#include "ui/sensitivity/sensitivity_view.h"
#include "ui/session/cli_command.h"
#include "ui/session/stats_export.h"
#include "ui/session/weight_analysis.h"
#include "ui/session/workspace.h"
#include "ui/settings/app_settings.h"
#include "ui/settings/settings_dialog.h"
#include "ui/style/theme.h"
#include "ui/weights/weight_view.h"

namespace qbui {
namespace {

QString localPathOf(const QMimeData* mime) {
    if (!mime || !mime->hasUrls()) return {};
    for (const QUrl& url : mime->urls())
        if (url.isLocalFile()) return url.toLocalFile();
    return {};
}

QString modelSummary(const qb::Model& model) {
    return QObject::tr("%1 · %2 parameters · %3 tensors · %4")
        .arg(qtext(model.architecture), countText(model.parameter_count()))
        .arg(model.tensors.size())
        .arg(bytesText(model.stored_bytes()));
}

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), workspace_(new Workspace(this)), jobs_(new JobRunner(this)), log_(new MessageLog(this)),
      analysis_(new WeightAnalysis(*workspace_, *jobs_, this)), runs_(new RunListModel(this)),
      plan_(new PlanDocument(this)) {
    setWindowTitle(QStringLiteral("Quantbench"));
    setWindowIcon(QIcon(QStringLiteral(":/icons/quantbench-256.png")));
    setAcceptDrops(true);
    createViews();
    createDocks();
    createActions();
    createStatusBar();
    connectJobsToLog();
    connectAnalysis();
    connectPlan();
    connect(workspace_, &Workspace::modelChanged, this, &MainWindow::onModelChanged);
    connect(log_, &MessageLog::errorAdded, this, &MainWindow::showError);

    const AppSettings settings;
    resize(1500, 920);
    restoreGeometry(settings.windowGeometry());
    if (!restoreState(settings.windowState()))
        QTimer::singleShot(0, this, [this] {  // dock sizes only take once the window is laid out
            resizeDocks({findChild<QDockWidget*>(QStringLiteral("explorerDock"))}, {560}, Qt::Horizontal);
            resizeDocks({findChild<QDockWidget*>(QStringLiteral("logDock"))}, {140}, Qt::Vertical);
        });
    probeDevice();
}

MainWindow::~MainWindow() { jobs_->cancelAll(); }

void MainWindow::createViews() {
    tabs_ = new QTabWidget(this);
    weightView_ = new WeightView(tabs_);
    outlierView_ = new OutlierMapView(tabs_);
    sensitivityView_ = new SensitivityView(tabs_);
    connect(sensitivityView_, &SensitivityView::computeRequested, this, &MainWindow::sensitivityFromDialog);
    connect(sensitivityView_, &SensitivityView::openRequested, this, &MainWindow::openAnalysisFromDialog);
    connect(sensitivityView_, &SensitivityView::metricChanged, this, [this](const QString& metric) {
        plan_->setSensitivity(sensitivityView_->result(), metric);
    });
    planEditor_ = new PlanEditor(*plan_, tabs_);
    runsView_ = new RunsView(*runs_, tabs_);
    connect(runsView_, &RunsView::runRequested, this, &MainWindow::quantizeFromDialog);
    connect(runsView_, &RunsView::reportRequested, this, &MainWindow::exportReportFromDialog);
    tabs_->addTab(weightView_, tr("&Weights"));
    tabs_->addTab(outlierView_, tr("&Outlier map"));
    tabs_->addTab(sensitivityView_, tr("&Sensitivity"));
    tabs_->addTab(planEditor_, tr("&Plan"));
    tabs_->addTab(runsView_, tr("&Runs"));
    setCentralWidget(tabs_);
}

void MainWindow::createDocks() {
    explorer_ = new ModelExplorer(this);
    auto* explorerDock = new QDockWidget(tr("Model explorer"), this);
    explorerDock->setObjectName(QStringLiteral("explorerDock"));
    explorerDock->setWidget(explorer_);
    addDockWidget(Qt::LeftDockWidgetArea, explorerDock);

    logTable_ = new QTableView(this);
    logTable_->setModel(log_);
    logTable_->verticalHeader()->hide();
    logTable_->verticalHeader()->setDefaultSectionSize(logTable_->fontMetrics().height() + 4);
    const QFontMetrics metrics = logTable_->fontMetrics();
    logTable_->horizontalHeader()->resizeSection(MessageLog::TimeColumn, metrics.horizontalAdvance(QStringLiteral("00:00:00")) + 16);
    logTable_->horizontalHeader()->resizeSection(MessageLog::SeverityColumn, metrics.horizontalAdvance(QStringLiteral("warning")) + 40);
    logTable_->horizontalHeader()->setSectionResizeMode(MessageLog::TextColumn, QHeaderView::Stretch);
    logTable_->setSelectionBehavior(QAbstractItemView::SelectRows);
    connect(log_, &QAbstractItemModel::rowsInserted, logTable_, &QTableView::scrollToBottom);
    auto* logDock = new QDockWidget(tr("Log"), this);
    logDock->setObjectName(QStringLiteral("logDock"));
    logDock->setWidget(logTable_);
    addDockWidget(Qt::BottomDockWidgetArea, logDock);
}

void MainWindow::createActions() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open model…"), QKeySequence::Open, this, &MainWindow::openFromDialog);
    file->addAction(tr("Open &analysis file…"), this, &MainWindow::openAnalysisFromDialog);
    recentMenu_ = file->addMenu(tr("Open &recent"));
    connect(recentMenu_, &QMenu::aboutToShow, this, &MainWindow::fillRecentMenu);
    fillRecentMenu();
    exportReportAction_ = file->addAction(tr("Export &report…"), QKeySequence(tr("Ctrl+Shift+R")), this, &MainWindow::exportReportFromDialog);
    exportStatsAction_ = file->addAction(tr("&Export statistics as JSON…"), QKeySequence(tr("Ctrl+Shift+S")), this,
                                         &MainWindow::exportStatsFromDialog);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = plan_->undoStack()->createUndoAction(this, tr("&Undo plan edit"));
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = plan_->undoStack()->createRedoAction(this, tr("&Redo plan edit"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addActions({undo, redo});

    QMenu* analysis = menuBar()->addMenu(tr("&Analysis"));
    evaluateAction_ = analysis->addAction(tr("Evaluate &perplexity…"), QKeySequence(tr("Ctrl+E")), this,
                                          &MainWindow::evaluateFromDialog);
    sensitivityAction_ = analysis->addAction(tr("Compute &sensitivity…"), QKeySequence(tr("Ctrl+Shift+T")), this,
                                             &MainWindow::sensitivityFromDialog);
    quantizeAction_ = analysis->addAction(tr("&Quantize / convert…"), QKeySequence(tr("Ctrl+R")), this, &MainWindow::quantizeFromDialog);
    analysis->addSeparator();
    analysis->addAction(tr("&Cancel running job"), QKeySequence(Qt::Key_Escape), this,
                        [this] { jobs_->cancel(jobs_->runningId()); });
    analysis->addAction(tr("Cancel &all jobs"), QKeySequence(tr("Ctrl+Shift+Esc")), jobs_, &JobRunner::cancelAll);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(tr("&Weights"), QKeySequence(tr("Ctrl+1")), this, [this] { showTab(WeightsTab); });
    view->addAction(tr("&Outlier map"), QKeySequence(tr("Ctrl+2")), this, [this] { showTab(OutliersTab); });
    view->addAction(tr("&Sensitivity"), QKeySequence(tr("Ctrl+3")), this, [this] { showTab(SensitivityTab); });
    view->addAction(tr("&Plan"), QKeySequence(tr("Ctrl+4")), this, [this] { showTab(PlanTab); });
    view->addAction(tr("&Runs"), QKeySequence(tr("Ctrl+5")), this, [this] { showTab(RunsTab); });
    view->addSeparator();
    for (QDockWidget* dock : findChildren<QDockWidget*>()) view->addAction(dock->toggleViewAction());
    view->addAction(tr("Focus tensor &filter"), QKeySequence::Find, this, [this] { explorer_->filterEdit()->setFocus(); });

    QMenu* settings = menuBar()->addMenu(tr("&Settings"));
    settings->addAction(tr("&Preferences…"), QKeySequence::Preferences, this, &MainWindow::showSettings);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Quantbench"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);

    for (QAction* needsModel : {evaluateAction_, exportStatsAction_, quantizeAction_, sensitivityAction_}) needsModel->setEnabled(false);
}

void MainWindow::createStatusBar() {
    jobPanel_ = new JobPanel(*jobs_, this);
    modelLabel_ = new QLabel(tr("Drop a model file or folder here, or open one with Ctrl+O."), this);
    deviceLabel_ = new QLabel(tr("Device: probing…"), this);
    statusBar()->addWidget(modelLabel_, 1);
    statusBar()->addPermanentWidget(jobPanel_);
    statusBar()->addPermanentWidget(deviceLabel_);
}

void MainWindow::connectJobsToLog() {
    connect(jobs_, &JobRunner::jobStarted, this, [this](int, const QString& title, const QString& cli) {
        log_->info(cli.isEmpty() ? tr("%1…").arg(title) : tr("%1…  (≙ %2)").arg(title, cli));
    });
    connect(jobs_, &JobRunner::jobFinished, this, [this](int, const QString& title, double seconds) {
        log_->info(tr("%1: done in %2").arg(title, durationText(seconds)));
    });
    connect(jobs_, &JobRunner::jobCancelled, this, [this](int, const QString& title) { log_->warning(tr("%1: cancelled").arg(title)); });
    connect(jobs_, &JobRunner::jobFailed, this, [this](int, const QString& title, const QString& message) {
        log_->error(tr("%1 failed: %2").arg(title, message));
    });
}

void MainWindow::connectAnalysis() {
    connect(explorer_, &ModelExplorer::tensorSelected, analysis_, &WeightAnalysis::requestStats);
    connect(analysis_, &WeightAnalysis::statsPending, weightView_, &WeightView::showPending);
    connect(analysis_, &WeightAnalysis::statsReady, this, [this](WeightStatsPtr stats) {
        weightView_->showStats(stats);
        outlierView_->showStats(stats, workspace_->activationsOf(stats->tensor));
    });
    connect(weightView_, &WeightView::probeRequested, this, [this](const qb::FormatProbeRequest& request) {
        if (const WeightStatsPtr stats = weightView_->stats()) analysis_->requestProbe(qtext(stats->tensor), request);
    });
    connect(analysis_, &WeightAnalysis::probeReady, weightView_, &WeightView::showProbe);
    connect(outlierView_, &OutlierMapView::cellValuesRequested, analysis_, &WeightAnalysis::requestCellValues);
    connect(analysis_, &WeightAnalysis::cellValuesReady, outlierView_, &OutlierMapView::showCellValues);
}

void MainWindow::connectPlan() {
    connect(plan_, &PlanDocument::changed, this, [this] {
        std::map<std::string, QString> entries;
        if (plan_->hasPlan())
            for (const qb::TensorAssignment& t : plan_->resolved().tensors)
                entries[t.name] = t.keep ? tr("keep") : t.algorithm.empty() ? qtext(t.format->name)
                                                                            : QStringLiteral("%1 · %2").arg(qtext(t.format->name), qtext(t.algorithm));
        explorer_->treeModel()->setPlanEntries(std::move(entries));
        updateTreeSensitivity();
    });
    connect(plan_, &PlanDocument::editRejected, log_, &MessageLog::warning);
    connect(planEditor_->autoAssign(), &AutoAssignPanel::assignRequested, this, &MainWindow::autoAssign);
    connect(planEditor_, &PlanEditor::problem, log_, &MessageLog::error);
    connect(planEditor_, &PlanEditor::saved, this, [this](const QString& path) {
        log_->info(tr("Plan saved to %1  (≙ %2)").arg(path, cliCommand({QStringLiteral("plan"), workspace_->modelPath(), QStringLiteral("--plan"), path,
                                                                         QStringLiteral("--target"), qtext(std::string(qb::plan_target_name(plan_->state().target)))})));
    });
}

void MainWindow::openModel(const QString& path) {
    const QString absolute = QFileInfo(path).absoluteFilePath();
    jobs_->cancelAll();
    JobSpec job{tr("Open %1").arg(QFileInfo(absolute).fileName()), cliCommand({QStringLiteral("inspect"), absolute}),
                [this, absolute](qb::JobControl&) -> JobDelivery {
                    auto model = std::make_shared<const qb::Model>(qb::load_model(absolute.toStdString()));
                    return [this, model, absolute] { workspace_->setModel(model, absolute); };
                }};
    jobs_->submit(std::move(job));
}

void MainWindow::onModelChanged() {
    const ModelPtr& model = workspace_->model();
    explorer_->treeModel()->setModel(model);
    plan_->setModel(model);
    weightView_->clear();
    outlierView_->clear();
    sensitivityView_->showResult(nullptr);
    for (QAction* needsModel : {evaluateAction_, exportStatsAction_, quantizeAction_, sensitivityAction_})
        needsModel->setEnabled(model != nullptr);
    if (!model) return;
    AppSettings().addRecentFile(workspace_->modelPath());
    setWindowTitle(QStringLiteral("%1 — Quantbench").arg(QFileInfo(workspace_->modelPath()).fileName()));
    modelLabel_->setText(modelSummary(*model));
    log_->info(tr("Opened %1: %2").arg(workspace_->modelPath(), modelSummary(*model)));
    if (std::exchange(convertAfterOpen_, false)) QTimer::singleShot(0, this, &MainWindow::quantizeFromDialog);
}

void MainWindow::fillRecentMenu() {
    recentMenu_->clear();
    const QStringList files = AppSettings().recentFiles();
    for (const QString& path : files) recentMenu_->addAction(path, this, [this, path] { openModel(path); });
    if (files.isEmpty()) recentMenu_->addAction(tr("(none)"))->setEnabled(false);
    recentMenu_->addSeparator();
    recentMenu_->addAction(tr("Clear list"), this, [] { AppSettings().clearRecentFiles(); });
}

void MainWindow::openFromDialog() {
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open model"), QFileInfo(workspace_->modelPath()).absolutePath(),
        tr("Models (*.gguf *.safetensors *.json *.bin);;All files (*)"));
    if (!path.isEmpty()) openModel(path);
}

void MainWindow::evaluate(const EvaluationRequest& request) {
    const ModelPtr model = workspace_->model();
    if (!model) {
        log_->warning(tr("Open a model before evaluating it."));
        return;
    }
    EvaluationRequest full = request;
    full.modelPath = workspace_->modelPath();
    JobSpec job{tr("Perplexity of %1 on %2").arg(QFileInfo(full.modelPath).fileName(), QFileInfo(full.textPath).fileName()),
                cliCommand(evaluationCliArguments(full)),
                [this, model, full](qb::JobControl& control) -> JobDelivery {
                    EvaluationResult result = evaluatePerplexity(*model, full, control);
                    return [this, result] {
                        runs_->addEvaluation(result);
                        log_->info(tr("PPL %1 ± %2 over %3 tokens")
                                       .arg(result.perplexity.ppl, 0, 'f', 4)
                                       .arg(result.perplexity.ppl_stderr, 0, 'f', 4)
                                       .arg(countText(result.perplexity.tokens)));
                    };
                }};
    jobs_->submit(std::move(job));
}

void MainWindow::evaluateFromDialog() {
    const AppSettings settings;
    EvaluationRequest initial;
    initial.modelPath = workspace_->modelPath();
    initial.textPath = settings.evaluationText();
    initial.protocol = settings.protocol();
    initial.contextLength = settings.contextLength();
    initial.threads = settings.threads();
    EvaluationDialog dialog(initial, this);
    if (dialog.exec() != QDialog::Accepted) return;
    evaluate(dialog.request());
    showTab(RunsTab);
}

void MainWindow::exportWeightStatsTo(const QString& path) {
    const ModelPtr model = workspace_->model();
    if (!model) return;
    const int threads = AppSettings().threads();
    JobSpec job{tr("Export statistics to %1").arg(QFileInfo(path).fileName()),
                cliCommand(exportWeightStatsCliArguments(workspace_->modelPath())) + QStringLiteral(" > ") + path,
                [this, model, path, threads](qb::JobControl& control) -> JobDelivery {
                    exportWeightStats(*model, path, control, threads);
                    return [this, path] { log_->info(tr("Statistics written to %1").arg(path)); };
                }};
    jobs_->submit(std::move(job));
}

void MainWindow::exportStatsFromDialog() {
    const QString suggested = QFileInfo(workspace_->modelPath()).completeBaseName() + QStringLiteral(".stats.json");
    const QString path = QFileDialog::getSaveFileName(this, tr("Export statistics"), suggested, tr("JSON (*.json)"));
    if (!path.isEmpty()) exportWeightStatsTo(path);
}

void MainWindow::quantize(const RunRequest& request, bool announce) {
    const ModelPtr model = workspace_->model();
    if (!model) {
        log_->warning(tr("Open a model before quantizing it."));
        return;
    }
    RunRequest full = request;
    full.modelPath = workspace_->modelPath();
    JobSpec job{tr("Quantize %1 to %2").arg(QFileInfo(full.modelPath).fileName(), QFileInfo(full.output).fileName()),
                cliCommand(quantizeCliArguments(full)), [this, model, full, announce](qb::JobControl& control) -> JobDelivery {
                    auto run = std::make_shared<const qb::RunResult>(runQuantize(*model, full, control));
                    return [this, run, full, announce] {
                        runs_->addQuantizeRun(run, runPathFor(full.output));
                        showRunSummary(*run, announce);
                    };
                }};
    jobs_->submit(std::move(job));
}

void MainWindow::quantizeFromDialog() {
    const ModelPtr model = workspace_->model();
    if (!model || !plan_->hasPlan()) return;
    const AppSettings settings;
    RunRequest defaults;
    defaults.calibrationText = settings.calibrationText();
    defaults.evaluationText = settings.evaluationText();
    defaults.protocol = settings.protocol();
    defaults.contextLength = settings.contextLength();
    defaults.threads = settings.threads();
    defaults.device = settings.device();
    RunDialog dialog(*model, plan_->state().plan, plan_->state().target, defaults, this);
    if (dialog.exec() != QDialog::Accepted) return;
    if (dialog.request().device != settings.device()) {  // the choice becomes the setting the status bar shows
        AppSettings().setDevice(dialog.request().device);
        probeDevice();
    }
    quantize(dialog.request(), true);
    showTab(RunsTab);
}

void MainWindow::showRunSummary(const qb::RunResult& run, bool announce) {
    const qb::EvaluationSummary& e = run.evaluation;
    QString text = tr("%1: wrote %2 (%3, %4 bits per weight)").arg(qtext(run.config), qtext(run.output), bytesText(run.file_bytes))
                       .arg(run.bits_per_weight, 0, 'f', 3);
    if (e.done) text += tr("; perplexity %1 (base %2, Δ %3%)").arg(e.ppl, 0, 'f', 4).arg(e.base_ppl, 0, 'f', 4).arg(QString::asprintf("%+.2f", e.delta_ppl_percent));
    log_->info(text);
    if (!announce) return;
    auto* box = new QMessageBox(QMessageBox::Information, tr("Quantized"), text, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setWindowModality(Qt::NonModal);
    box->show();
}

void MainWindow::exportReportTo(const QString& path) {
    try {
        const QStringList written = exportReport(runs_->quantizeRuns(), runs_->quantizeRunFiles(), path);
        log_->info(tr("Report written: %1  (≙ %2)").arg(written.join(QStringLiteral(", ")),
                                                     cliCommand(reportCliArguments(runs_->quantizeRunFiles(), path))));
    } catch (const std::exception& e) {
        log_->error(tr("Export report failed: %1").arg(qtext(e.what())));
    }
}

void MainWindow::exportReportFromDialog() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export report"), QStringLiteral("report.md"),
                                                      tr("Markdown (*.md);;CSV (*.csv);;LaTeX (*.tex);;JSON (*.json)"));
    if (!path.isEmpty()) exportReportTo(path);
}

void MainWindow::computeSensitivity(const SensitivityRequest& request) {
    const ModelPtr model = workspace_->model();
    if (!model) return;
    SensitivityRequest full = request;
    full.modelPath = workspace_->modelPath();
    JobSpec job{tr("Sensitivity of %1").arg(QFileInfo(full.modelPath).fileName()), sensitivityCliCommand(full),
                [this, model, full](qb::JobControl& control) -> JobDelivery {
                    auto outcome = std::make_shared<SensitivityOutcome>(qbui::computeSensitivity(*model, full, control));
                    return [this, model, outcome] {
                        if (workspace_->model() != model) return;
                        sensitivityFile_ = QString::fromLatin1(kSensitivityFile);  // what the recorded command writes
                        showSensitivity(std::move(*outcome));
                    };
                }};
    jobs_->submit(std::move(job));
}

void MainWindow::sensitivityFromDialog() {
    if (!workspace_->model()) return;
    const AppSettings settings;
    SensitivityRequest initial;
    initial.calibrationText = settings.calibrationText();
    initial.evaluationText = settings.evaluationText();
    initial.threads = settings.threads();
    SensitivityDialog dialog(initial, this);
    if (dialog.exec() != QDialog::Accepted) return;
    computeSensitivity(dialog.request());
    showTab(SensitivityTab);
}

void MainWindow::openAnalysisFile(const QString& path) {
    try {
        AnalysisContents contents = loadAnalysisFile(path);
        if (!contents.result && contents.activations.empty())
            throw qb::Error(path.toStdString(), "holds neither a sensitivity table nor activations (quantbench-cli sensitivity "
                                                "or calibrate --out)");
        if (!contents.result) {  // a calibration file: the activation maps of the outlier view
            workspace_->setActivations(std::move(contents.activations));
            if (const WeightStatsPtr stats = weightView_->stats())
                outlierView_->showStats(stats, workspace_->activationsOf(stats->tensor));
            log_->info(tr("Activations loaded from %1").arg(path));
            return;
        }
        showSensitivity({std::move(*contents.result), std::move(contents.activations)});
        sensitivityFile_ = path;
        log_->info(tr("Sensitivity loaded from %1").arg(path));
    } catch (const std::exception& e) {
        log_->error(tr("Open analysis file failed: %1").arg(qtext(e.what())));
    }
}

void MainWindow::openAnalysisFromDialog() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open analysis file"), QString(), tr("Analysis files (*.qbh5)"));
    if (!path.isEmpty()) openAnalysisFile(path);
}

void MainWindow::showSensitivity(SensitivityOutcome outcome) {
    workspace_->setActivations(std::move(outcome.activations));
    auto result = std::make_shared<const qb::SensitivityResult>(std::move(outcome.result));
    sensitivityView_->showResult(result);
    if (const WeightStatsPtr stats = weightView_->stats()) outlierView_->showStats(stats, workspace_->activationsOf(stats->tensor));
    plan_->setSensitivity(result, sensitivityView_->metric());
    log_->info(sensitivityView_->correlationText());
}

void MainWindow::autoAssign(double bitsPerWeight) {
    const ModelPtr model = workspace_->model();
    if (!model || !plan_->hasPlan() || !plan_->sensitivity()) return;
    const qb::QuantPlan base = plan_->state().plan;
    const auto resolved = std::make_shared<const qb::ResolvedPlan>(plan_->resolved());
    const SensitivityPtr sensitivity = plan_->sensitivity();
    const QString metric = plan_->lossMetric();
    const QString command = cliCommand(autoAssignCliArguments(workspace_->modelPath(), *model, base, plan_->state().target,
                                                              sensitivityFile_, metric, bitsPerWeight));
    JobSpec job{tr("Auto-assign %1 bpw").arg(bitsPerWeight), command,
                [this, model, base, resolved, sensitivity, metric, bitsPerWeight](qb::JobControl& control) -> JobDelivery {
                    constexpr int kCurvePoints = 16;
                    auto assignment = std::make_shared<const qb::SensitivityAssignment>(qb::assign_from_sensitivity(
                        *model, base, *resolved, *sensitivity, metric.toStdString(), bitsPerWeight, kCurvePoints, &control));
                    return [this, model, assignment, bitsPerWeight] {
                        if (workspace_->model() != model) return;
                        if (plan_->replacePlan(assignment->plan, tr("Auto-assign %1 bpw").arg(bitsPerWeight)))
                            planEditor_->autoAssign()->showAssignment(assignment);
                    };
                }};
    jobs_->submit(std::move(job));
}

void MainWindow::updateTreeSensitivity() {
    std::map<std::string, double> values;
    if (plan_->hasPlan() && plan_->sensitivity())
        for (const qb::TensorAssignment& t : plan_->resolved().tensors) {
            const double value = t.quantized() ? plan_->predictedLoss(t.name, t.format->name) : NAN;
            if (std::isfinite(value)) values[t.name] = value;
        }
    explorer_->treeModel()->setSensitivity(std::move(values));
}

void MainWindow::showTab(Tab tab) { tabs_->setCurrentIndex(int(tab)); }

void MainWindow::showSettings() {
    SettingsDialog dialog(this);
    if (dialog.exec() != QDialog::Accepted) return;
    dialog.save();
    applyTheme(AppSettings().darkTheme());
    probeDevice();
}

void MainWindow::showAbout() {
    QString text = tr("<h3>Quantbench %1</h3><p>A workbench for quantizing large language models.</p>").arg(quantbenchVersion());
    text += QStringLiteral("<p>") + versionsText().toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>")) +
            QStringLiteral("</p><p>") + tr("Compute: %1").arg(device_.description.toHtmlEscaped()) + QStringLiteral("</p>");
    QMessageBox::about(this, tr("About Quantbench"), text);
}

void MainWindow::showError(const QString& text) {
    if (!errorDialogsEnabled_) return;
    if (!errorBox_) {
        errorBox_ = new QMessageBox(QMessageBox::Critical, tr("Quantbench"), QString(), QMessageBox::Ok, this);
        errorBox_->setWindowModality(Qt::NonModal);
    }
    errorBox_->setText(text);
    errorBox_->show();
}

void MainWindow::probeDevice() {
    auto* watcher = new QFutureWatcher<ComputeDevice>(this);
    connect(watcher, &QFutureWatcher<ComputeDevice>::finished, this, [this, watcher] {
        watcher->deleteLater();
        device_ = watcher->result();
        deviceLabel_->setText(tr("Device: %1").arg(device_.name));
        deviceLabel_->setToolTip(device_.description);
        if (!device_.notice.isEmpty()) log_->info(device_.notice);
    });
    watcher->setFuture(QtConcurrent::run(probeComputeDevice, AppSettings().device()));
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (!localPathOf(event->mimeData()).isEmpty()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QString path = localPathOf(event->mimeData());
    if (path.isEmpty()) return;
    event->acceptProposedAction();
    convertAfterOpen_ = tabs_->currentIndex() == RunsTab || event->modifiers().testFlag(Qt::ControlModifier);
    openModel(path);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    AppSettings settings;
    settings.setWindowGeometry(saveGeometry());
    settings.setWindowState(saveState());
    QMainWindow::closeEvent(event);
}

}  // namespace qbui
