// `airlock stage PATH [--version V]`: verifies a bundle (or repository directory) against the trusted metadata
// and stages the newest release of this app and architecture (pipeline::stage_release), printing
// "staged <app> <version> (full|patch from X) in <releases>/<version>: <n> entries verified".
// Nothing runs and current does not move. Changes the site: run lock and recovery first (commands/session.hpp).
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

namespace airlock::commands {

// Returns 0; Error(not_found) when PATH holds no such release, verification and staging errors as
// pipeline::stage_release throws them.
int stage(const util::Args& a);

} // namespace airlock::commands
