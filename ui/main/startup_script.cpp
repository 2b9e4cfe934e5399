#include "ui/main/startup_script.h"

#include <QApplication>
#include <QDir>
#include <QFileInfo>
#include <QPixmap>

#include "core/plan/presets.h"

#include "ui/explorer/model_explorer.h"
#include "ui/jobs/job_runner.h"
#include "ui/log/message_log.h"
#include "ui/main/main_window.h"
#include "ui/outliers/outlier_map_view.h"
#include "ui/session/workspace.h"
#include "ui/settings/app_settings.h"
#include "ui/weights/weight_view.h"

namespace qbui {
namespace {

constexpr int kPollMs = 150;
constexpr int kSettledPolls = 4;  // idle this many polls in a row: longer than the views' request delays

MainWindow::Tab tabNamed(const QString& name) {
    if (name == QLatin1String("outliers")) return MainWindow::OutliersTab;
    if (name == QLatin1String("sensitivity")) return MainWindow::SensitivityTab;
    if (name == QLatin1String("plan")) return MainWindow::PlanTab;
    if (name == QLatin1String("runs")) return MainWindow::RunsTab;
    return MainWindow::WeightsTab;
}

}  // namespace

StartupScript::StartupScript(MainWindow& window, const StartupOptions& o) : QObject(&window), window_(window) {
    if (!o.model.isEmpty()) steps_.push_back([this, path = o.model] { window_.openModel(path); });
    if (!o.tensor.isEmpty())
        steps_.push_back([this, tensor = o.tensor] {
            if (!window_.explorer()->selectTensor(tensor)) window_.log().error(tr("No tensor named %1").arg(tensor));
        });
    if (!o.format.isEmpty())
        steps_.push_back([this, format = o.format] {
            if (!window_.weightView()->selectFormat(format)) window_.log().error(tr("Format %1 does not fit this tensor").arg(format));
        });
    if (o.cellRow >= 0) steps_.push_back([this, r = o.cellRow, c = o.cellCol] { window_.outlierView()->selectCell(r, c); });
    if (!o.evaluationText.isEmpty())
        steps_.push_back([this, text = o.evaluationText] {
            const AppSettings settings;
            EvaluationRequest request;
            request.textPath = text;
            request.protocol = settings.protocol();
            request.contextLength = settings.contextLength();
            request.threads = settings.threads();
            window_.evaluate(request);
        });
    if (!o.sensitivityCalibration.isEmpty())
        steps_.push_back([this, o] {
            SensitivityRequest request;
            request.calibrationText = o.sensitivityCalibration;
            request.evaluationText = o.evaluationText;
            window_.computeSensitivity(request);
        });
    if (o.autoAssignBpw > 0) steps_.push_back([this, bpw = o.autoAssignBpw] { window_.autoAssign(bpw); });
    for (const QString& preset : o.presets)
        steps_.push_back([this, preset, o] {
            const ModelPtr& model = window_.workspace().model();
            if (!model) return;
            RunRequest request;
            request.plan = qb::preset_plan(preset.toStdString(), *model);
            request.output = QDir(o.outputDir).filePath(QFileInfo(window_.workspace().modelPath()).completeBaseName() + '.' + preset + ".gguf");
            request.evaluationText = o.evaluationText;
            window_.quantize(request);
        });
    if (!o.tab.isEmpty()) steps_.push_back([this, tab = o.tab] { window_.showTab(tabNamed(tab)); });
    if (!o.screenshot.isEmpty()) steps_.push_back([this, path = o.screenshot] { saveScreenshot(path); });
    poll_.setInterval(kPollMs);
    connect(&poll_, &QTimer::timeout, this, &StartupScript::poll);
}

void StartupScript::start() {
    if (!steps_.empty()) poll_.start();
}

void StartupScript::poll() {
    idlePolls_ = window_.jobs().isIdle() ? idlePolls_ + 1 : 0;
    if (idlePolls_ < kSettledPolls) return;
    idlePolls_ = 0;
    const auto step = std::move(steps_.front());
    steps_.pop_front();
    step();
    if (steps_.empty()) poll_.stop();
}

void StartupScript::saveScreenshot(const QString& path) {
    const bool ok = window_.grab().save(path);
    if (!ok) window_.log().error(tr("Cannot write the screenshot %1").arg(path));
    emit finished(ok && window_.log().lastError().isEmpty());
}

}  // namespace qbui
