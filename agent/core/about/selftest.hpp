// `self-test`: known-answer checks of every statically linked library, run on the target itself. It catches a
// broken cross build (a library that links but computes wrong results under another architecture) and lets an
// operator check a binary copied onto a new host. Each line names the library and says "ok" or what differed.
// Thread-safety: not thread-safe (initialises library globals).
#pragma once

#include <ostream>

namespace airlock::about {

// Runs every check, writes one line per check to `out`. Returns true when all passed.
bool run_self_test(std::ostream& out);

} // namespace airlock::about
