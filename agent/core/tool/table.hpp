// The command table both tools' command lines are built on ("verify", "key generate", "backup create"): lookup
// of one- and two-word names, `--help` for each, and option parsing with util::Args; and run_tool(), the whole
// command line of a tool around its table. Each tool keeps one table (commands/airlock.cpp,
// bundle_commands/airlock_bundle.cpp).
// Thread-safety: stateless.
#pragma once

#include "util/args.hpp"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace airlock::tool {

struct Command {
  std::string usage; // "verify PATH --trusted-root ROOT.json\n  what it does" (printed after "usage: <tool> ")
  std::set<std::string> valued, flags;
  std::function<int(const util::Args&)> run;
};
using CommandTable = std::map<std::string, Command>;

// Runs the command named by argv[1] (two-word names "argv[1] argv[2]" first) from `table`: prints
// "usage: <tool> <usage>" on stdout for --help and returns 0, otherwise parses its options and returns its exit
// code. Returns nullopt when the table has no such command. Option errors throw Error(usage); the command's own
// errors propagate.
std::optional<int> run_command(const std::string& tool, const CommandTable& table, int argc, const char* const* argv);

struct Tool {
  std::string name;  // "airlock": in messages, usage lines and --version
  std::string usage; // the tool's usage text, for --help and for a missing command
  const CommandTable& table;
  // What an unknown command is called in its error message (default: argv[1]); it may also throw a more helpful
  // Error(usage) itself. Called with argc >= 2.
  std::function<std::string(int argc, const char* const* argv)> describe_unknown;
};

// A tool's command line, inside guarded(): no command: the usage text on stderr, ExitCode::usage; "--help", "-h"
// or "help": the usage text on stdout, 0; "--version": about::version_text(name) on stdout, 0; a command of the
// table: run_command(); anything else: Error(usage) "unknown command '<what>'; run '<name> --help' for the list".
// Returns the process exit code; never throws.
int run_tool(const Tool& tool, int argc, const char* const* argv);

} // namespace airlock::tool
