// The binary deltas of a patch (issue 17): for each layer a site running the base release lacks, a zstd delta
// (delta/delta.hpp) from the base release's layer that delta::choose_base picks, kept when it is below a share of
// the compressed layer (delta::worth_shipping), as target "<app>/blobs/<hex>.from-<base hex>.zst" (custom role
// "delta") recorded in the patch's release.json (release::Layer::delta). Layers the base release holds (by diff
// ID) get none; each target is made once per diff ID.
// Thread-safety: none.
#pragma once

#include "release/manifest.hpp"
#include "repo/repository.hpp"

#include <cstdint>
#include <string>

namespace airlock::bundle_tool {

struct DeltaOptions {
  double max_share = 0.5; // --delta-threshold: keep a delta below this share of the compressed layer; 0: none
  int level = 9;          // --delta-level: zstd's level
};

struct DeltaStats {
  std::size_t made = 0, kept = 0;
  std::uint64_t delta_bytes = 0, layer_bytes = 0; // of the kept ones: the deltas, and the layers they replace
};

// Adds the deltas to the layers of `patch` (the images of the release the patch goes to) against release `base`,
// staging each kept delta in `repo` (published by the caller). `work`: a scratch directory for the layer tars.
// Every layer blob read is checked against its signed hash first (Error(verify_failed): the repository is
// damaged).
DeltaStats add_deltas(Repository& repo, const release::Manifest& base, release::Manifest& patch, const DeltaOptions& o,
                      const std::string& work);

} // namespace airlock::bundle_tool
