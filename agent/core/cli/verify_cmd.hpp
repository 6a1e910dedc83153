// `verify PATH --trusted-root ROOT.json [--json]` and `inspect PATH [--json]`, shared by airlock and
// airlock-bundle so that both give the same verdict with the same words.
// Thread-safety: none.
#pragma once

#include <ostream>
#include <string>

namespace airlock::cli {

// Verifies a bundle or repository directory (bundle::verify_container) against the trusted root file and prints
// a summary (or one JSON object). Returns 0; failures throw Error with the documented exit codes.
int verify_command(const std::string& path, const std::string& trusted_root, bool json, std::ostream& out);

// Describes a bundle or repository without trusting it: roles, versions, expiry, keys, targets and sizes.
// Signatures are checked against the container's own newest root and reported, not enforced.
int inspect_command(const std::string& path, bool json, std::ostream& out);

} // namespace airlock::cli
