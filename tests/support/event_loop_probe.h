// For GUI tests: pings the event loop every 5 ms and records the longest wall-clock gap between two
// pings, and the longest CPU time the GUI thread itself spent between two pings (time our code kept
// it busy, as opposed to time the operating system gave to other threads or processes).
#pragma once
#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <algorithm>
#include <ctime>

namespace qbtest {

// The longest stretch the GUI thread may be busy, or the event loop blocked, before users notice a stall.
// AddressSanitizer's instrumentation slows our code 2-4x (tst_gui_shell's session of jobs: auto-assign
// 158 ms, sensitivity 136 ms), so its build allows 4x the stretch rather than failing on the sanitizer's cost.
#ifdef __SANITIZE_ADDRESS__
inline constexpr double kNoticeableStallMs = 400;
#else
inline constexpr double kNoticeableStallMs = 100;
#endif

class EventLoopProbe {
public:
    EventLoopProbe() {
        timer_.setInterval(5);
        QObject::connect(&timer_, &QTimer::timeout, [this] { tick(); });
    }
    void start() {
        wall_.start();
        lastCpuMs_ = threadCpuMs();
        timer_.start();
    }
    void stop() { timer_.stop(); }
    qint64 longestGapMs() const { return longestGapMs_; }
    double longestBusyMs() const { return longestBusyMs_; }

private:
    static double threadCpuMs() {
        timespec t{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
    }
    void tick() {
        longestGapMs_ = std::max(longestGapMs_, wall_.restart());
        const double cpu = threadCpuMs();
        longestBusyMs_ = std::max(longestBusyMs_, cpu - lastCpuMs_);
        lastCpuMs_ = cpu;
    }

    QTimer timer_;
    QElapsedTimer wall_;
    double lastCpuMs_ = 0;
    qint64 longestGapMs_ = 0;
    double longestBusyMs_ = 0;
};

}  // namespace qbtest
