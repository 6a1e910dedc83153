// Changing who is offered a published release, after the fact and signed like the rest: its channels and its
// staged rollout (fleet/offer.hpp). The offer lives in the custom metadata of every release target of the
// version (each architecture, the full release and every patch to it); a change rewrites all of them and
// publishes targets, snapshot and timestamp v+1. Files and hashes never change.
// Thread-safety: none (one process per repository).
#pragma once

#include "fleet/offer.hpp"
#include "repo/repository.hpp"

#include <functional>
#include <string>

namespace airlock::bundle_tool {

// Applies `change` to the offer of every release target of `version` and publishes. Returns the new offer (of the
// first target; all are given the same change). Error(not_found) when no release target has that version.
fleet::Offer change_offer(Repository& repo, const std::string& version,
                          const std::function<void(fleet::Offer&)>& change, const KeyRing& keys, std::int64_t now);

} // namespace airlock::bundle_tool
