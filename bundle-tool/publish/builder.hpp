// Turning a release source directory into signed targets (`release add`) and two published releases into a
// patch (`patch add`).
//
// A release source directory holds the compose file, the app files and airlock-release.json:
//   { "version": "1.2.0", "compose_file": "docker-compose.yml", "min_agent_version": "0.1.0",
//     "health": [ {"type": "http", "url": "http://127.0.0.1:8080/health", "expect_status": 200} ],
//     "images": [ "demo/web:1.2.0" ] }          // optional: saved with `docker save` by name
// The targets of a release, under "<app>/<version>/<arch>/": release.json (release::Manifest), app.tar.gz (the
// app tree, POSIX pax tar in gzip, owners set to root) and images/<id12>.tar.gz (one gzip docker archive per
// image archive). A patch, under ".../patch-from-<base>/": release.json and patch.tar.gz holding only changed
// and added entries; its images are those whose ID is new, pointing at the full release's image targets.
// Thread-safety: none.
#pragma once

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
};

// Builds the release, stages its targets in `repo` and publishes. Throws Error(usage) for a version or
// architecture that is already published, Error(bad_input) for an unsafe source tree (device files, sockets,
// symlinks leaving the tree) or a broken image archive.
release::Manifest add_release(Repository& repo, const ReleaseInput& in, const KeyRing& keys, std::int64_t now);

// Builds the patch from published release `from` to published release `to` and publishes it.
release::Manifest add_patch(Repository& repo, const std::string& from, const std::string& to, const std::string& arch,
                            const KeyRing& keys, std::int64_t now);

// Reads the image IDs and tags of a `docker save` archive (plain or gzip). Throws Error(bad_input).
std::vector<release::Image> read_image_archive(const std::string& path);

} // namespace airlock::bundle_tool
