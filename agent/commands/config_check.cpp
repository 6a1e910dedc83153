#include "commands/config_check.hpp"

#include "config/config.hpp"
#include "util/error.hpp"

#include <iostream>
#include <string>

namespace airlock::commands {

int config_check(const util::Args& a) {
  const std::string path = a.value("config").value_or(config::default_path);
  const auto problems = config::check(path);
  for (const auto& p : problems)
    std::cerr << path << (p.line ? ":" + std::to_string(p.line) : std::string()) << ": " << p.message << "\n";
  if (!problems.empty()) return static_cast<int>(ExitCode::usage);
  std::cout << path << ": ok\n";
  return 0;
}

} // namespace airlock::commands
