// Asks for the texts and sizes of a sensitivity analysis (calibration text and tokens, evaluation text
// and chunks, estimates only or measured too) and shows the equivalent CLI commands.
#pragma once
#include <QDialog>

#include "ui/sensitivity/sensitivity_run.h"

class QCheckBox;
class QLabel;
class QSpinBox;

namespace qbui {

class FileField;

class SensitivityDialog : public QDialog {
    Q_OBJECT
public:
    SensitivityDialog(const SensitivityRequest& initial, QWidget* parent = nullptr);
    SensitivityRequest request() const;

private:
    void updateCommand();

    SensitivityRequest base_;
    FileField* calibration_;
    QSpinBox* tokens_;
    FileField* evaluation_;
    QSpinBox* chunks_;
    QCheckBox* measure_;
    QLabel* command_;
};

}  // namespace qbui
