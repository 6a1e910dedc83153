#include "repo/offers.hpp"

#include "util/error.hpp"

#include <fmt/format.h>

namespace airlock::bundle_tool {

fleet::Offer change_offer(Repository& repo, const std::string& version,
                          const std::function<void(fleet::Offer&)>& change, const KeyRing& keys, std::int64_t now) {
  repo.require_publish_keys(keys);
  std::optional<fleet::Offer> first;
  for (const auto& [name, t] : repo.targets().targets) {
    if (json::string_or(t.custom, "role", "") != "release" || json::string_or(t.custom, "version", "") != version)
      continue;
    fleet::Offer o = fleet::offer_of(t.custom, name);
    change(o);
    repo.set_custom(name, fleet::with_offer(t.custom, o));
    if (!first) first = o;
  }
  if (!first)
    fail(ExitCode::not_found, fmt::format("repository {} has no release {} ('airlock-bundle inspect {}' lists them)",
                                          repo.dir(), version, repo.dir()));
  repo.publish(keys, now);
  return *first;
}

} // namespace airlock::bundle_tool
