// `airlock version` (also `airlock --version`): the version, git revision, architecture and every linked
// library (about/build_info.hpp); `airlock self-test`: known-answer checks of every linked library on this host
// (about/selftest.hpp). Neither needs a site.
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

namespace airlock::commands {

int version(const util::Args& a); // 0
// 0 when every check passes, ExitCode::failure otherwise (the failing checks are printed).
int self_test(const util::Args& a);

} // namespace airlock::commands
