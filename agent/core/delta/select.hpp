// Which layer of the base release a changed layer is diffed against, and whether its delta is worth shipping
// (issue 17). Thread-safety: plain functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace airlock::delta {

// A layer as the selection sees it: its uncompressed size and the paths its tar holds.
struct LayerShape {
  std::uint64_t size = 0;
  std::set<std::string> paths;
};

// The base for `target` among `candidates` (the base release's layers the new release does not keep), or nullopt
// when none shares a path with it. `same_position`: the index of the candidate that is the same image's layer at
// the same position (nullopt: none). That one is taken when it shares at least half of the target's paths;
// otherwise the candidate sharing the most paths, and among equals the one closest in size, then the first.
std::optional<std::size_t> choose_base(const LayerShape& target, const std::vector<LayerShape>& candidates,
                                       std::optional<std::size_t> same_position);

// True when a delta of `delta_size` bytes is worth shipping instead of the compressed layer of `full_size` bytes:
// below `max_share` (0 to 1; 0 ships no deltas) of it.
bool worth_shipping(std::uint64_t delta_size, std::uint64_t full_size, double max_share);

} // namespace airlock::delta
