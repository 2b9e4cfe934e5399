// The GUI's persistent settings, typed, over QSettings (organisation "Quantbench", application
// "quantbench"; set in main()). Every value has a default, so a fresh installation works.
#pragma once
#include <QByteArray>
#include <QString>
#include <QStringList>

namespace qbui {

class AppSettings {
public:
    static constexpr int kMaxRecentFiles = 8;

    int threads() const;  // 0: all hardware threads
    void setThreads(int threads);
    QString device() const;  // backend preference: "auto", "vulkan" or "cpu" (qb::gpu::select_backend)
    void setDevice(const QString& device);
    QString calibrationText() const;  // default calibration text file, may be empty
    void setCalibrationText(const QString& path);
    QString evaluationText() const;  // default evaluation text file, may be empty
    void setEvaluationText(const QString& path);
    QString protocol() const;  // "llama.cpp" or "paper"
    void setProtocol(const QString& protocol);
    int contextLength() const;
    void setContextLength(int tokens);
    bool darkTheme() const;
    void setDarkTheme(bool dark);

    QByteArray windowGeometry() const;
    void setWindowGeometry(const QByteArray& geometry);
    QByteArray windowState() const;
    void setWindowState(const QByteArray& state);

    QStringList recentFiles() const;  // most recent first
    void addRecentFile(const QString& path);
    void clearRecentFiles();
};

}  // namespace qbui
