// `airlock init --app NAME --trusted-root ROOT.json [--install-root DIR] [--state-dir DIR] [--adopt DIR]
// [--config FILE]`: creates the site layout (site/layout.hpp) and the state database, trusts ROOT.json (it must
// be a root signed by its own threshold), and writes the configuration file when it is missing. Running it
// again on an initialised site is harmless: the trusted root already there is kept. --adopt copies a compose
// directory that already runs by hand into releases/0, points current at it and records it as version 0.
// Thread-safety: takes the run lock.
#pragma once

#include "util/args.hpp"

namespace airlock::commands {

// Returns 0; Error(usage) without an app name, for --adopt on a site with a current release or of a directory
// without a compose file; trust errors for a bad root.
int init(const util::Args& a);

} // namespace airlock::commands
