// The two offline transports of one format: a repository directory (metadata/ + targets/, as airlock-bundle
// publishes it) and a bundle file (the same tree, for one release, in a stored ZIP64 zip). Both serve TUF
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
};

// Opens `path`: a directory is a repository, a regular file is a bundle. Throws Error(not_found) when it
// does not exist and Error(bad_input) when a file is not a valid bundle zip.
std::unique_ptr<Container> open_container(const std::string& path);

} // namespace airlock::bundle
