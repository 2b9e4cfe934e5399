// Quantize / convert the open model: what to run (the plan being edited, a llama.cpp preset, or an
// automatic plan for a bits-per-weight budget), the output format and location, the calibration and
// evaluation texts; shows the equivalent quantbench-cli command as it is edited. Also the dialog a
// dropped model's conversion goes through.
#pragma once
#include <QDialog>

#include "core/model/model.h"
#include "core/plan/quant_plan.h"
#include "ui/runs/quantize_run.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QRadioButton;
class QSpinBox;

namespace qbui {

class FileField;

class RunDialog : public QDialog {
    Q_OBJECT
public:
    // currentPlan: the plan editor's plan and target, offered first; request: defaults (texts, protocol, ...).
    RunDialog(const qb::Model& model, const qb::QuantPlan& currentPlan, qb::PlanTarget currentTarget,
              const RunRequest& defaults, QWidget* parent = nullptr);
    RunRequest request() const;

private:
    void updateCommand();
    QString suggestedOutput() const;

    const qb::Model& model_;
    qb::QuantPlan currentPlan_;
    RunRequest defaults_;
    QRadioButton* useCurrent_;
    QRadioButton* usePreset_;
    QRadioButton* useBudget_;
    QComboBox* preset_;
    QDoubleSpinBox* bpw_;
    QComboBox* target_;
    FileField* output_;
    FileField* calibration_;
    FileField* evaluation_;
    QCheckBox* kld_;
    QSpinBox* chunks_;
    QComboBox* device_;
    QLabel* command_;
};

}  // namespace qbui
