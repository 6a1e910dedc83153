// The TUF client workflow (specification 1.0, section 5) shared by `airlock` and `airlock-bundle verify`.
//
// refresh() takes a trusted state (at least a root) and a MetadataSource (a repository directory, a bundle, or
// HTTP) and moves the state forward: the root chain N -> N+1 -> ..., then timestamp, snapshot and targets. Each
// file is size-limited before it is parsed, signature-checked against a threshold, checked for rollback,
// mix-and-match (version pins and hashes) and expiry (freeze). Any failure throws Error(verify_failed or
// bad_input) with a message naming the role and file, and leaves `state` as it was before that role.
// After a rotation of the timestamp or snapshot keys the old timestamp/snapshot are dropped from the trusted
// state (fast-forward attack recovery, spec 5.3.11).
//
// TrustedState::load/save keep the state in a directory (root.json, timestamp.json, snapshot.json, targets.json),
// each file written atomically; load() re-verifies everything it reads against the stored root.
// Thread-safety: none; one refresh at a time per state.
#pragma once

#include "trust/metadata.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace airlock::trust {

class MetadataSource {
public:
  virtual ~MetadataSource() = default;
  // Returns the bytes of metadata file `name` ("2.root.json", "timestamp.json", "5.snapshot.json", ...), or
  // nullopt when the source does not have it. Must refuse (throw Error(verify_failed)) to return more than
  // `max_bytes`. Throws Error for transport failures.
  virtual std::optional<std::string> fetch(const std::string& name, std::size_t max_bytes) = 0;
  // "bundle /media/usb/x.airlock", "repository /srv/repo", ...: for messages.
  virtual std::string describe() const = 0;
};

template <class M> struct Trusted {
  M meta;
  std::string bytes; // the file exactly as received, for persisting
};

struct TrustedState {
  Trusted<Root> root;
  std::optional<Trusted<Timestamp>> timestamp;
  std::optional<Trusted<Snapshot>> snapshot;
  std::optional<Trusted<Targets>> targets;
  // The newest `now` at which a refresh succeeded (the file verified-at): expiry is never judged at an earlier
  // time, so a clock set back cannot revive metadata that this site already saw later.
  std::int64_t verified_at = 0;

  // A state that trusts only `root_bytes` (the operator's trusted root.json, e.g. from `--trusted-root`).
  // The root must be signed by a threshold of its own root keys. Its expiry is not checked here: an expired
  // initial root is fine as long as the chain leads to a current one.
  static TrustedState from_root(const std::string& root_bytes, const std::string& what);
  // Loads a state directory. Files other than root.json are optional; each is re-verified.
  static TrustedState load(const std::string& dir);
  // Writes only what differs from the files in `dir` (a check against an unchanged repository takes no fsync);
  // verified-at is written with new metadata, or when it is clock_floor_step or more ahead of the file.
  void save(const std::string& dir) const;
};

// How far the saved clock floor (verified-at) may lag the last successful refresh: one day.
inline constexpr std::int64_t clock_floor_step = 86400;

struct RefreshOptions {
  std::int64_t now = 0; // seconds since the epoch; expiry is checked against it
  std::size_t max_root_rotations = 1024;
};

// Runs the whole client workflow. On success `state` holds verified, unexpired timestamp, snapshot and targets,
// and verified_at the time it was judged at: options.now, or verified_at when the clock is behind it.
void refresh(TrustedState& state, MetadataSource& source, const RefreshOptions& options);

// Throws Error(verify_failed) when a role of `state` has expired at `now` (or at verified_at, when later): for
// work that uses the trusted state without a refresh, such as `apply` of what `import --stage-only` staged.
void check_unexpired(const TrustedState& state, std::int64_t now);

} // namespace airlock::trust
