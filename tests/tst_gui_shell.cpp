// The application shell on stories260K, offscreen at a device pixel ratio of 2 (a high-DPI screen):
// every menu shortcut is unique and the view shortcuts do what their menu says, About names the
// versions of every component and the compute device, the dark palette reaches every plot and back,
// plots draw at the screen's pixel ratio, and the GUI thread is never busy for 100 ms at a stretch
// through a session of jobs (statistics, format probe, cell values, sensitivity, auto-assign,
// perplexity).
#include <QtTest>

#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QTabWidget>
#include <functional>
#include <map>
#include <qcustomplot.h>

#include "tests/support/event_loop_probe.h"
#include "tests/support/modal_watch.h"
#include "tests/support/test_data.h"
#include "ui/explorer/model_explorer.h"
#include "ui/jobs/job_runner.h"
#include "ui/log/message_log.h"
#include "ui/main/main_window.h"
#include "ui/outliers/matrix_block_model.h"
#include "ui/outliers/outlier_map_view.h"
#include "ui/plan/plan_document.h"
#include "ui/runs/evaluation.h"
#include "ui/runs/run_list_model.h"
#include "ui/sensitivity/sensitivity_run.h"
#include "ui/sensitivity/sensitivity_view.h"
#include "ui/session/workspace.h"
#include "ui/style/theme.h"
#include "ui/weights/weight_view.h"

using namespace qbui;

namespace {

QString path(const std::filesystem::path& p) { return QFileInfo(QString::fromStdString(p.string())).absoluteFilePath(); }

void collectActions(const QList<QAction*>& actions, std::vector<QAction*>& out) {
    for (QAction* a : actions) {
        if (a->menu()) collectActions(a->menu()->actions(), out);
        else if (!a->isSeparator()) out.push_back(a);
    }
}

QTabWidget* viewTabs(MainWindow& window) {
    for (QTabWidget* tabs : window.findChildren<QTabWidget*>())
        if (tabs->count() == 5) return tabs;
    return nullptr;
}

}  // namespace

class ShellTest : public QObject {
    Q_OBJECT

    std::unique_ptr<MainWindow> window_;

private slots:
    void initTestCase() {
        qputenv("XDG_CONFIG_HOME", QByteArray::fromStdString((qbtest::scratch_dir() / "config-shell").string()));
        QApplication::setOrganizationName("Quantbench");
        QApplication::setApplicationName("quantbench-test");
        applyTheme(false);
        window_ = std::make_unique<MainWindow>();
        window_->setErrorDialogsEnabled(false);
        window_->resize(1400, 900);
        window_->show();
        QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
    }

    void cleanupTestCase() { window_.reset(); }

    void the_gui_thread_stays_responsive_through_a_session_of_jobs() {
        // Each step is what a user's action does: the request on the GUI thread, then the job until idle.
        QStringList report;
        double longest = 0;
        auto step = [&](const char* name, const std::function<void()>& action, const std::function<bool()>& done) {
            qbtest::EventLoopProbe probe;
            probe.start();
            action();
            QTRY_VERIFY_WITH_TIMEOUT(window_->jobs().isIdle() && done(), 300000);
            QTest::qWait(50);  // deliveries and queued replots
            probe.stop();
            report << QString("%1 %2 ms").arg(name).arg(probe.longestBusyMs(), 0, 'f', 1);
            longest = std::max(longest, probe.longestBusyMs());
        };
        auto always = [] { return true; };
        step("open", [&] { window_->openModel(path(qbtest::stories260k("gguf"))); },
             [&] { return window_->workspace().model() != nullptr; });
        step("statistics + probe", [&] { QVERIFY(window_->explorer()->selectTensor("blk.1.ffn_down")); },
             [&] { return window_->weightView()->probe() != nullptr; });
        step("outlier map", [&] { window_->showTab(MainWindow::OutliersTab); }, always);
        step("cell values", [&] { QVERIFY(window_->outlierView()->selectCell(10, 20)); },
             [&] { return window_->outlierView()->cellValues()->block() != nullptr; });
        SensitivityRequest sensitivity;
        sensitivity.calibrationText = path(qbtest::data_path("text/wiki.valid.tokens"));
        sensitivity.calibrationTokens = 4096;
        sensitivity.evaluationText = path(qbtest::data_path("text/tinystories-snippet-30k.txt"));
        sensitivity.measure = false;
        step("sensitivity", [&] { window_->computeSensitivity(sensitivity); },
             [&] { return window_->sensitivityView()->result() != nullptr; });
        step("sensitivity view", [&] { window_->showTab(MainWindow::SensitivityTab); }, always);
        step("plan view", [&] { window_->showTab(MainWindow::PlanTab); }, always);
        step("auto-assign", [&] { window_->autoAssign(7.5); }, always);
        step("runs view", [&] { window_->showTab(MainWindow::RunsTab); }, always);
        EvaluationRequest evaluation;
        evaluation.textPath = path(qbtest::data_path("text/tinystories-snippet-30k.txt"));
        step("perplexity", [&] { window_->evaluate(evaluation); }, [&] { return window_->runs().rowCount() == 1; });
        QVERIFY2(window_->log().lastError().isEmpty(), qPrintable(window_->log().lastError()));
        qInfo("longest GUI-thread busy stretch per step: %s", qPrintable(report.join(", ")));
        QVERIFY2(longest < qbtest::kNoticeableStallMs,
                 qPrintable(QString("GUI thread busy for %1 ms or more: ").arg(qbtest::kNoticeableStallMs) + report.join(", ")));
    }

    void menu_shortcuts_are_unique_and_switch_the_views() {
        std::vector<QAction*> actions;
        collectActions(window_->menuBar()->actions(), actions);
        std::map<QString, QString> owner;  // shortcut -> action
        int withShortcut = 0;
        for (QAction* a : actions)
            for (const QKeySequence& key : a->shortcuts()) {
                const QString text = key.toString();
                QVERIFY2(!owner.count(text), qPrintable(QString("%1 is both %2 and %3").arg(text, owner[text], a->text())));
                owner[text] = a->text();
                ++withShortcut;
            }
        QVERIFY(withShortcut >= 15);

        window_->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(window_.get()));
        QTabWidget* tabs = viewTabs(*window_);
        QVERIFY(tabs);
        const std::pair<Qt::Key, MainWindow::Tab> views[] = {{Qt::Key_2, MainWindow::OutliersTab},
                                                             {Qt::Key_3, MainWindow::SensitivityTab},
                                                             {Qt::Key_4, MainWindow::PlanTab},
                                                             {Qt::Key_5, MainWindow::RunsTab},
                                                             {Qt::Key_1, MainWindow::WeightsTab}};
        for (const auto& [key, tab] : views) {
            QTest::keyClick(window_.get(), key, Qt::ControlModifier);
            QTRY_COMPARE(tabs->currentIndex(), int(tab));
        }
        QTest::keyClick(window_.get(), Qt::Key_F, Qt::ControlModifier);
        QTRY_VERIFY(window_->explorer()->filterEdit()->hasFocus());
    }

    void about_names_the_versions_of_every_component() {
        std::vector<QAction*> actions;
        collectActions(window_->menuBar()->actions(), actions);
        QAction* about = nullptr;
        for (QAction* a : actions)
            if (a->text().remove('&') == "About Quantbench") about = a;
        QVERIFY(about);
        QString text;
        const auto closer = qbtest::watch_modal<QMessageBox>([&](QMessageBox& box) {
            text = box.text();
            box.accept();
        });
        about->trigger();
        QTRY_VERIFY(!text.isEmpty());
        for (const QString& part : {QString("Quantbench " QB_VERSION), QString("Qt %1").arg(qVersion()),
                                    QString("QCustomPlot " QCUSTOMPLOT_VERSION_STR), QString("HDF5 1."),
                                    QString("Vulkan headers 1."), QString("Compiler"), QString("Compute: ")})
            QVERIFY2(text.contains(part), qPrintable(part + " missing from: " + text));
    }

    void the_dark_palette_reaches_every_plot() {
        const QList<QCustomPlot*> plots = window_->findChildren<QCustomPlot*>();
        QVERIFY(plots.size() >= 5);  // weights (2), outlier map, sensitivity, auto-assign, runs
        for (bool dark : {true, false}) {
            applyTheme(dark);
            QCoreApplication::processEvents();
            const QPalette palette = QApplication::palette();
            QCOMPARE(palette.color(QPalette::Base).lightness() < 128, dark);
            for (QCustomPlot* plot : plots) {
                QVERIFY(plot->axisRectCount() > 0);
                QCOMPARE(plot->axisRect()->backgroundBrush().color(), palette.color(QPalette::Base));
                QCOMPARE(plot->axisRect()->axis(QCPAxis::atBottom)->labelColor(), palette.color(QPalette::Text));
            }
        }
    }

    void plots_draw_at_the_screens_pixel_ratio() {
        QCOMPARE(window_->devicePixelRatioF(), 2.0);
        for (QCustomPlot* plot : window_->findChildren<QCustomPlot*>()) QCOMPARE(plot->bufferDevicePixelRatio(), 2.0);
        QCustomPlot* histogram = window_->findChildren<QCustomPlot*>().front();
        window_->showTab(MainWindow::WeightsTab);
        const QPixmap shot = histogram->grab();
        QCOMPARE(shot.devicePixelRatio(), 2.0);
        QCOMPARE(shot.size(), histogram->size() * 2);
    }
};

int main(int argc, char** argv) {
    qputenv("QT_SCALE_FACTOR", "2");  // a high-DPI screen, as app/gui/main.cpp sets it up
    QGuiApplication::setHighDpiScaleFactorRoundingPolicy(Qt::HighDpiScaleFactorRoundingPolicy::PassThrough);
    QApplication app(argc, argv);
    ShellTest test;
    return QTest::qExec(&test, argc, argv);
}
#include "tst_gui_shell.moc"
