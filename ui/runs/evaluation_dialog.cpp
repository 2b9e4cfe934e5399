#include "ui/runs/evaluation_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include "ui/common/file_field.h"
#include "ui/session/cli_command.h"

namespace qbui {

EvaluationDialog::EvaluationDialog(const EvaluationRequest& initial, QWidget* parent)
    : QDialog(parent), base_(initial),
      text_(new FileField(tr("Evaluation text"), tr("Text files (*.txt *.raw *.tokens);;All files (*)"), this)),
      protocol_(new QComboBox(this)), context_(new QSpinBox(this)), chunks_(new QSpinBox(this)), command_(new QLabel(this)) {
    setWindowTitle(tr("Evaluate perplexity"));
    text_->setPath(initial.textPath);
    protocol_->addItem(tr("llama.cpp (score the second half of each chunk)"), QStringLiteral("llama.cpp"));
    protocol_->addItem(tr("paper (score every position)"), QStringLiteral("paper"));
    protocol_->setCurrentIndex(std::max(0, protocol_->findData(initial.protocol)));
    context_->setRange(8, 1 << 20);
    context_->setValue(initial.contextLength);
    chunks_->setRange(0, 1 << 20);
    chunks_->setSpecialValueText(tr("all"));
    chunks_->setValue(initial.maxChunks);
    command_->setWordWrap(true);
    command_->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Evaluate"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(text_, &FileField::pathChanged, this, [this, buttons] {
        buttons->button(QDialogButtonBox::Ok)->setEnabled(!text_->path().isEmpty());
        updateCommand();
    });
    connect(protocol_, &QComboBox::currentIndexChanged, this, &EvaluationDialog::updateCommand);
    connect(context_, &QSpinBox::valueChanged, this, &EvaluationDialog::updateCommand);
    connect(chunks_, &QSpinBox::valueChanged, this, &EvaluationDialog::updateCommand);
    buttons->button(QDialogButtonBox::Ok)->setEnabled(!text_->path().isEmpty());

    auto* form = new QFormLayout;
    form->addRow(tr("Text:"), text_);
    form->addRow(tr("Protocol:"), protocol_);
    form->addRow(tr("Context (tokens):"), context_);
    form->addRow(tr("Chunks:"), chunks_);
    form->addRow(tr("Command line:"), command_);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(buttons);
    resize(640, sizeHint().height());
    updateCommand();
}

EvaluationRequest EvaluationDialog::request() const {
    EvaluationRequest request = base_;
    request.textPath = text_->path();
    request.protocol = protocol_->currentData().toString();
    request.contextLength = context_->value();
    request.maxChunks = chunks_->value();
    return request;
}

void EvaluationDialog::updateCommand() { command_->setText(cliCommand(evaluationCliArguments(request()))); }

}  // namespace qbui
