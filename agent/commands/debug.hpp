// `airlock debug steps [--json]` (hidden: not in the usage text; for the black-box kill matrix and for people
// reading a journal): the upgrade's step table, pipeline::steps, one line per row
// "<name> <phase> <on_crash> <path>", or with --json one array of objects {name, phase, on_crash, terminal, path}.
// Thread-safety: none.
#pragma once

#include "commands/output.hpp"
#include "util/args.hpp"

#include <ostream>

namespace airlock::commands {

// Writes the table to `out`; returns 0.
int print_steps(Output output, std::ostream& out);
int debug_steps(const util::Args& a); // print_steps to stdout

} // namespace airlock::commands
