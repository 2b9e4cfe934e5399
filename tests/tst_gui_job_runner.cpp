// The GUI's job runner: jobs run off the GUI thread one at a time in submission order, results are
// delivered on the GUI thread, queued jobs can be cancelled before they start, a running job stops at
// its next step, failures carry the core's message, progress arrives throttled with an ETA.
#include <QtTest>

#include <atomic>
#include <thread>

#include "core/util/error.h"
#include "ui/jobs/job_phase.h"
#include "ui/jobs/job_runner.h"

using namespace qbui;

namespace {

// A job that steps `steps` times, sleeping between steps, and records its name on delivery.
JobSpec sleepingJob(const QString& name, int steps, QStringList& delivered, std::chrono::milliseconds pause = std::chrono::milliseconds(5)) {
    return {name, QString(), [name, steps, pause, &delivered](qb::JobControl& control) -> JobDelivery {
                for (int i = 0; i < steps; ++i) {
                    control.step(i, steps, "sleeping");
                    std::this_thread::sleep_for(pause);
                }
                return [name, &delivered] { delivered << name; };
            }};
}

}  // namespace

class JobRunnerTest : public QObject {
    Q_OBJECT

private slots:
    void runs_jobs_in_submission_order_and_delivers_on_the_gui_thread() {
        JobRunner runner;
        QStringList delivered;
        QSignalSpy idle(&runner, &JobRunner::idle);
        runner.submit(sleepingJob("a", 3, delivered));
        runner.submit(sleepingJob("b", 3, delivered));
        runner.submit({"c", QString(), [&](qb::JobControl&) -> JobDelivery {
                           const bool workerThread = QThread::currentThread() != qApp->thread();
                           return [workerThread, &delivered] {
                               delivered << (workerThread && QThread::currentThread() == qApp->thread() ? "c" : "c-wrong-thread");
                           };
                       }});
        QCOMPARE(runner.queuedCount(), 2);
        QTRY_VERIFY(runner.isIdle());
        QCOMPARE(delivered, QStringList({"a", "b", "c"}));
        QVERIFY(idle.count() >= 1);
    }

    void cancels_a_queued_job_before_it_starts() {
        JobRunner runner;
        QStringList delivered;
        QSignalSpy cancelled(&runner, &JobRunner::jobCancelled);
        std::atomic<bool> secondRan{false};
        runner.submit(sleepingJob("first", 10, delivered));
        const int second = runner.submit({"second", QString(), [&](qb::JobControl&) -> JobDelivery {
                                              secondRan = true;
                                              return {};
                                          }});
        runner.cancel(second);
        QCOMPARE(cancelled.count(), 1);
        QCOMPARE(cancelled.at(0).at(0).toInt(), second);
        QTRY_VERIFY(runner.isIdle());
        QVERIFY(!secondRan);
        QCOMPARE(delivered, QStringList({"first"}));
    }

    void cancelling_the_running_job_stops_it_at_its_next_step_without_delivery() {
        JobRunner runner;
        QStringList delivered;
        QSignalSpy cancelled(&runner, &JobRunner::jobCancelled);
        QSignalSpy finished(&runner, &JobRunner::jobFinished);
        const int id = runner.submit(sleepingJob("long", 10000, delivered, std::chrono::milliseconds(1)));
        QTest::qWait(50);
        runner.cancel(id);
        QTRY_COMPARE(cancelled.count(), 1);
        QVERIFY(runner.isIdle());
        QCOMPARE(finished.count(), 0);
        QVERIFY(delivered.isEmpty());
    }

    void reports_the_core_error_message_of_a_failed_job() {
        JobRunner runner;
        QSignalSpy failed(&runner, &JobRunner::jobFailed);
        runner.submit({"bad", QString(), [](qb::JobControl&) -> JobDelivery {
                           throw qb::Error("model.gguf", "truncated tensor data");
                       }});
        QTRY_COMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(1).toString(), QString("bad"));
        QCOMPARE(failed.at(0).at(2).toString(), QString("model.gguf: truncated tensor data"));
    }

    void publishes_throttled_progress_with_an_eta() {
        JobRunner runner;
        QStringList delivered;
        QList<JobProgress> reports;
        connect(&runner, &JobRunner::progressChanged, this, [&](int, const JobProgress& p) { reports << p; });
        QElapsedTimer clock;
        clock.start();
        runner.submit(sleepingJob("steps", 400, delivered, std::chrono::milliseconds(1)));
        QTRY_VERIFY(runner.isIdle());
        const double seconds = double(clock.elapsed()) / 1000.0;
        QVERIFY(!reports.isEmpty());
        // At most one report per interval (plus one), far fewer than the 400 steps.
        QVERIFY2(reports.size() <= int(seconds * 1000 / JobRunner::kProgressIntervalMs) + 2, qPrintable(QString::number(reports.size())));
        QCOMPARE(reports.last().what, QString("sleeping"));
        QVERIFY(reports.last().fraction > 0.0 && reports.last().fraction < 1.0);
        QVERIFY(reports.last().etaSeconds >= 0.0);
    }

    void a_job_phase_maps_progress_and_sees_the_parents_cancellation() {
        std::vector<double> fractions;
        qb::JobControl parent([&](double fraction, std::string_view) { fractions.push_back(fraction); });
        const qb::JobControl phase = job_phase(parent, 0.5, 1.0);
        phase.step(1, 2, "half of the second phase");
        QCOMPARE(fractions.size(), size_t(1));
        QCOMPARE(fractions[0], 0.75);
        parent.cancel();
        QVERIFY_THROWS_EXCEPTION(qb::Cancelled, phase.step(2, 2, "after cancel"));
    }
};

QTEST_MAIN(JobRunnerTest)
#include "tst_gui_job_runner.moc"
