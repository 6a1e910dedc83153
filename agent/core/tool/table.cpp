#include "tool/table.hpp"

#include "about/build_info.hpp"
#include "tool/guard.hpp"
#include "util/error.hpp"

#include <iostream>

namespace airlock::tool {

std::optional<int> run_command(const std::string& tool, const CommandTable& table, int argc, const char* const* argv) {
  if (argc < 2) return std::nullopt;
  const std::string cmd = argv[1];
  auto it = table.end();
  int first = 2;
  if (argc >= 3) {
    it = table.find(cmd + " " + argv[2]);
    first = 3;
  }
  if (it == table.end()) {
    it = table.find(cmd);
    first = 2;
  }
  if (it == table.end()) return std::nullopt;
  for (int i = first; i < argc; ++i)
    if (std::string(argv[i]) == "--help") {
      std::cout << "usage: " << tool << " " << it->second.usage << "\n";
      return 0;
    }
  util::Args args(argc, argv, first, it->second.valued, it->second.flags);
  return it->second.run(args);
}

int run_tool(const Tool& tool, int argc, const char* const* argv) {
  return guarded(tool.name, [&] {
    if (argc < 2) {
      std::cerr << tool.usage;
      return static_cast<int>(ExitCode::usage);
    }
    const std::string cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << tool.usage;
      return 0;
    }
    if (cmd == "--version") {
      std::cout << about::version_text(tool.name);
      return 0;
    }
    if (auto rc = run_command(tool.name, tool.table, argc, argv)) return *rc;
    fail(ExitCode::usage, "unknown command '" + (tool.describe_unknown ? tool.describe_unknown(argc, argv) : cmd) +
                              "'; run '" + tool.name + " --help' for the list");
  });
}

} // namespace airlock::tool
