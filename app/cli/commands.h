// quantbench-cli subcommands. Each takes the arguments after its name and returns the exit code;
// failures throw qb::Error, which main() prints as one line.
#pragma once
#include <string>
#include <vector>

namespace qbcli {

using CommandArgs = std::vector<std::string>;

int run_inspect(const CommandArgs& args);
int run_stats(const CommandArgs& args);
int run_formats(const CommandArgs& args);
int run_devices(const CommandArgs& args);
int run_eval(const CommandArgs& args);
int run_tokenize(const CommandArgs& args);
int run_calibrate(const CommandArgs& args);
int run_sensitivity(const CommandArgs& args);
int run_export(const CommandArgs& args);
int run_plan(const CommandArgs& args);
int run_quantize(const CommandArgs& args);
int run_compare(const CommandArgs& args);
int run_report(const CommandArgs& args);

}  // namespace qbcli
