#include "ui/settings/app_settings.h"

#include <QSettings>

namespace qbui {
namespace {

const QString kThreads = QStringLiteral("compute/threads");
const QString kDevice = QStringLiteral("compute/device");
const QString kCalibrationText = QStringLiteral("texts/calibration");
const QString kEvaluationText = QStringLiteral("texts/evaluation");
const QString kProtocol = QStringLiteral("evaluation/protocol");
const QString kContext = QStringLiteral("evaluation/context");
const QString kDarkTheme = QStringLiteral("view/dark_theme");
const QString kWindowGeometry = QStringLiteral("window/geometry");
const QString kWindowState = QStringLiteral("window/state");
const QString kRecentFiles = QStringLiteral("files/recent");

}  // namespace

int AppSettings::threads() const { return QSettings().value(kThreads, 0).toInt(); }
void AppSettings::setThreads(int threads) { QSettings().setValue(kThreads, threads); }
QString AppSettings::device() const { return QSettings().value(kDevice, QStringLiteral("auto")).toString(); }
void AppSettings::setDevice(const QString& device) { QSettings().setValue(kDevice, device); }
QString AppSettings::calibrationText() const { return QSettings().value(kCalibrationText).toString(); }
void AppSettings::setCalibrationText(const QString& path) { QSettings().setValue(kCalibrationText, path); }
QString AppSettings::evaluationText() const { return QSettings().value(kEvaluationText).toString(); }
void AppSettings::setEvaluationText(const QString& path) { QSettings().setValue(kEvaluationText, path); }
QString AppSettings::protocol() const { return QSettings().value(kProtocol, QStringLiteral("llama.cpp")).toString(); }
void AppSettings::setProtocol(const QString& protocol) { QSettings().setValue(kProtocol, protocol); }
int AppSettings::contextLength() const { return QSettings().value(kContext, 512).toInt(); }
void AppSettings::setContextLength(int tokens) { QSettings().setValue(kContext, tokens); }
bool AppSettings::darkTheme() const { return QSettings().value(kDarkTheme, false).toBool(); }
void AppSettings::setDarkTheme(bool dark) { QSettings().setValue(kDarkTheme, dark); }

QByteArray AppSettings::windowGeometry() const { return QSettings().value(kWindowGeometry).toByteArray(); }
void AppSettings::setWindowGeometry(const QByteArray& geometry) { QSettings().setValue(kWindowGeometry, geometry); }
QByteArray AppSettings::windowState() const { return QSettings().value(kWindowState).toByteArray(); }
void AppSettings::setWindowState(const QByteArray& state) { QSettings().setValue(kWindowState, state); }

QStringList AppSettings::recentFiles() const { return QSettings().value(kRecentFiles).toStringList(); }

void AppSettings::addRecentFile(const QString& path) {
    QStringList files = recentFiles();
    files.removeAll(path);
    files.prepend(path);
    while (files.size() > kMaxRecentFiles) files.removeLast();
    QSettings().setValue(kRecentFiles, files);
}

void AppSettings::clearRecentFiles() { QSettings().remove(kRecentFiles); }

}  // namespace qbui
