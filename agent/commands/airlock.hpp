// The `airlock` command line: the usage text and the one registration table of the agent's commands (name,
// usage, options, handler). main() calls run() and nothing else.
//
// A new command: a header and .cpp in agent/commands/ (its contract in the header; a command that changes the
// site opens a Session, commands/session.hpp), and one row in the table in airlock.cpp; a line in the usage
// text unless it is hidden (`debug ...`), and docs/cli.md.
// Thread-safety: one run per process.
#pragma once

#include "tool/table.hpp"

namespace airlock::commands {

// Parses argv, runs the command, returns the process exit code (docs/cli.md). Never throws: errors are printed
// and mapped to their exit codes (tool/guard.hpp).
int run(int argc, const char* const* argv);

// Every command of the agent, hidden ones included.
const tool::CommandTable& command_table();

} // namespace airlock::commands
