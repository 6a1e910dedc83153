// Release versions: dotted numbers with any number of parts ("1.2", "1.2.3.4"), an optional leading "v", an
// optional SemVer pre-release ("-rc.1") and build metadata ("+build.5", ignored for ordering).
// Ordering: numeric parts compared numerically, missing parts count as 0 ("1.2" == "1.2.0"); a pre-release sorts
// before its release; pre-release identifiers compare as SemVer 2.0 section 11 says.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>

namespace airlock::release {

// True when `v` is a well-formed version. Also the rule for what may appear in target names.
bool is_valid_version(const std::string& v);
// <0, 0, >0 like strcmp. Throws Error(bad_input) naming the version when one is malformed.
int compare_versions(const std::string& a, const std::string& b);

} // namespace airlock::release
