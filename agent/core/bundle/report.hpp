// What `verify PATH --trusted-root ROOT.json [--json]` and `inspect PATH [--json]` print, shared by airlock and
// airlock-bundle so that both give the same verdict with the same words.
// Thread-safety: none.
#pragma once

#include "trust/client.hpp"

#include <ostream>
#include <string>

namespace airlock::bundle {

enum class Format { text, json }; // json: one JSON object on one line

// What a verification starts from, and how to name it to the operator.
struct TrustAnchor {
  trust::TrustedState state;
  std::string source; // "trusted root ROOT.json", "the site's trusted state in DIR"
};
// A trusted root file (`--trusted-root`).
TrustAnchor root_file_anchor(const std::string& trusted_root);

// Verifies a bundle or repository directory (bundle::verify_container) from `anchor` and prints a summary that
// names the anchor (or one JSON object, with "trusted_by"). Returns 0; failures throw Error with the documented
// exit codes.
int report_verify(const std::string& path, const TrustAnchor& anchor, Format format, std::ostream& out);

// Describes a bundle or repository without trusting it: roles, versions, expiry, keys, targets and sizes.
// Signatures are checked against the container's own newest root and reported, not enforced.
// Returns 0, or ExitCode::verify_failed when the metadata chain cannot be read far enough to describe it (the
// problem is printed); Error(bad_input) when the container holds no root.
int report_inspect(const std::string& path, Format format, std::ostream& out);

} // namespace airlock::bundle
