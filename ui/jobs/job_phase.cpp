#include "ui/jobs/job_phase.h"

#include <cmath>

namespace qbui {

qb::JobControl job_phase(const qb::JobControl& parent, double from, double to) {
    constexpr int64_t kUnits = 1'000'000;
    return qb::JobControl([&parent, from, to](double fraction, std::string_view what) {
        parent.step(std::llround((from + fraction * (to - from)) * double(kUnits)), kUnits, what);
    });
}

}  // namespace qbui
