// `airlock import BUNDLE | --scan DIR [--plan] [--stage-only] [--allow-downgrade] [--force-full] [--version V]
// [--yes] [--json]`: upgrades the site from a signed bundle (pipeline::import): stage, load images, stop, back
// up, switch, start, health gate, commit or roll back. --scan picks the newest fitting bundle in DIR (a USB
// mount point), naming the skipped ones on stderr. Changes the site (commands/session.hpp).
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

namespace airlock::commands {

// The exit code of the outcome (commands/outcome.hpp); 0 when --scan finds nothing newer.
int import(const util::Args& a);

} // namespace airlock::commands
