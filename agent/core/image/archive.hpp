// Docker image archives taken apart into a config and its layers (for the repository), and put together
// again for `docker load` (for the engine). DESIGN.md "Images by layer".
//
// Both of docker's `docker save` layouts are read: the legacy one (manifest.json, <hex>.json configs,
// <dir>/layer.tar, duplicate layers as symlinks) and the OCI one of Docker 25 and later (index.json,
// oci-layout, blobs/sha256/<hex>, plus the same manifest.json naming blobs). The archive written for
// `docker load` is the legacy layout, which every engine loads: manifest.json, <config hex>.json and
// <diff hex>/layer.tar per layer. The legacy loader would decompress a gzip layer file itself, inside the engine,
// one layer after another; the writer decompresses the repository's gzip blobs instead, so the engine reads plain
// layer tars, as from `docker save`, while the agent inflates on a read-ahead thread. A layer the engine already
// holds may be left out (the classic overlay2 store looks its chain up before it opens the file), while the
// containerd image store needs every layer.
// Thread-safety: plain functions; objects are used by one thread.
#pragma once

#include "util/io.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace airlock::image {

// One layer of an image taken from a `docker save` archive.
struct SplitLayer {
  std::string diff_id;   // "sha256:<hex>", checked against the uncompressed bytes
  std::string blob_file; // "<work_dir>/<hex>.layer.tar.gz": the layer, gzip level 6, deterministic; "" (and
                         // size 0) for a layer the caller has already (split_archive's `have`)
  std::uint64_t size = 0, uncompressed_size = 0;
};

struct SplitImage {
  std::string id; // "sha256:<digest of config>"
  std::vector<std::string> tags;
  std::string config; // the config JSON, byte-exact
  std::vector<SplitLayer> layers;
};

// Reads the `docker save` archive `path` (plain or gzip) and writes each distinct layer once as
// "<work_dir>/<hex>.layer.tar.gz", except the layers for which `have(diff_id)` is true (a repository holding
// them already): those are only hashed. A plain archive is read once to hash, and the new layers again to
// compress them; a gzip one is hashed and compressed in one pass. Checks that each image's ID is its config's
// digest, that the config lists as many diff IDs as the manifest lists layers, and that each layer's SHA-256 is
// its diff ID. Throws Error(bad_input) naming the archive and the entry for anything else (not a docker archive,
// a damaged or compressed layer, unsafe or dangling paths).
std::vector<SplitImage> split_archive(const std::string& path, const std::string& work_dir,
                                      const std::function<bool(const std::string&)>& have = {});

// A layer of an archive for `docker load`: `size` bytes at `offset` of `file`, or left out (omit) because the
// engine holds it. Those bytes are the layer tar itself (a layer inside an archive that `docker save` wrote, a
// layer rebuilt from a delta), or, when `gunzipped_size` is not 0, a gzip blob of a layer tar of that many bytes
// (the signed release says how many), which the archive carries decompressed.
struct LoadLayer {
  std::string diff_id;
  bool omit = false;
  std::string file;
  std::uint64_t offset = 0, size = 0;
  std::uint64_t gunzipped_size = 0;
};

// Writes a legacy-layout docker archive of one image to `out`: manifest.json (config, tags, layer paths), the
// config and every layer that is not omitted, each distinct diff ID once, gzip blobs decompressed. Throws
// Error(bad_input) when a blob is not a whole gzip stream and Error(failure) when it does not inflate to exactly
// gunzipped_size bytes; the engine checks the diff ID of what it reads.
void write_load_archive(util::Sink& out, const std::string& config, const std::vector<std::string>& tags,
                        const std::vector<LoadLayer>& layers);

// The layers of image `id` inside the `docker save` archive `path` (uncompressed, either layout), in order,
// as byte ranges of that file. Throws Error(bad_input) when the archive does not hold the image.
std::vector<LoadLayer> saved_layers(const std::string& path, const std::string& id);

} // namespace airlock::image
