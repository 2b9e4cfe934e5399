// Quantbench's main window: model explorer (left), weight view / outlier map / runs (tabs), log
// (bottom), job progress and compute device in the status bar. A model opens from the File menu, a
// recent file, the command line, or by dropping a file or folder anywhere on the window; dropped on
// the Runs tab (or with Ctrl held) it opens and the conversion dialog follows. Every long
// action is a job of the JobRunner; every job and error lands in the log (errors also in a
// non-modal dialog).
#pragma once
#include <QMainWindow>
#include <QString>

#include "ui/device/compute_device.h"
#include "ui/runs/evaluation.h"
#include "ui/runs/quantize_run.h"
#include "ui/sensitivity/sensitivity_run.h"

class QAction;
class QLabel;
class QMenu;
class QMessageBox;
class QTabWidget;
class QTableView;

namespace qbui {

class JobPanel;
class JobRunner;
class MessageLog;
class ModelExplorer;
class OutlierMapView;
class PlanDocument;
class PlanEditor;
class RunListModel;
class RunsView;
class SensitivityView;
class WeightAnalysis;
class WeightView;
class Workspace;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    enum Tab { WeightsTab, OutliersTab, SensitivityTab, PlanTab, RunsTab };

    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    void openModel(const QString& path);
    void evaluate(const EvaluationRequest& request);  // EvaluationRequest::modelPath is the open model's
    void exportWeightStatsTo(const QString& path);
    // RunRequest::modelPath is the open model's; announce: show the result (size, Δppl) in a box at the end.
    void quantize(const RunRequest& request, bool announce = false);
    void exportReportTo(const QString& path);     // the session's quantize runs, as `quantbench-cli report`
    void computeSensitivity(const SensitivityRequest& request);
    void openAnalysisFile(const QString& path);  // its sensitivity table, or a calibration's activations
    void autoAssign(double bitsPerWeight);       // the plan from the sensitivity results at hand
    void showTab(Tab tab);
    void setErrorDialogsEnabled(bool enabled) { errorDialogsEnabled_ = enabled; }

    Workspace& workspace() const { return *workspace_; }
    JobRunner& jobs() const { return *jobs_; }
    MessageLog& log() const { return *log_; }
    ModelExplorer* explorer() const { return explorer_; }
    WeightView* weightView() const { return weightView_; }
    OutlierMapView* outlierView() const { return outlierView_; }
    RunListModel& runs() const { return *runs_; }
    RunsView* runsView() const { return runsView_; }
    SensitivityView* sensitivityView() const { return sensitivityView_; }
    PlanDocument& plan() const { return *plan_; }
    PlanEditor* planEditor() const { return planEditor_; }
    JobPanel* jobPanel() const { return jobPanel_; }
    QString deviceName() const { return device_.name; }

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void createViews();
    void createDocks();
    void createActions();
    void createStatusBar();
    void connectJobsToLog();
    void connectAnalysis();
    void connectPlan();
    void onModelChanged();
    void fillRecentMenu();
    void openFromDialog();
    void evaluateFromDialog();
    void exportStatsFromDialog();
    void quantizeFromDialog();
    void exportReportFromDialog();
    void showRunSummary(const qb::RunResult& run, bool announce);
    void sensitivityFromDialog();
    void openAnalysisFromDialog();
    void showSensitivity(SensitivityOutcome outcome);
    void updateTreeSensitivity();
    void showSettings();
    void showAbout();
    void showError(const QString& text);
    void probeDevice();

    Workspace* workspace_;
    JobRunner* jobs_;
    MessageLog* log_;
    WeightAnalysis* analysis_;
    RunListModel* runs_;
    PlanDocument* plan_;
    PlanEditor* planEditor_ = nullptr;
    ModelExplorer* explorer_ = nullptr;
    QTabWidget* tabs_ = nullptr;
    WeightView* weightView_ = nullptr;
    OutlierMapView* outlierView_ = nullptr;
    RunsView* runsView_ = nullptr;
    SensitivityView* sensitivityView_ = nullptr;
    QTableView* logTable_ = nullptr;
    JobPanel* jobPanel_ = nullptr;
    QLabel* modelLabel_ = nullptr;
    QLabel* deviceLabel_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QAction* evaluateAction_ = nullptr;
    QAction* exportStatsAction_ = nullptr;
    QAction* exportReportAction_ = nullptr;
    QAction* quantizeAction_ = nullptr;
    QAction* sensitivityAction_ = nullptr;
    QMessageBox* errorBox_ = nullptr;
    ComputeDevice device_;
    bool errorDialogsEnabled_ = true;
    bool convertAfterOpen_ = false;  // a model dropped on the Runs tab opens the conversion dialog
    QString sensitivityFile_;        // where the sensitivity results came from (for recorded commands)
};

}  // namespace qbui
