#include "ui/jobs/job_runner.h"

#include <QFutureWatcher>
#include <QtConcurrent>
#include <new>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace qbui {
namespace {

// Jobs run at a lower CPU priority than the GUI thread (Linux nice values are per thread and inherited
// by the threads a job starts), so a job using every core still leaves the event loop its time slices.
constexpr int kJobNiceness = 10;

void lowerThisThreadsPriority() {
    const auto thread = id_t(::syscall(SYS_gettid));
    if (::getpriority(PRIO_PROCESS, thread) < kJobNiceness) ::setpriority(PRIO_PROCESS, thread, kJobNiceness);
}

}  // namespace

JobRunner::JobRunner(QObject* parent) : QObject(parent) {
    qRegisterMetaType<JobProgress>();
    progressTimer_.setInterval(kProgressIntervalMs);
    connect(&progressTimer_, &QTimer::timeout, this, &JobRunner::publishProgress);
}

JobRunner::~JobRunner() {
    cancelAll();
    if (running_) future_.waitForFinished();
}

int JobRunner::submit(JobSpec spec) {
    Job job;
    job.id = nextId_++;
    job.spec = std::move(spec);
    job.progress = std::make_shared<SharedProgress>();
    job.control = std::make_shared<qb::JobControl>([progress = job.progress](double fraction, std::string_view what) {
        const QString text = QString::fromUtf8(what.data(), qsizetype(what.size()));
        std::lock_guard lock(progress->mutex);
        progress->fraction = fraction;
        progress->what = text;
    });
    const int id = job.id;
    queue_.push_back(std::move(job));
    emit queueChanged(queuedCount());
    startNext();
    return id;
}

void JobRunner::cancel(int id) {
    if (running_ && running_->id == id) {
        running_->control->cancel();
        return;
    }
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (it->id != id) continue;
        const QString title = it->spec.title;
        queue_.erase(it);
        emit jobCancelled(id, title);
        emit queueChanged(queuedCount());
        if (isIdle()) emit idle();
        return;
    }
}

void JobRunner::cancelAll() {
    while (!queue_.empty()) cancel(queue_.back().id);
    if (running_) cancel(running_->id);
}

JobRunner::Outcome JobRunner::execute(const JobWork& work, qb::JobControl& control) {
    lowerThisThreadsPriority();
    Outcome outcome;
    try {
        outcome.delivery = work(control);
    } catch (const qb::Cancelled&) {
        outcome.cancelled = true;
    } catch (const std::bad_alloc&) {
        outcome.error = QStringLiteral("out of memory");
    } catch (const std::exception& e) {
        outcome.error = QString::fromStdString(e.what());
    }
    return outcome;
}

void JobRunner::startNext() {
    if (running_) return;
    if (queue_.empty()) {
        emit idle();
        return;
    }
    running_ = std::make_unique<Job>(std::move(queue_.front()));
    queue_.pop_front();
    emit queueChanged(queuedCount());
    emit jobStarted(running_->id, running_->spec.title, running_->spec.cliEquivalent);

    auto* watcher = new QFutureWatcher<Outcome>(this);
    connect(watcher, &QFutureWatcher<Outcome>::finished, this, [this, watcher] {
        watcher->deleteLater();
        finishRunning(watcher->result());
    });
    clock_.start();
    future_ = QtConcurrent::run([work = running_->spec.work, control = running_->control] {
        return execute(work, *control);
    });
    watcher->setFuture(future_);
    progressTimer_.start();
}

void JobRunner::finishRunning(const Outcome& outcome) {
    progressTimer_.stop();
    const std::unique_ptr<Job> job = std::move(running_);
    const double seconds = double(clock_.elapsed()) / 1000.0;
    if (outcome.cancelled) {
        emit jobCancelled(job->id, job->spec.title);
    } else if (!outcome.error.isEmpty()) {
        emit jobFailed(job->id, job->spec.title, outcome.error);
    } else {
        try {
            if (outcome.delivery) outcome.delivery();
            emit jobFinished(job->id, job->spec.title, seconds);
        } catch (const std::exception& e) {
            emit jobFailed(job->id, job->spec.title, QString::fromStdString(e.what()));
        }
    }
    startNext();
}

void JobRunner::publishProgress() {
    if (!running_) return;
    JobProgress progress;
    {
        std::lock_guard lock(running_->progress->mutex);
        progress.fraction = running_->progress->fraction;
        progress.what = running_->progress->what;
    }
    const double elapsed = double(clock_.elapsed()) / 1000.0;
    if (progress.fraction > 0.01) progress.etaSeconds = elapsed * (1.0 - progress.fraction) / progress.fraction;
    emit progressChanged(running_->id, progress);
}

}  // namespace qbui
