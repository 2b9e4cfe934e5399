// Runs a program to completion and captures what a user would see: exit code, stdout, stderr and the
// child's peak resident memory (from wait4), for CLI tests.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qbtest {

struct ProcessResult {
    int exit_code = -1;
    std::string out;
    std::string err;
    uint64_t peak_rss_bytes = 0;
};

ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& extra_env = {});
// quantbench-cli of this build.
ProcessResult run_cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& extra_env = {});

}  // namespace qbtest
