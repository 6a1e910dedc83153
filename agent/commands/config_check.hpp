// `airlock config check [--config FILE]`: names every unknown key or bad value of the configuration
// (config::check), with its line, on stderr. Needs no initialised site.
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

namespace airlock::commands {

// 0 and "<file>: ok" when the file is usable; ExitCode::usage after printing every problem otherwise.
int config_check(const util::Args& a);

} // namespace airlock::commands
