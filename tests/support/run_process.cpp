#include "tests/support/run_process.h"

#include <cstdio>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/test_data.h"

namespace qbtest {

ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& extra_env) {
    static int counter = 0;
    const auto base = scratch_dir() / ("process-" + std::to_string(counter++));
    const auto out_path = base.string() + ".out", err_path = base.string() + ".err";
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (!std::freopen(out_path.c_str(), "w", stdout) || !std::freopen(err_path.c_str(), "w", stderr)) ::_exit(126);
        for (const auto& [key, value] : extra_env) ::setenv(key.c_str(), value.c_str(), 1);
        std::vector<char*> argv{const_cast<char*>(program.c_str())};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(program.c_str(), argv.data());
        ::_exit(127);
    }
    ProcessResult result;
    int status = 0;
    struct rusage usage {};
    ::wait4(pid, &status, 0, &usage);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.peak_rss_bytes = uint64_t(usage.ru_maxrss) * 1024;
    result.out = read_file(out_path);
    result.err = read_file(err_path);
    return result;
}

ProcessResult run_cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& extra_env) {
    return run_process(QB_CLI_PATH, args, extra_env);
}

}  // namespace qbtest
