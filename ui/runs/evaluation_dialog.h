// Asks for the parameters of a perplexity evaluation (text, protocol, context, chunks), prefilled from
// the settings, and shows the equivalent quantbench-cli command as it is edited.
#pragma once
#include <QDialog>

#include "ui/runs/evaluation.h"

class QComboBox;
class QLabel;
class QSpinBox;

namespace qbui {

class FileField;

class EvaluationDialog : public QDialog {
    Q_OBJECT
public:
    EvaluationDialog(const EvaluationRequest& initial, QWidget* parent = nullptr);
    EvaluationRequest request() const;

private:
    void updateCommand();

    EvaluationRequest base_;
    FileField* text_;
    QComboBox* protocol_;
    QSpinBox* context_;
    QSpinBox* chunks_;
    QLabel* command_;
};

}  // namespace qbui
