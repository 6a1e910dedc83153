#include "commands/prompt.hpp"

#include "util/error.hpp"

#include <iostream>
#include <unistd.h>

namespace airlock::commands {

bool confirmed(const util::Args& a, const std::string& question, WithoutTerminal without_terminal,
               const std::string& refusal) {
  if (a.has("yes")) return true;
  if (!::isatty(0)) {
    if (without_terminal == WithoutTerminal::go_ahead) return true;
    fail(ExitCode::usage, refusal);
  }
  std::cerr << question << " [y/N] ";
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "yes";
}

int refused() {
  std::cerr << "nothing changed\n";
  return static_cast<int>(ExitCode::usage);
}

} // namespace airlock::commands
