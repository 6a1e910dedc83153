// How the commands that run the pipeline (import, upgrade, apply, rollback, recover, and every command's
// recovery first) print its outcome, and which exit code it gives (docs/cli.md).
// Thread-safety: writes to std::cout and std::cerr.
#pragma once

#include "commands/output.hpp"
#include "pipeline/upgrade.hpp"

namespace airlock::commands {

// The exit code of an outcome: rolled_back 7, needs_attention 8, everything else 0.
int exit_code(pipeline::Outcome o);

// Prints `r` (text: one line on stdout, plus "ROLLED BACK ..." / "SITE NEEDS ATTENTION ..." on stderr; json: one
// object with outcome, upgrade_id, from, to, kind, backup_id, downtime_ms, reason) and returns exit_code().
// Outcome::planned prints nothing in text (the plan was printed already).
int print_outcome(const pipeline::Report& r, Output output);

} // namespace airlock::commands
