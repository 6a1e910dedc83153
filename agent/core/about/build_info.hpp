// What a binary was built from: the airlock version, git revision, target architecture and the versions
// of every library linked into it. Printed by `--version` of both tools.
// Thread-safety: pure functions.
#pragma once

#include <string>

namespace airlock::about {

// The airlock release version, e.g. "0.1.0".
const char* airlock_version();
// The git revision it was built from ("5e262d7", "5e262d7-dirty"; "unknown" outside git).
const char* git_revision();
// The target architecture this binary was compiled for: "x86_64" or "aarch64".
const char* target_arch();
// The multi-line text of `--version` for the tool named `tool` ("airlock" or "airlock-bundle").
std::string version_text(const std::string& tool);

} // namespace airlock::about
