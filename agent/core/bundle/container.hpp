// The two offline transports of one format: a repository directory (metadata/ + targets/, as airlock-bundle
// publishes it) and a bundle file (the same tree, for one release, in a stored ZIP64 zip, possibly split into a
// part set). Both serve TUF
// metadata to trust::refresh() and target bytes to trust::verify_target(). Neither trusts anything: every name
// and size they return is checked against signed metadata by the caller.
// Thread-safety: one thread at a time per container.
#pragma once

#include "trust/client.hpp"
#include "util/io.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace airlock::bundle {

// Where a target lives inside a repository (consistent snapshots, TUF spec 5.7.3 and tuf-js):
// "targets/<dir>/<sha256>.<basename>" for target name "<dir>/<basename>".
std::string target_path(const trust::TargetFile& t);

class Container : public trust::MetadataSource {
public:
  // Every file under targets/ that the container holds, as a path relative to the container root.
  virtual std::vector<std::string> target_files() = 0;
  // Opens a file under targets/ (a path from target_files() or target_path()); nullptr when absent. The bytes
  // are unchecked (no zip CRC either): the caller must pass them through trust::verify_target before use.
  virtual std::unique_ptr<util::Source> open(const std::string& path) = 0;
  virtual bool is_bundle() const = 0;
  // Whether the container can serve the signed target `t` (without reading it). A web repository says yes to
  // every signed target: it cannot list its files, and a missing one is a 404 when it is fetched.
  virtual bool holds(const trust::TargetFile& t) { return open(target_path(t)) != nullptr; }
  // A container that fetches targets itself (resumable, hashed while streaming, verified against `t`) puts the
  // file at "<dir>/<sha256>" and returns that path; nullopt (the default) means "read open() instead".
  virtual std::optional<std::string> fetch_target(const trust::TargetFile&, const std::string&) { return std::nullopt; }
  // Whether fetch_target() does the fetching (then targets are fetched one at a time); false (the default) means
  // the pipeline reads open() and may read several targets at once, each from its own thread.
  virtual bool fetches_targets() const { return false; }
  // Appended to a message about bytes of this container that failed a check (verify_target_in): what else the
  // operator should know. Empty by default; a part set says a part may be missing, damaged or out of order.
  virtual std::string damage_hint() const { return {}; }
};

// Opens `path`: a directory is a repository, a regular file is a bundle. A file named "<base>.part-NNN" is the
// first part of a part set (bundle/parts.hpp), read with the parts beside it as one bundle; so is "<base>" when
// it does not exist but "<base>.part-001" does. Throws Error(not_found) when it does not exist,
// Error(bad_input) when a file is not a valid bundle zip or a part set is incomplete (PartSet::open), and
// Error(usage) for a part other than the first.
std::unique_ptr<Container> open_container(const std::string& path);

// The SHA-256 (lowercase hex) of the bundle that open_container(path) reads: a part set's parts joined in order,
// as `cat` joins them. For the audit; `path` must not be a directory.
std::string bundle_sha256(const std::string& path);

} // namespace airlock::bundle
