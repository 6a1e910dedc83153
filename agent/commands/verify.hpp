// `airlock verify PATH --trusted-root ROOT.json [--json]`: verifies a bundle file or repository directory against
// a trusted root without installing anything (bundle/report.hpp, the same words as `airlock-bundle verify`).
// Needs no site.
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

namespace airlock::commands {

// 0 when everything verifies; Error(verify_failed) / Error(bad_input) otherwise; Error(usage) unless one PATH.
int verify(const util::Args& a);

} // namespace airlock::commands
