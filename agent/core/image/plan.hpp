// What a site lacks of a release's images, and so what it must fetch: DESIGN.md "Images by layer".
// The engine finds a layer by its chain (the layer and every layer below it), so a layer counts as held only
// together with the layers below it: the longest prefix of the image's layers that some local image starts with.
// A diff ID the engine holds under another parent is fetched again (the loader would need its file).
// Thread-safety: plain functions.
#pragma once

#include "docker/docker.hpp"
#include "release/manifest.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace airlock::image {

struct Need {
  const release::Image* image = nullptr;
  std::size_t held = 0; // its first `held` layers are in the engine
  std::string holder;   // a local image whose layers begin with those ("" when held == 0)
};

// One Need per image of `m` that is not among `local` (by ID), in the manifest's order.
std::vector<Need> needs(const release::Manifest& m, const std::vector<docker::LocalImage>& local);

// Takes `l` into account for `n`: a local image (one loaded since `n` was made) that holds more of its layers.
void consider(Need& n, const docker::LocalImage& l);

// The blob targets that `n` reads: each config and the layers above `held`, each name once, in order.
std::vector<std::string> blobs(const std::vector<Need>& n);

} // namespace airlock::image
