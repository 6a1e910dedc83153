// What a site lacks of a release's images, and so what it must fetch: DESIGN.md "Images by layer".
// The engine finds a layer by its chain (the layer and every layer below it), so a layer counts as held only
// together with the layers below it: the longest prefix of the image's layers that some local image starts with.
// A diff ID the engine holds under another parent is fetched again (the loader would need its file).
// A layer with a delta (issue 17) can be rebuilt when some local image holds the delta's base layer.
// Thread-safety: plain functions.
#pragma once

#include "docker/docker.hpp"
#include "release/manifest.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace airlock::image {

struct Need {
  const release::Image* image = nullptr;
  std::size_t held = 0; // its first `held` layers are in the engine
  std::string holder;   // a local image whose layers begin with those ("" when held == 0)
  // Per layer: a local image that holds the base of the layer's delta ("" for none, or no delta).
  std::vector<std::string> delta_holder;
};

// Says whether a delta target may be taken (a bundle holds it, the export ships deltas).
using TakeDelta = std::function<bool(const std::string& delta_blob)>;

// One Need per image of `m` that is not among `local` (by ID), in the manifest's order.
std::vector<Need> needs(const release::Manifest& m, const std::vector<docker::LocalImage>& local);

// Takes `l` into account for `n`: a local image (one loaded since `n` was made) that holds more of its layers.
void consider(Need& n, const docker::LocalImage& l);

// True when layer `i` of `n` comes as its delta: it has one, a local image holds its base, and `take` (empty:
// always) accepts the delta's target.
bool by_delta(const Need& n, std::size_t i, const TakeDelta& take = {});

// The blob targets that `n` reads: each config and, for each layer above `held`, its delta (by_delta) or its
// layer blob; each name once, in order.
std::vector<std::string> blobs(const std::vector<Need>& n, const TakeDelta& take = {});

} // namespace airlock::image
