// What `verify PATH --trusted-root ROOT.json [--json]` and `inspect PATH [--json]` print, shared by airlock and
// airlock-bundle so that both give the same verdict with the same words.
// Thread-safety: none.
#pragma once

#include <ostream>
#include <string>

namespace airlock::bundle {

enum class Format { text, json }; // json: one JSON object on one line

// Verifies a bundle or repository directory (bundle::verify_container) against the trusted root file and prints
// a summary (or one JSON object). Returns 0; failures throw Error with the documented exit codes.
int report_verify(const std::string& path, const std::string& trusted_root, Format format, std::ostream& out);

// Describes a bundle or repository without trusting it: roles, versions, expiry, keys, targets and sizes.
// Signatures are checked against the container's own newest root and reported, not enforced.
// Returns 0, or ExitCode::verify_failed when the metadata chain cannot be read far enough to describe it (the
// problem is printed); Error(bad_input) when the container holds no root.
int report_inspect(const std::string& path, Format format, std::ostream& out);

} // namespace airlock::bundle
