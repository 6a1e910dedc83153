#include "fleet/offer.hpp"

#include "release/version.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace airlock::fleet {

bool Offer::in_channel(const std::string& channel) const {
  return std::find(channels.begin(), channels.end(), channel) != channels.end();
}

bool is_channel_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && (c == '-' || c == '_' || c == '.'));
  };
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!ok(name[i], i == 0)) return false;
  return true;
}

Offer offer_of(const json::Value& custom, const std::string& what) {
  Offer o;
  auto bad = [&](const std::string& why) {
    fail(ExitCode::bad_input, fmt::format("{}: {}; the signed metadata is malformed (republish it with this "
                                          "airlock-bundle)",
                                          what, why));
  };
  if (!custom.is_object()) return o;
  if (const auto* c = custom.find("channels")) {
    if (!c->is_array() || c->as_array().empty()) bad("'channels' is not a non-empty list of names");
    o.channels.clear();
    for (const auto& n : c->as_array()) {
      if (!n.is_string() || !is_channel_name(n.as_string()))
        bad("'channels' holds " + (n.is_string() ? util::quoted(n.as_string(), 64) : std::string("a non-string")) +
            ", which is not a channel name");
      o.channels.push_back(n.as_string());
    }
  }
  if (const auto* r = custom.find("rollout")) {
    if (!r->is_object()) bad("'rollout' is not an object");
    if (const auto* p = r->find("percent")) {
      if (!p->is_int() || p->as_int() < 0 || p->as_int() > 100) bad("'rollout.percent' is not a whole number 0..100");
      o.percent = static_cast<int>(p->as_int());
    }
    if (const auto* p = r->find("paused")) {
      if (!p->is_bool()) bad("'rollout.paused' is not true or false");
      o.paused = p->as_bool();
    }
  }
  if (const auto* m = custom.find("min_upgrade_from")) {
    if (!m->is_string() || !release::is_valid_version(m->as_string()))
      bad("'min_upgrade_from' is not a version such as 2.0.0");
    o.min_upgrade_from = m->as_string();
  }
  return o;
}

json::Value with_offer(json::Value custom, const Offer& o) {
  json::Array channels;
  for (const auto& c : o.channels) channels.emplace_back(c);
  custom["channels"] = channels;
  json::Value r;
  r["percent"] = static_cast<std::int64_t>(o.percent);
  r["paused"] = o.paused;
  custom["rollout"] = r;
  if (!o.min_upgrade_from.empty()) custom["min_upgrade_from"] = o.min_upgrade_from;
  return custom;
}

int rollout_bucket(const std::string& site_id, const std::string& app, const std::string& version) {
  const std::string hex = util::sha256_hex("airlock-rollout\n" + site_id + "\n" + app + "\n" + version);
  const unsigned long long v = std::stoull(hex.substr(0, 16), nullptr, 16);
  return static_cast<int>(v % 10000);
}

bool offered(const Offer& o, const std::optional<std::string>& site_id, const std::string& app,
             const std::string& version) {
  if (!site_id || !o.in_rollout()) return true;
  return !o.paused && rollout_bucket(*site_id, app, version) < o.percent * 100;
}

std::string rollout_reason(const Offer& o, const std::string& site_id, const std::string& app,
                           const std::string& version) {
  if (o.paused) return fmt::format("its staged rollout ({}% of sites) is paused", o.percent);
  return fmt::format("in a staged rollout to {}% of sites; this site (bucket {} of 10000) is not among them yet",
                     o.percent, rollout_bucket(site_id, app, version));
}

} // namespace airlock::fleet
