// `airlock apply [--yes] [--json]`: finishes the upgrade that `import --stage-only` staged, or installs what
// `upgrade --download-only` downloaded (pipeline::apply; no network). Asks y/N on a terminal first (prompt.hpp).
// Changes the site (commands/session.hpp).
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

namespace airlock::commands {

// The exit code of the outcome (commands/outcome.hpp); ExitCode::usage after a "no" (nothing changed);
// Error(not_found) when nothing is staged or downloaded.
int apply(const util::Args& a);

} // namespace airlock::commands
