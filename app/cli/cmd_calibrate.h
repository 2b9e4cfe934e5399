// Pieces the calibrate and sensitivity commands share.
#pragma once
#include <string>

#include "app/cli/commands.h"
#include "core/jobs/job.h"

namespace qbcli {

// Progress on stderr as a rewritten line, only when stderr is a terminal.
qb::JobControl terminal_progress(std::string label);
void clear_terminal_progress();
// "quantbench-cli <command> <args...>", arguments with spaces or quotes single-quoted, for provenance.
std::string command_line(const std::string& command, const CommandArgs& args);

}  // namespace qbcli
