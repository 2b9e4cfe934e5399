// Preferences: compute device and threads, default calibration and evaluation texts, evaluation
// protocol and context, dark palette. Applied to AppSettings when accepted.
#pragma once
#include <QDialog>

class QCheckBox;
class QComboBox;
class QSpinBox;

namespace qbui {

class FileField;

class SettingsDialog : public QDialog {
    Q_OBJECT
public:
    explicit SettingsDialog(QWidget* parent = nullptr);
    void save() const;  // writes the dialog's values to AppSettings

private:
    QComboBox* device_;
    QSpinBox* threads_;
    FileField* calibrationText_;
    FileField* evaluationText_;
    QComboBox* protocol_;
    QSpinBox* context_;
    QCheckBox* darkTheme_;
};

}  // namespace qbui
