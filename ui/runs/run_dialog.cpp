#include "ui/runs/run_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include "core/plan/presets.h"
#include "ui/common/file_field.h"
#include "ui/common/units.h"
#include "ui/session/cli_command.h"

namespace qbui {
namespace {

const QString kTextFilter = QObject::tr("Text files (*.txt *.raw *.tokens);;All files (*)");

}  // namespace

RunDialog::RunDialog(const qb::Model& model, const qb::QuantPlan& currentPlan, qb::PlanTarget currentTarget,
                     const RunRequest& defaults, QWidget* parent)
    : QDialog(parent), model_(model), currentPlan_(currentPlan), defaults_(defaults),
      useCurrent_(new QRadioButton(tr("The plan in the editor (%1)").arg(qtext(currentPlan.name.empty() ? "unnamed" : currentPlan.name)), this)),
      usePreset_(new QRadioButton(tr("llama.cpp preset"), this)), useBudget_(new QRadioButton(tr("Automatic, bits per weight"), this)),
      preset_(new QComboBox(this)), bpw_(new QDoubleSpinBox(this)), target_(new QComboBox(this)),
      output_(new FileField(tr("Output"), tr("GGUF (*.gguf);;All files (*)"), this, FileField::Mode::Save)),
      calibration_(new FileField(tr("Calibration text"), kTextFilter, this)), evaluation_(new FileField(tr("Evaluation text"), kTextFilter, this)),
      kld_(new QCheckBox(tr("KL divergence and top-1 agreement against the original"), this)), chunks_(new QSpinBox(this)),
      device_(new QComboBox(this)), command_(new QLabel(this)) {
    setWindowTitle(tr("Quantize %1").arg(QFileInfo(qtext(model.source_path.string())).fileName()));
    for (const qb::PresetInfo& p : qb::presets()) preset_->addItem(qtext(std::string(p.name)));
    preset_->setCurrentText(QStringLiteral("q4_k_m"));
    bpw_->setRange(1.5, 16.0);
    bpw_->setSingleStep(0.25);
    bpw_->setValue(4.5);
    for (qb::PlanTarget t : {qb::PlanTarget::Gguf, qb::PlanTarget::SafetensorsFake, qb::PlanTarget::Gptq})
        target_->addItem(qtext(std::string(qb::plan_target_name(t))), int(t));
    target_->setCurrentIndex(std::max(0, target_->findData(int(currentTarget))));
    useCurrent_->setChecked(true);
    calibration_->setPath(defaults.calibrationText);
    evaluation_->setPath(defaults.evaluationText);
    chunks_->setRange(0, 1 << 20);
    chunks_->setSpecialValueText(tr("all"));
    chunks_->setValue(defaults.maxChunks);
    kld_->setChecked(defaults.kld);
    device_->addItem(tr("Automatic (a Vulkan GPU if present, else CPU)"), QStringLiteral("auto"));
    device_->addItem(tr("Vulkan (any device, software included)"), QStringLiteral("vulkan"));
    device_->addItem(tr("CPU"), QStringLiteral("cpu"));
    device_->setCurrentIndex(std::max(0, device_->findData(defaults.device)));
    device_->setToolTip(tr("Where encoding and GPTQ's block updates run; the same bytes on every device for "
                           "deterministic formats"));
    command_->setWordWrap(true);
    command_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    output_->setPath(suggestedOutput());

    auto* what = new QGroupBox(tr("What to run"), this);
    auto* whatLayout = new QGridLayout(what);
    whatLayout->addWidget(useCurrent_, 0, 0, 1, 2);
    whatLayout->addWidget(usePreset_, 1, 0);
    whatLayout->addWidget(preset_, 1, 1);
    whatLayout->addWidget(useBudget_, 2, 0);
    whatLayout->addWidget(bpw_, 2, 1);
    auto* form = new QFormLayout;
    form->addRow(tr("Output format:"), target_);
    form->addRow(tr("Output:"), output_);
    form->addRow(tr("Calibration text:"), calibration_);
    form->addRow(tr("Evaluation text:"), evaluation_);
    form->addRow(tr("Evaluation chunks:"), chunks_);
    form->addRow(QString(), kld_);
    form->addRow(tr("Compute device:"), device_);
    form->addRow(tr("Command line:"), command_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Run"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    for (QRadioButton* choice : {useCurrent_, usePreset_, useBudget_})
        connect(choice, &QRadioButton::toggled, this, [this] {
            output_->setPath(suggestedOutput());
            updateCommand();
        });
    connect(preset_, &QComboBox::currentTextChanged, this, [this] {
        usePreset_->setChecked(true);
        output_->setPath(suggestedOutput());
    });
    connect(bpw_, &QDoubleSpinBox::valueChanged, this, [this] {
        useBudget_->setChecked(true);
        output_->setPath(suggestedOutput());
    });
    connect(target_, &QComboBox::currentIndexChanged, this, [this] { output_->setPath(suggestedOutput()); });
    for (FileField* field : {output_, calibration_, evaluation_}) connect(field, &FileField::pathChanged, this, &RunDialog::updateCommand);
    connect(chunks_, &QSpinBox::valueChanged, this, &RunDialog::updateCommand);
    connect(kld_, &QCheckBox::toggled, this, &RunDialog::updateCommand);
    connect(device_, &QComboBox::currentIndexChanged, this, &RunDialog::updateCommand);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(what);
    layout->addLayout(form);
    layout->addWidget(buttons);
    resize(760, sizeHint().height());
    updateCommand();
}

QString RunDialog::suggestedOutput() const {
    const QFileInfo source(qtext(model_.source_path.string()));
    const QString base = source.isDir() ? source.fileName() : source.completeBaseName();
    QString config = useCurrent_->isChecked() ? qtext(currentPlan_.name.empty() ? "plan" : currentPlan_.name)
                     : usePreset_->isChecked() ? preset_->currentText()
                                               : QStringLiteral("auto-%1bpw").arg(bpw_->value());
    const bool gguf = qb::PlanTarget(target_->currentData().toInt()) == qb::PlanTarget::Gguf;
    return QDir(source.absolutePath()).filePath(QStringLiteral("%1.%2%3").arg(base, config, gguf ? QStringLiteral(".gguf") : QString()));
}

RunRequest RunDialog::request() const {
    RunRequest r = defaults_;
    r.modelPath = qtext(model_.source_path.string());
    r.output = output_->path();
    r.target = qb::PlanTarget(target_->currentData().toInt());
    r.plan.reset();
    if (useCurrent_->isChecked()) r.plan = currentPlan_;
    if (usePreset_->isChecked()) r.plan = qb::preset_plan(preset_->currentText().toStdString(), model_);
    r.targetBpw = useBudget_->isChecked() ? bpw_->value() : 0.0;
    r.calibrationText = calibration_->path();
    r.evaluationText = evaluation_->path();
    r.maxChunks = chunks_->value();
    r.kld = kld_->isChecked() && !r.evaluationText.isEmpty();
    r.device = device_->currentData().toString();
    return r;
}

void RunDialog::updateCommand() {
    try {
        command_->setText(cliCommand(quantizeCliArguments(request())));
    } catch (const std::exception& e) {
        command_->setText(qtext(e.what()));
    }
}

}  // namespace qbui
