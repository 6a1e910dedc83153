// The online commands (docs/online.md): `airlock check` asks the repository ([repository] urls) what `upgrade`
// would do, and `airlock upgrade` does it: check, a resumable verified download, then the import pipeline.
// check is read-only (no lock: monitoring gets an answer while an upgrade runs); upgrade changes the site
// (commands/session.hpp).
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

namespace airlock::commands {

// [--json] [--force-full] [--version V]: prints the decision (none, patch or full), the version, the bytes to
// download and, one line "skipped: <reason>" each, the releases passed over ("skipped" array in --json), then
// where the site stands against its maintenance windows ([schedule] window) at the Context's clock: inside one
// and until when, or outside and when the next opens (the "window" object in --json).
// Returns 0 when up to date, ExitCode::update_available (10) when an update is available; errors throw.
int check(const util::Args& a);

// [--yes] [--force-full] [--download-only] [--allow-downgrade] [--stage-only] [--plan] [--version V]
// [--cron [--max-delay S]] [--json]: the exit code of the outcome (commands/outcome.hpp). --cron waits a random
// 0..S seconds first (default 600; Error(usage) for anything but a whole number of 0 or more), prints nothing
// when nothing happened, and returns 0 when another run holds the lock. --cron outside every maintenance window
// (schedule/window.hpp; none configured: always inside) runs as --download-only, then logs ("cron" "window-wait"),
// audits (action "upgrade", outcome "waiting") and prints that the release waits for the window and when it
// opens; exit 0. Without --cron, and with --plan, --stage-only or --download-only, windows do not apply.
int upgrade(const util::Args& a);

} // namespace airlock::commands
