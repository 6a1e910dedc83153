#include "delta/select.hpp"

#include <algorithm>

namespace airlock::delta {
namespace {

std::size_t shared(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::size_t n = 0;
  for (const auto& p : a) n += b.count(p);
  return n;
}

std::uint64_t distance(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : b - a; }

} // namespace

std::optional<std::size_t> choose_base(const LayerShape& target, const std::vector<LayerShape>& candidates,
                                       std::optional<std::size_t> same_position) {
  if (same_position && *same_position < candidates.size() &&
      2 * shared(target.paths, candidates[*same_position].paths) >= target.paths.size() && !target.paths.empty())
    return same_position;
  std::optional<std::size_t> best;
  std::size_t best_shared = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const std::size_t s = shared(target.paths, candidates[i].paths);
    if (s == 0) continue;
    if (!best || s > best_shared ||
        (s == best_shared &&
         distance(candidates[i].size, target.size) < distance(candidates[*best].size, target.size))) {
      best = i;
      best_shared = s;
    }
  }
  return best;
}

bool worth_shipping(std::uint64_t delta_size, std::uint64_t full_size, double max_share) {
  return max_share > 0 && static_cast<double>(delta_size) < max_share * static_cast<double>(full_size);
}

} // namespace airlock::delta
