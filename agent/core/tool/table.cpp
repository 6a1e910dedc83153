#include "tool/table.hpp"

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

} // namespace airlock::tool
