// release.json: the description of one release (or one patch) of an app, shipped as a signed TUF target next
// to its payload targets. The agent stages, checks and starts a release from it; airlock-bundle writes it.
//
//   {
//     "format": 2, "app": "demo", "version": "1.2.0", "arch": "x86_64", "kind": "full" | "patch",
//     "base_version": "1.1.0",                       // patch only: the exact version it applies to
//     "compose_file": "docker-compose.yml", "min_agent_version": "0.1.0",
//     "health": [ ... ],                             // passed through from airlock-release.json
//     "files": [ {"path","type":"file","size","sha256","mode"} | {"path","type":"dir","mode"}
//                | {"path","type":"symlink","target"} ],   // every entry of the resulting app tree
//     "payload": "<dir>/app.tar.gz",                 // full TUF target name of the app tree (or patch) archive
//     "delete": [ "old/file" ],                      // patch only
//     "images": [ {"id": "sha256:<config digest>", "tags": ["demo/web:1.2.0"],
//                  "config": "<app>/blobs/<hex>.config.json",           // target: the image config, byte-exact
//                  "layers": [ {"diff_id": "sha256:<hex>",               // in order, as RootFS.Layers
//                               "blob": "<app>/blobs/<hex>.layer.tar.gz", // target: the layer tar, gzip
//                               "size": 123, "uncompressed_size": 456,
//                               "delta": {"blob": "<app>/blobs/<hex>.from-<base hex>.zst",  // patch only, optional
//                                         "base": "sha256:<base hex>", "size": 78} } ] } ]
//   }
// Layers and configs are content-addressed targets shared by every image and release of the app (DESIGN.md
// "Images by layer"); a patch lists the same images as its full release, and a bundle carries the blobs a site
// may lack. Format 1 (whole image archives: "archive": "<dir>/images/<id12>.tar.gz" | null) is still read, so
// the manifests of releases installed before format 2 keep working for rollback and pruning, but a format 1
// release is not imported (pipeline/choose refuses it: republish it with this airlock-bundle).
// Parsing refuses unknown kinds, wrong types, unsafe paths (absolute, "..", empty components) and a version,
// base_version or min_agent_version that is not a version (release/version.hpp) with Error(bad_input) naming the
// field. Thread-safety: plain values.
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

// A binary delta that rebuilds a layer from another layer (issue 17; delta/delta.hpp): a target of its own.
struct Delta {
  std::string blob; // target name: the zstd frame
  std::string base; // the diff ID of the layer it is applied to, which the site's engine must hold
  std::uint64_t size = 0;
};

struct Layer {
  std::string diff_id; // "sha256:<64 hex>": the SHA-256 of the uncompressed layer tar
  std::string blob;    // target name of the gzip layer
  std::uint64_t size = 0, uncompressed_size = 0;
  std::optional<Delta> delta; // a patch's layer that changed: what rebuilds it from the base release's layer
};

struct Image {
  std::string id; // "sha256:<64 hex>": the digest of its config
  std::vector<std::string> tags;
  std::string config;                 // format 2: target name of the config JSON
  std::vector<Layer> layers;          // format 2
  std::optional<std::string> archive; // format 1 only: the whole image archive, when the release shipped it
};

// Target names of the app's content-addressed blobs: "<app>/blobs/<hex>.layer.tar.gz" for a layer with diff ID
// sha256:<hex>, "<app>/blobs/<hex>.config.json" for the config of image sha256:<hex>.
std::string layer_blob_name(const std::string& app, const std::string& diff_id);
std::string config_blob_name(const std::string& app, const std::string& image_id);
// "<app>/blobs/<hex>.from-<base hex>.zst": the delta that rebuilds layer sha256:<hex> from layer `base`.
std::string delta_blob_name(const std::string& app, const std::string& diff_id, const std::string& base);

struct Manifest {
  int format = 2;
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
