#include "ui/jobs/job_panel.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QToolButton>
#include <cmath>

#include "ui/common/units.h"
#include "ui/jobs/job_runner.h"

namespace qbui {

JobPanel::JobPanel(JobRunner& runner, QWidget* parent)
    : QWidget(parent), runner_(runner), label_(new QLabel(this)), bar_(new QProgressBar(this)), eta_(new QLabel(this)),
      queued_(new QLabel(this)), cancel_(new QToolButton(this)) {
    bar_->setFixedWidth(180);
    bar_->setTextVisible(true);
    cancel_->setText(tr("Cancel"));
    cancel_->setToolTip(tr("Cancel the running job (Esc)"));
    cancel_->setAutoRaise(true);
    connect(cancel_, &QToolButton::clicked, this, [this] { runner_.cancel(runner_.runningId()); });
    connect(&runner_, &JobRunner::jobStarted, this, &JobPanel::onStarted);
    connect(&runner_, &JobRunner::progressChanged, this, &JobPanel::onProgress);
    connect(&runner_, &JobRunner::queueChanged, this, &JobPanel::onQueueChanged);
    connect(&runner_, &JobRunner::idle, this, &JobPanel::showIdle);

    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(label_);
    layout->addWidget(bar_);
    layout->addWidget(eta_);
    layout->addWidget(queued_);
    layout->addWidget(cancel_);
    showIdle();
}

void JobPanel::onStarted(int, const QString& title) {
    title_ = title;
    label_->setText(title);
    bar_->setRange(0, 0);  // busy until the first progress report
    bar_->setVisible(true);
    eta_->clear();
    cancel_->setEnabled(true);
}

void JobPanel::onProgress(int, const JobProgress& progress) {
    if (progress.fraction > 0) bar_->setRange(0, 1000);
    bar_->setValue(int(std::lround(progress.fraction * 1000)));
    bar_->setFormat(QStringLiteral("%1%").arg(progress.fraction * 100, 0, 'f', 0));
    label_->setText(progress.what.isEmpty() ? title_ : QStringLiteral("%1 — %2").arg(title_, progress.what));
    eta_->setText(progress.etaSeconds >= 0 ? tr("ETA %1").arg(durationText(progress.etaSeconds)) : QString());
}

void JobPanel::onQueueChanged(int queued) { queued_->setText(queued > 0 ? tr("+%1 queued").arg(queued) : QString()); }

void JobPanel::showIdle() {
    title_.clear();
    label_->setText(tr("Ready"));
    bar_->setRange(0, 1000);
    bar_->setValue(0);
    bar_->setVisible(false);
    eta_->clear();
    queued_->clear();
    cancel_->setEnabled(false);
}

QString JobPanel::statusText() const { return label_->text(); }

}  // namespace qbui
