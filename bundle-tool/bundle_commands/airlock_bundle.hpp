// The `airlock-bundle` command line. main() calls run() and nothing else.
#pragma once

namespace airlock::bundle_tool {

// Parses argv, runs the command, returns the process exit code (docs/cli.md). Never throws.
int run(int argc, const char* const* argv);

} // namespace airlock::bundle_tool
