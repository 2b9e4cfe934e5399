// Progress reporting and cancellation shared by every long operation (CLI prints, GUI shows a bar).
// A JobControl is passed by reference down the call chain; work calls step() at natural boundaries
// (a tensor, a chunk), which reports progress and throws Cancelled once cancel() was called.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <string_view>

#include "core/util/error.h"

namespace qb {

class JobControl {
public:
    using ProgressFn = std::function<void(double fraction, std::string_view what)>;

    JobControl() = default;
    explicit JobControl(ProgressFn on_progress) : on_progress_(std::move(on_progress)) {}

    void cancel() { cancelled_.store(true); }
    bool cancelled() const { return cancelled_.load(); }
    void check(std::string_view what = "job") const {
        if (cancelled()) throw Cancelled(std::string(what));
    }
    // done of total units finished; `what` names the unit being worked on.
    void step(int64_t done, int64_t total, std::string_view what) const {
        check(what);
        if (on_progress_) on_progress_(total > 0 ? double(done) / double(total) : 1.0, what);
    }

private:
    ProgressFn on_progress_;
    std::atomic<bool> cancelled_{false};
};

}  // namespace qb
