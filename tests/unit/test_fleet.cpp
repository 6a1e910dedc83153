// Who is offered a release (fleet/offer.hpp): channel names, the signed offer fields, and staged rollouts by a
// hash of the site ID, over a simulated fleet.
#include "fleet/offer.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/json.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <set>
#include <string>
#include <vector>

using namespace airlock;

namespace {

std::vector<std::string> fleet_of(int n) { // n distinct, stable site IDs (32 hex digits)
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(fmt::format("{:032x}", 0x9e3779b97f4a7c15ull * (i + 1)));
  return ids;
}

std::set<std::string> offered_to(const std::vector<std::string>& ids, const fleet::Offer& o, const std::string& v) {
  std::set<std::string> out;
  for (const auto& id : ids)
    if (fleet::offered(o, id, "demo", v)) out.insert(id);
  return out;
}

} // namespace

TEST_CASE("fleet: a rollout offers its percentage of 200 sites, and raising it keeps the sites it had") {
  const auto ids = fleet_of(200);
  fleet::Offer o;
  o.percent = 10;
  const auto ten = offered_to(ids, o, "1.1.0");
  // 10% of 200 is 20; a hash gives a binomial count: within 3 standard deviations (sqrt(200*0.1*0.9) = 4.2).
  CHECK(ten.size() >= 8);
  CHECK(ten.size() <= 33);
  o.percent = 50;
  const auto fifty = offered_to(ids, o, "1.1.0");
  CHECK(fifty.size() >= 79);
  CHECK(fifty.size() <= 121);
  for (const auto& id : ten) CHECK(fifty.count(id) == 1); // raising N only adds sites
  o.percent = 100;
  CHECK(offered_to(ids, o, "1.1.0").size() == 200);
  o.percent = 0;
  CHECK(offered_to(ids, o, "1.1.0").empty());
  // Another release draws other sites: the first 10% of 1.2.0 is not the first 10% of 1.1.0.
  o.percent = 10;
  CHECK(offered_to(ids, o, "1.2.0") != ten);
  // Paused: no site, whatever the percentage.
  o.percent = 50;
  o.paused = true;
  CHECK(offered_to(ids, o, "1.1.0").empty());
  // Without a site ID (a bundle imported from a stick) rollouts do not apply.
  CHECK(fleet::offered(o, std::nullopt, "demo", "1.1.0"));
}

TEST_CASE("fleet: the bucket is a fixed function of site, app and version") {
  const std::string id = "00112233445566778899aabbccddeeff";
  const int b = fleet::rollout_bucket(id, "demo", "1.1.0");
  CHECK(b >= 0);
  CHECK(b < 10000);
  CHECK(fleet::rollout_bucket(id, "demo", "1.1.0") == b);
  // SHA-256("airlock-rollout\n00112233445566778899aabbccddeeff\ndemo\n1.1.0"), first 8 bytes mod 10000: the
  // documented formula, so that a vendor can compute a site's bucket with sha256sum.
  const std::string hex = util::sha256_hex("airlock-rollout\n" + id + "\ndemo\n1.1.0");
  CHECK(b == static_cast<int>(std::stoull(hex.substr(0, 16), nullptr, 16) % 10000));
  fleet::Offer o;
  o.percent = 30;
  CHECK(fleet::rollout_reason(o, id, "demo", "1.1.0").find(fmt::format("bucket {} of 10000", b)) != std::string::npos);
}

TEST_CASE("fleet: offer_of reads the signed fields and refuses malformed ones") {
  auto o = fleet::offer_of(json::parse(R"({"role":"release"})", "t"), "t");
  CHECK(o.channels == std::vector<std::string>{"stable"});
  CHECK(o.percent == 100);
  CHECK(!o.in_rollout());
  o = fleet::offer_of(json::parse(R"({"channels":["beta","stable"],"rollout":{"percent":5,"paused":true},
                                     "min_upgrade_from":"2.0.0"})",
                                  "t"),
                      "t");
  CHECK(o.in_channel("beta"));
  CHECK(!o.in_channel("edge"));
  CHECK(o.percent == 5);
  CHECK(o.paused);
  CHECK(o.min_upgrade_from == "2.0.0");
  // Written back as read.
  auto back = fleet::offer_of(fleet::with_offer(json::Value(json::Object{}), o), "t");
  CHECK(back.channels == o.channels);
  CHECK(back.percent == 5);
  CHECK(back.paused);
  CHECK(back.min_upgrade_from == "2.0.0");
  for (const char* bad : {R"({"channels":[]})", R"({"channels":["Beta"]})", R"({"channels":["a\u001bb"]})",
                          R"({"channels":"stable"})", R"({"rollout":{"percent":101}})", R"({"rollout":{"percent":-1}})",
                          R"({"rollout":{"paused":"yes"}})", R"({"min_upgrade_from":"../x"})"}) {
    CAPTURE(bad);
    auto e = testutil::error_of([&] { fleet::offer_of(json::parse(bad, "t"), "the target x"); });
    CHECK(e.code() == ExitCode::bad_input);
    CHECK(std::string(e.what()).find("the target x") != std::string::npos);
    CHECK(std::string(e.what()).find('\x1b') == std::string::npos);
  }
  CHECK(fleet::is_channel_name("stable"));
  CHECK(fleet::is_channel_name("lts-2026.1"));
  CHECK(!fleet::is_channel_name("-x"));
  CHECK(!fleet::is_channel_name(std::string(65, 'a')));
}
