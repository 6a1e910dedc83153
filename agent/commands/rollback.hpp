// Going back: `airlock rollback [--restore-data] [--yes] [--json]` returns by hand to the release installed
// before the current one (pipeline::rollback: health-gated, journaled like an upgrade), and `airlock recover
// [--json]` finishes or undoes an upgrade that was interrupted (pipeline::recover), which every other command
// that changes the site does first anyway (commands/session.hpp).
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

namespace airlock::commands {

// --restore-data also puts back data/ and site/ from the backup taken before the current release was installed.
// Asks y/N on a terminal first. The exit code of the outcome (commands/outcome.hpp); ExitCode::usage after a "no".
int rollback(const util::Args& a);

// Prints "nothing to recover" or the outcome. Returns 0 when there was nothing to do or the site was brought
// back (finished or undone), ExitCode::needs_attention when it could not be.
int recover(const util::Args& a);

} // namespace airlock::commands
