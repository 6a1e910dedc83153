// `airlock status [--json]` and `airlock history [--json] [--limit N]`: what the site runs and what happened to
// it. Read-only (commands/session.hpp): no lock, so they answer while an upgrade runs.
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

namespace airlock::commands {

// App, installed version, active release and the last upgrade-like audit row. Returns 0.
int status(const util::Args& a);
// The audit log, newest first, at most --limit rows (1 to 10000, default 100). Returns 0.
int history(const util::Args& a);

} // namespace airlock::commands
