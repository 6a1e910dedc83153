// The one y/N confirmation of the commands that change a running site (import, upgrade, apply, rollback,
// backup restore). --yes answers it. Without a terminal on stdin there is nobody to ask: the update commands go
// ahead (cron and scripts run them; --cron never asks), `backup restore` refuses (it replaces the operator's
// data and must be confirmed explicitly).
// Thread-safety: reads std::cin, writes std::cerr.
#pragma once

#include "util/args.hpp"

#include <string>

namespace airlock::commands {

enum class WithoutTerminal {
  go_ahead, // true without asking
  refuse,   // Error(usage) with the caller's `refusal` message
};

// true when the operator confirmed: --yes given, or "y" / "yes" typed after "<question> [y/N] " on stderr.
// Without a terminal on stdin: see WithoutTerminal. A false answer changes nothing; the caller prints
// "nothing changed" (see refused()).
bool confirmed(const util::Args& a, const std::string& question, WithoutTerminal without_terminal,
               const std::string& refusal = {});

// Prints "nothing changed" on stderr and returns ExitCode::usage: what every command does after a "no".
int refused();

} // namespace airlock::commands
