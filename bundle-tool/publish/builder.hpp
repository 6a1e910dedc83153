// Turning a release source directory into signed targets (`release add`) and two published releases into a
// patch (`patch add`).
//
// A release source directory holds the compose file, the app files and airlock-release.json:
//   { "version": "1.2.0", "compose_file": "docker-compose.yml", "min_agent_version": "0.1.0",
//     "health": [ {"type": "http", "url": "http://127.0.0.1:8080/health", "status": 200} ],
//     "images": [ "demo/web:1.2.0" ],           // optional: saved with `docker save` by name
//     "channels": ["stable"], "min_upgrade_from": "1.0.0" }   // optional: who is offered it (fleet/offer.hpp)
// The targets of a release, under "<app>/<version>/<arch>/": release.json (release::Manifest, format 2) and
// app.tar.gz (the app tree, POSIX pax tar in gzip, owners set to root). Its images are split into blobs shared
// by every release of the app (DESIGN.md "Images by layer"): "<app>/blobs/<hex>.config.json" per image and
// "<app>/blobs/<diff hex>.layer.tar.gz" per layer (gzip level 6, deterministic), each stored once: a blob that
// the repository holds already is reused, not written again. A patch, under ".../patch-from-<base>/":
// release.json (the same images as the full release) and patch.tar.gz holding only changed and added entries.
// Thread-safety: none.
#pragma once

#include "publish/deltas.hpp"
#include "release/manifest.hpp"
#include "repo/repository.hpp"

#include <string>
#include <vector>

namespace airlock::bundle_tool {

struct ReleaseInput {
  std::string source_dir;
  std::string arch;                        // x86_64 or aarch64
  std::vector<std::string> image_archives; // `docker save` outputs (.tar, or .tar.gz)
  std::vector<std::string> image_names;    // saved with `docker save` (DOCKER_HOST is honoured)
  std::vector<std::string> channels;       // --channel; empty: airlock-release.json's "channels", else stable
};

// How the blobs of a release's images went: new ones (and their bytes), and ones the repository had already.
// For a patch: `added` counts the blobs (configs and layers) that a site running the base release lacks.
struct ImageStats {
  std::size_t added = 0, reused = 0;
  std::uint64_t added_bytes = 0;
  DeltaStats deltas; // a patch's layer deltas
};

// Builds the release, stages its targets in `repo` and publishes. Throws Error(usage) for a version or
// architecture that is already published, Error(bad_input) for an unsafe source tree (device files, sockets,
// symlinks leaving the tree, setuid or setgid files, files or directories writable by others: what
// site::check_tree_policy refuses on a site), a min_agent_version that is not a version, or a broken image
// archive. Nothing is published then.
release::Manifest add_release(Repository& repo, const ReleaseInput& in, const KeyRing& keys, std::int64_t now,
                              ImageStats* stats = nullptr);

// Builds the patch from published release `from` to published release `to` and publishes it, with the layer
// deltas of `deltas` (publish/deltas.hpp).
release::Manifest add_patch(Repository& repo, const std::string& from, const std::string& to, const std::string& arch,
                            const KeyRing& keys, std::int64_t now, ImageStats* stats = nullptr,
                            const DeltaOptions& deltas = {});

} // namespace airlock::bundle_tool
