#include "tests/bench/support.h"

#include <cstdio>
#include <cstdlib>
#include <sys/resource.h>
#include <time.h>

namespace qbbench {

double seconds_now() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

uint64_t peak_rss_bytes() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return uint64_t(usage.ru_maxrss) * 1024;
}

double time_per_call(const std::function<void()>& fn, double min_seconds) {
    int calls = 0;
    const double start = seconds_now();
    double elapsed = 0;
    do {
        fn();
        ++calls;
        elapsed = seconds_now() - start;
    } while (elapsed < min_seconds);
    return elapsed / calls;
}

void print_header(const std::string& title) { std::printf("== %s ==\n", title.c_str()); }

std::string default_data_dir() {
    const char* env = std::getenv("QB_DATA_DIR");
    return env && *env ? env : "../shared/data";
}

bool CommonOptions::take_option(int argc, char** argv, int& i) {
    const std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (arg == "--data" && i + 1 < argc) data = argv[++i];
    else if (arg == "--small-only") small_only = true;
    else return false;
    return true;
}

}  // namespace qbbench
