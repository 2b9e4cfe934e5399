#include "ui/sensitivity/sensitivity_dialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include "ui/common/file_field.h"

namespace qbui {

SensitivityDialog::SensitivityDialog(const SensitivityRequest& initial, QWidget* parent)
    : QDialog(parent), base_(initial),
      calibration_(new FileField(tr("Calibration text"), tr("Text files (*.txt *.raw *.tokens);;All files (*)"), this)),
      tokens_(new QSpinBox(this)),
      evaluation_(new FileField(tr("Evaluation text"), tr("Text files (*.txt *.raw *.tokens);;All files (*)"), this)),
      chunks_(new QSpinBox(this)), measure_(new QCheckBox(tr("Measure Δppl and KLD of every tensor and format"), this)),
      command_(new QLabel(this)) {
    setWindowTitle(tr("Compute sensitivity"));
    calibration_->setPath(initial.calibrationText);
    tokens_->setRange(128, 1 << 24);
    tokens_->setSingleStep(1024);
    tokens_->setValue(initial.calibrationTokens);
    evaluation_->setPath(initial.evaluationText);
    chunks_->setRange(2, 1 << 16);
    chunks_->setValue(initial.evaluationChunks);
    chunks_->setSuffix(tr(" chunks of 128 tokens"));
    measure_->setChecked(initial.measure);
    command_->setWordWrap(true);
    command_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Compute"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    for (FileField* field : {calibration_, evaluation_}) connect(field, &FileField::pathChanged, this, &SensitivityDialog::updateCommand);
    for (QSpinBox* spin : {tokens_, chunks_}) connect(spin, &QSpinBox::valueChanged, this, &SensitivityDialog::updateCommand);
    connect(measure_, &QCheckBox::toggled, this, &SensitivityDialog::updateCommand);

    auto* form = new QFormLayout;
    form->addRow(tr("Calibration text:"), calibration_);
    form->addRow(tr("Calibration tokens:"), tokens_);
    form->addRow(tr("Evaluation text:"), evaluation_);
    form->addRow(tr("Evaluation:"), chunks_);
    form->addRow(QString(), measure_);
    form->addRow(tr("Command line:"), command_);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(buttons);
    resize(720, sizeHint().height());
    updateCommand();
}

SensitivityRequest SensitivityDialog::request() const {
    SensitivityRequest r = base_;
    r.calibrationText = calibration_->path();
    r.calibrationTokens = tokens_->value();
    r.evaluationText = evaluation_->path();
    r.evaluationChunks = chunks_->value();
    r.measure = measure_->isChecked();
    return r;
}

void SensitivityDialog::updateCommand() { command_->setText(sensitivityCliCommand(request())); }

}  // namespace qbui
