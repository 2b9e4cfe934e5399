// Time for run records: elapsed seconds of a stage, and the UTC stamp a result is created with.
#pragma once
#include <chrono>
#include <string>

namespace qb {

// Seconds on the steady clock since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);
// The current time in UTC as ISO 8601 to the second: "2026-11-25T14:30:00Z".
std::string utc_now();

}  // namespace qb
