// What `quantbench` does on start when asked on the command line: open a model, select a tensor, a
// format and an outlier-map cell, run an evaluation and quantize runs, show a tab, then save a
// screenshot of the window and quit. Each step waits until the job queue has been idle for a moment (the views' debounced
// requests included), so a screenshot shows finished results.
#pragma once
#include <QObject>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <deque>
#include <functional>

namespace qbui {

class MainWindow;

struct StartupOptions {
    QString model;
    QString tensor;
    QString format;
    int cellRow = -1, cellCol = -1;
    QString evaluationText;
    QString sensitivityCalibration;  // compute sensitivity with this calibration text (evaluated on evaluationText)
    double autoAssignBpw = 0;        // then assign the plan automatically for this budget
    QStringList presets;  // quantize with each (evaluated on evaluationText when given) into outputDir
    QString outputDir;
    QString tab;         // "weights", "outliers", "plan", "runs"
    QString screenshot;  // PNG path; the application quits after saving it
};

class StartupScript : public QObject {
    Q_OBJECT
public:
    StartupScript(MainWindow& window, const StartupOptions& options);
    void start();

signals:
    void finished(bool ok);

private:
    void poll();
    void saveScreenshot(const QString& path);

    MainWindow& window_;
    std::deque<std::function<void()>> steps_;
    QTimer poll_;
    int idlePolls_ = 0;
};

}  // namespace qbui
