// A table of subcommands ("verify", "key generate") shared by both tools: lookup of one- and two-word names,
// `--help` for each, and option parsing with util::Args.
// Thread-safety: stateless.
#pragma once

#include "util/args.hpp"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace airlock::cli {

struct Command {
  const char* usage; // "verify PATH --trusted-root ROOT.json\n  what it does"
  std::set<std::string> valued, flags;
  std::function<int(const util::Args&)> run;
};
using CommandTable = std::map<std::string, Command>;

// Runs the command named by argv[1] (two-word names "argv[1] argv[2]" first) from `table`: prints
// "usage: <tool> <usage>" for --help, otherwise parses its options and returns its exit code. Returns nullopt when
// the table has no such command. Option errors throw Error(usage).
std::optional<int> run_command(const std::string& tool, const CommandTable& table, int argc, const char* const* argv);

} // namespace airlock::cli
