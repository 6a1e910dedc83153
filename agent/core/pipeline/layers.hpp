// Internal to pipeline/: the layers of an upgrade that come as binary deltas (issue 17). A layer with a delta
// whose base layer some local image holds is fetched as the delta; the load step rebuilds it from the base
// layer (`docker save` of that image, only the base's bytes mapped), checks it against its diff ID and feeds it
// into the load archive. When the base is gone or the result does not match, the full layer is taken from the
// source if it has it; otherwise the upgrade fails before anything stops.
// Thread-safety: as the pipeline.
#pragma once

#include "bundle/container.hpp"
#include "image/archive.hpp"
#include "image/plan.hpp"
#include "pipeline/run.hpp"
#include "trust/client.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace airlock::pipeline {

// Accepts a delta target when `source` (may be nullptr: any) can serve it.
image::TakeDelta deltas_in(const trust::TrustedState& st, bundle::Container* source, const std::string& version);

// What the deltas of `needs` save: how many layers come as deltas, their bytes and those of the layers.
struct DeltaBytes {
  std::size_t layers = 0;
  std::uint64_t delta = 0, full = 0;
};
DeltaBytes delta_bytes(const std::vector<image::Need>& needs, const image::TakeDelta& take);

// Files the load step makes (`docker save` outputs, rebuilt layer tars), removed when it goes out of scope.
struct Scratch {
  std::map<std::string, std::string> saved; // local image ID -> its `docker save` file
  std::vector<std::string> files;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch();
  // The `docker save` file of local image `id`, saved on first use.
  const std::string& save(Run& run, const std::string& id);
};

// Fetches a full layer blob from the source after a delta failed; nullopt when the source does not hold it.
using FullLayer = std::function<std::optional<std::string>(const std::string& blob)>;

// Layer `i` of `n` rebuilt from `delta_file` (its fetched delta) against the base layer in the engine, as a
// layer of the load archive; or, when that fails (base gone, damaged delta, a result that is not the diff ID),
// the full layer from `full`. Throws the delta's Error, saying that the full layer is missing too, otherwise.
image::LoadLayer rebuild_layer(Run& run, const image::Need& n, std::size_t i, const std::string& delta_file,
                               Scratch& scratch, const FullLayer& full);

} // namespace airlock::pipeline
