// The `airlock` command line. main() calls run() and nothing else.
#pragma once

namespace airlock::agent {

// Parses argv, runs the command, returns the process exit code (docs/cli.md). Never throws.
int run(int argc, const char* const* argv);

} // namespace airlock::agent
