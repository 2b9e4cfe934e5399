// Shared bits of the benchmark programs: wall clock, peak resident memory, throughput lines.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace qbbench {

double seconds_now();
double cpu_seconds();  // the process's CPU time so far, all threads
uint64_t peak_rss_bytes();  // the process's maximum resident set so far
// Runs fn repeatedly for at least min_seconds (at least once) and returns seconds per call.
double time_per_call(const std::function<void()>& fn, double min_seconds = 0.3);
void print_header(const std::string& title);

}  // namespace qbbench
