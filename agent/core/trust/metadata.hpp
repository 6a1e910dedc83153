// TUF 1.0 metadata (spec sections 4.2-4.6): the four top-level roles as typed values, parsed strictly from
// signed envelopes and written back as JSON for signing. Delegated targets roles are not implemented yet:
// targets metadata that declares delegations is refused with a clear error.
//
// Parsing is strict about what airlock relies on: a wrong `_type`, a missing or mistyped field, a duplicate
// key (json::parse), an unknown key type or scheme, a bad hash or a bad date is Error(bad_input) naming the
// file and the field. Unknown extra fields are kept (the signature covers them) and otherwise ignored, as the
// specification asks. Signature thresholds are checked by verify_role(), never implicitly by parsing.
// Thread-safety: plain values; functions are thread-safe.
#pragma once

#include "trust/keys.hpp"
#include "util/json.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace airlock::trust {

enum class Role { root, timestamp, snapshot, targets };
const char* role_name(Role r);

// Size limits for metadata files, applied before a byte is parsed (endless-data defence).
inline constexpr std::size_t max_root_bytes = 512 * 1024;
inline constexpr std::size_t max_timestamp_bytes = 16 * 1024;
inline constexpr std::size_t default_max_snapshot_bytes = 2 * 1024 * 1024;
inline constexpr std::size_t default_max_targets_bytes = 16 * 1024 * 1024;

struct Signature {
  std::string keyid, sig;
};

// A parsed metadata file: the `signed` object (kept as parsed, so its canonical form is what was signed)
// and its signatures.
struct Envelope {
  json::Value signed_part;
  std::vector<Signature> signatures;
};

struct Common {
  std::string type;         // "root", "timestamp", "snapshot", "targets"
  std::string spec_version; // "1.x[.y]"
  std::int64_t version = 0; // >= 1
  std::string expires;      // "YYYY-MM-DDTHH:MM:SSZ"
  std::int64_t expires_at = 0;
};

struct RoleKeys {
  std::vector<std::string> keyids;
  std::int64_t threshold = 1;
};

struct Root : Common {
  bool consistent_snapshot = true;
  std::map<std::string, PublicKey> keys; // by keyid
  std::map<Role, RoleKeys> roles;        // all four present
};

struct MetaFile { // an entry of timestamp/snapshot `meta`
  std::int64_t version = 0;
  std::optional<std::uint64_t> length;
  std::optional<std::string> sha256;
};

struct Timestamp : Common {
  MetaFile snapshot; // meta["snapshot.json"]
};

struct Snapshot : Common {
  std::map<std::string, MetaFile> meta; // "targets.json" (and delegated roles, refused later)
};

struct TargetFile {
  std::string name;
  std::uint64_t length = 0;
  std::string sha256; // lowercase hex
  json::Value custom; // null or object: airlock release data (app, version, arch, kind, base)
};

struct Targets : Common {
  std::map<std::string, TargetFile> targets;
};

// Parses a signed envelope from `bytes` (`what` names the file in errors). Refuses more than `max_bytes`.
Envelope parse_envelope(std::string_view bytes, const std::string& what, std::size_t max_bytes);

Root parse_root(const Envelope& e, const std::string& what);
Timestamp parse_timestamp(const Envelope& e, const std::string& what);
Snapshot parse_snapshot(const Envelope& e, const std::string& what);
Targets parse_targets(const Envelope& e, const std::string& what);

// Checks that at least `threshold` distinct keys of `role` in `root` signed `e`. Throws
// Error(verify_failed, "<what>: signed by K of the N required <role> keys ...") otherwise.
void verify_role(const Envelope& e, const Root& root, Role role, const std::string& what);
// Number of distinct keys of `role` in `root` with a valid signature on `e`.
std::int64_t count_valid_signatures(const Envelope& e, const Root& root, Role role);

// "2030-01-01T00:00:00Z" <-> seconds since the epoch. parse_time throws Error(bad_input) naming `what`.
std::int64_t parse_time(const std::string& iso, const std::string& what);
std::string format_time(std::int64_t t);

// Serialisation, for airlock-bundle.
json::Value to_json(const Root& r);
json::Value to_json(const Timestamp& t);
json::Value to_json(const Snapshot& s);
json::Value to_json(const Targets& t);
json::Value to_json(const PublicKey& k);
// Signs `signed_part` with every signer and returns the file bytes (readable JSON).
std::string sign_envelope(const json::Value& signed_part, const std::vector<Signer*>& signers);

} // namespace airlock::trust
