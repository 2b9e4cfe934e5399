// Runs every long action of the GUI off the GUI thread, one at a time, in submission order.
// A job's work runs on a pool thread at a lower CPU priority (nice 10) with a qb::JobControl; its progress reaches the GUI thread at most
// every kProgressIntervalMs (no flood of queued events), cancel() reaches the core through the control.
// The work returns a JobDelivery, which runs on the GUI thread when the job has finished: results are
// handed to models and views there, never touched by the worker afterwards.
#pragma once
#include <QElapsedTimer>
#include <QFuture>
#include <QObject>
#include <QString>
#include <QTimer>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "core/jobs/job.h"

namespace qbui {

using JobDelivery = std::function<void()>;
using JobWork = std::function<JobDelivery(qb::JobControl& control)>;

struct JobSpec {
    QString title;          // "Statistics of blk.0.attn_q"
    QString cliEquivalent;  // the quantbench-cli command doing the same, for the log
    JobWork work;
};

struct JobProgress {
    double fraction = 0;
    QString what;
    double etaSeconds = -1;  // < 0: not known yet
};

class JobRunner : public QObject {
    Q_OBJECT
public:
    static constexpr int kProgressIntervalMs = 50;

    explicit JobRunner(QObject* parent = nullptr);
    ~JobRunner() override;  // cancels everything and waits for the running work

    int submit(JobSpec spec);  // returns the job id
    void cancel(int id);       // running or queued; unknown ids are ignored
    void cancelAll();
    bool isIdle() const { return !running_ && queue_.empty(); }
    int queuedCount() const { return int(queue_.size()); }
    int runningId() const { return running_ ? running_->id : 0; }
    QString runningTitle() const { return running_ ? running_->spec.title : QString(); }

signals:
    void jobStarted(int id, const QString& title, const QString& cliEquivalent);
    void progressChanged(int id, const JobProgress& progress);
    void jobFinished(int id, const QString& title, double seconds);
    void jobCancelled(int id, const QString& title);
    void jobFailed(int id, const QString& title, const QString& message);
    void queueChanged(int queued);
    void idle();

private:
    // What the worker reports, read by the GUI thread's progress timer.
    struct SharedProgress {
        std::mutex mutex;
        double fraction = 0;
        QString what;
    };
    struct Job {
        int id = 0;
        JobSpec spec;
        std::shared_ptr<qb::JobControl> control;
        std::shared_ptr<SharedProgress> progress;
    };
    struct Outcome {
        JobDelivery delivery;
        bool cancelled = false;
        QString error;  // empty on success
    };

    void startNext();
    void finishRunning(const Outcome& outcome);
    void publishProgress();
    static Outcome execute(const JobWork& work, qb::JobControl& control);

    int nextId_ = 1;
    std::deque<Job> queue_;
    std::unique_ptr<Job> running_;
    QFuture<Outcome> future_;
    QTimer progressTimer_;
    QElapsedTimer clock_;
};

}  // namespace qbui

Q_DECLARE_METATYPE(qbui::JobProgress)
