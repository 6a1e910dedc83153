// release.json: the description of one release (or one patch) of an app, shipped as a signed TUF target next
// to its payload targets. The agent stages, checks and starts a release from it; airlock-bundle writes it.
//
//   {
//     "format": 1, "app": "demo", "version": "1.2.0", "arch": "x86_64", "kind": "full" | "patch",
//     "base_version": "1.1.0",                       // patch only: the exact version it applies to
//     "compose_file": "docker-compose.yml", "min_agent_version": "0.1.0",
//     "health": [ ... ],                             // passed through from airlock-release.json
//     "files": [ {"path","type":"file","size","sha256","mode"} | {"path","type":"dir","mode"}
//                | {"path","type":"symlink","target"} ],   // every entry of the resulting app tree
//     "payload": "<dir>/app.tar.gz",                 // full TUF target name of the app tree (or patch) archive
//     "delete": [ "old/file" ],                      // patch only
//     "images": [ {"id":"sha256:...","tags":["demo/web:1.2.0"],"archive":"<dir>/images/<id12>.tar.gz"|null} ]
//   }                                                // archive null: a patch whose image did not change
// Parsing refuses unknown kinds, wrong types and unsafe paths (absolute, "..", empty components) with
// Error(bad_input) naming the field. Thread-safety: plain values.
#pragma once

#include "util/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace airlock::release {

struct FileEntry {
  enum class Type { file, dir, symlink };
  std::string path;
  Type type = Type::file;
  std::uint64_t size = 0;
  std::string sha256;
  std::uint32_t mode = 0644;
  std::string target; // symlink target
};

struct Image {
  std::string id; // "sha256:<64 hex>"
  std::vector<std::string> tags;
  std::optional<std::string> archive; // target name relative to the release dir, when this release ships it
};

struct Manifest {
  std::string app, version, arch;
  bool is_patch = false;
  std::string base_version; // patch only
  std::string compose_file = "docker-compose.yml";
  std::string min_agent_version = "0.0.0";
  json::Value health = json::Array{};
  std::vector<FileEntry> files;
  std::string payload;
  std::vector<std::string> deletes;
  std::vector<Image> images;
};

Manifest parse_manifest(std::string_view bytes, const std::string& what);
std::string to_json_text(const Manifest& m);

// True when `p` is a safe relative path: no leading '/', no "." / ".." / empty components, no backslash or NUL.
bool is_safe_relative_path(const std::string& p);

// Target names of a release: "<app>/<version>/<arch>/release.json" and, for a patch,
// "<app>/<version>/<arch>/patch-from-<base>/release.json".
std::string release_dir(const std::string& app, const std::string& version, const std::string& arch);
std::string patch_dir(const std::string& app, const std::string& version, const std::string& arch,
                      const std::string& base);

} // namespace airlock::release
