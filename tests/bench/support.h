// Shared bits of the benchmark programs: wall clock, peak resident memory, throughput lines, common options.
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

// The shared data folder: $QB_DATA_DIR when set and not empty, else ../shared/data.
std::string default_data_dir();

// The options most benchmarks take: --threads N, --data DIR and --small-only.
struct CommonOptions {
    int threads = 2;
    std::string data = default_data_dir();
    bool small_only = false;

    // Consumes argv[i], and its value (advancing i), when it is one of these options; false otherwise.
    bool take_option(int argc, char** argv, int& i);
};

}  // namespace qbbench
