// Who is offered a release (DESIGN.md "Fleets"), from the signed `custom` of its release.json target in the
// targets metadata, so that a fleet needs nothing but the static repository:
//
//   "channels": ["stable", "beta"]      the channels it is published to; absent: ["stable"]
//   "rollout": {"percent": 10, "paused": false}   a staged rollout; absent: every site (100%)
//   "min_upgrade_from": "2.0.0"         the oldest installed version it can be installed over; absent: any
//
// A site follows one channel ([app] channel, default "stable") and never sees a release outside it. A release in
// a rollout is offered to a site when the site's bucket for it, a hash of (site ID, app, version) in 0..9999,
// is below percent * 100: the bucket never changes, so raising the percentage only adds sites, and each release
// draws a different 10% of the fleet. A paused rollout offers the release to no site that does not run it yet.
// Rollouts apply to online upgrades and checks; a bundle imported from a stick is the operator's explicit choice
// and ignores them (channels and upgrade paths still apply).
// Thread-safety: plain values and pure functions.
#pragma once

#include "util/json.hpp"

#include <optional>
#include <string>
#include <vector>

namespace airlock::fleet {

inline constexpr const char* default_channel = "stable";

struct Offer {
  std::vector<std::string> channels{default_channel};
  int percent = 100; // 0..100
  bool paused = false;
  std::string min_upgrade_from; // "" when the release can be installed over any version

  bool in_channel(const std::string& channel) const;
  bool in_rollout() const { return paused || percent < 100; }
};

// The offer in a release target's custom metadata. Error(bad_input) naming `what` for a malformed one (a channel
// that is not a name, a percentage outside 0..100, a min_upgrade_from that is not a version).
Offer offer_of(const json::Value& custom, const std::string& what);

// `custom` with the offer's fields set (the defaults are written too, so that the metadata says what it means).
json::Value with_offer(json::Value custom, const Offer& o);

// True when `name` can be a channel: 1 to 64 of a-z, 0-9, '-', '_' and '.', starting with a letter or digit.
bool is_channel_name(const std::string& name);

// The site's bucket for a release, 0..9999: the first 8 bytes of SHA-256("airlock-rollout\n" site_id "\n" app
// "\n" version) as a big-endian number, modulo 10000.
int rollout_bucket(const std::string& site_id, const std::string& app, const std::string& version);

// Whether `o` offers the release to the site: no rollout, or the site's bucket below percent * 100 and not
// paused. `site_id` nullopt (rollouts ignored: a USB import) offers every release.
bool offered(const Offer& o, const std::optional<std::string>& site_id, const std::string& app,
             const std::string& version);

// "in a staged rollout to 10% of sites; this site (bucket 4711 of 10000) is not among them yet", or "paused".
std::string rollout_reason(const Offer& o, const std::string& site_id, const std::string& app,
                           const std::string& version);

} // namespace airlock::fleet
