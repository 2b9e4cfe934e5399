#include "ui/settings/settings_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QSpinBox>
#include <QThread>
#include <QVBoxLayout>

#include "ui/common/file_field.h"
#include "ui/settings/app_settings.h"

namespace qbui {

SettingsDialog::SettingsDialog(QWidget* parent)
    : QDialog(parent), device_(new QComboBox(this)), threads_(new QSpinBox(this)),
      calibrationText_(new FileField(tr("Calibration text"), tr("Text files (*.txt *.raw *.tokens);;All files (*)"), this)),
      evaluationText_(new FileField(tr("Evaluation text"), tr("Text files (*.txt *.raw *.tokens);;All files (*)"), this)),
      protocol_(new QComboBox(this)), context_(new QSpinBox(this)), darkTheme_(new QCheckBox(tr("Dark palette"), this)) {
    setWindowTitle(tr("Settings"));
    const AppSettings settings;
    device_->addItem(tr("Automatic (a Vulkan GPU if present, else CPU)"), QStringLiteral("auto"));
    device_->addItem(tr("Vulkan (any device, software included)"), QStringLiteral("vulkan"));
    device_->addItem(tr("CPU"), QStringLiteral("cpu"));
    device_->setCurrentIndex(std::max(0, device_->findData(settings.device())));
    threads_->setRange(0, 1024);
    threads_->setSpecialValueText(tr("all (%1)").arg(QThread::idealThreadCount()));
    threads_->setValue(settings.threads());
    calibrationText_->setPath(settings.calibrationText());
    evaluationText_->setPath(settings.evaluationText());
    protocol_->addItem(QStringLiteral("llama.cpp"), QStringLiteral("llama.cpp"));
    protocol_->addItem(QStringLiteral("paper"), QStringLiteral("paper"));
    protocol_->setCurrentIndex(std::max(0, protocol_->findData(settings.protocol())));
    context_->setRange(8, 1 << 20);
    context_->setValue(settings.contextLength());
    darkTheme_->setChecked(settings.darkTheme());

    auto* compute = new QGroupBox(tr("Compute"), this);
    auto* computeForm = new QFormLayout(compute);
    computeForm->addRow(tr("Device:"), device_);
    computeForm->addRow(tr("Threads:"), threads_);
    auto* texts = new QGroupBox(tr("Texts and evaluation"), this);
    auto* textsForm = new QFormLayout(texts);
    textsForm->addRow(tr("Calibration text:"), calibrationText_);
    textsForm->addRow(tr("Evaluation text:"), evaluationText_);
    textsForm->addRow(tr("Protocol:"), protocol_);
    textsForm->addRow(tr("Context (tokens):"), context_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(compute);
    layout->addWidget(texts);
    layout->addWidget(darkTheme_);
    layout->addWidget(buttons);
    resize(620, sizeHint().height());
}

void SettingsDialog::save() const {
    AppSettings settings;
    settings.setDevice(device_->currentData().toString());
    settings.setThreads(threads_->value());
    settings.setCalibrationText(calibrationText_->path());
    settings.setEvaluationText(evaluationText_->path());
    settings.setProtocol(protocol_->currentData().toString());
    settings.setContextLength(context_->value());
    settings.setDarkTheme(darkTheme_->isChecked());
}

}  // namespace qbui
