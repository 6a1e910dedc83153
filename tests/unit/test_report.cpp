// Signed site reports (report/report.hpp): signing, verification against registered keys, the registry file and
// the fleet table.
#include "report/report.hpp"
#include "trust/keys.hpp"
#include "util/error.hpp"
#include "util/io.hpp"
#include "util/json.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <string>

using namespace airlock;

namespace {

constexpr const char* site_a = "0123456789abcdef0123456789abcdef";
constexpr const char* site_b = "fedcba9876543210fedcba9876543210";

report::SiteReport sample(const std::string& id = site_a) {
  report::SiteReport r;
  r.site_id = id;
  r.generated_at = "2026-03-01T12:00:00Z";
  r.agent_version = "0.1.0";
  r.arch = "x86_64";
  r.app = "shop";
  r.version = "1.1.0";
  r.image_ids = {"sha256:aaaa"};
  r.health = "healthy";
  r.health_detail = "web running";
  r.containers = {{"web", "running", "", 0}};
  r.runs = {{"2026-03-01T11:00:00Z", "import", "1.0.0", "1.1.0", "ok", 2300},
            {"2026-02-01T11:00:00Z", "import", "", "1.0.0", "ok", 0}};
  r.disk_free_state = 1000;
  r.disk_free_app = 2000;
  return r;
}

struct Keys {
  testutil::TempDir tmp;
  trust::PublicKey a = trust::generate_key(tmp / "a.pem"), b = trust::generate_key(tmp / "b.pem");
  std::unique_ptr<trust::Signer> signer_a = trust::load_pem_signer(tmp / "a.pem"),
                                 signer_b = trust::load_pem_signer(tmp / "b.pem");
  report::Registry registry() const { return {{site_a, {"ship 7", a}}, {site_b, {"", b}}}; }
};

std::string why(const std::string& bytes, const report::Registry& reg) {
  auto e = testutil::error_of([&] { report::verify(bytes, "r.json", reg); });
  CHECK(e.code() == ExitCode::verify_failed);
  return e.what();
}

} // namespace

TEST_CASE("report::sign and verify: a report signed by the registered key verifies and reads back") {
  Keys k;
  const std::string bytes = report::sign(sample(), *k.signer_a);
  auto doc = json::parse(bytes, "r");
  CHECK(doc["signed"]["_type"].as_string() == "airlock-site-report");
  CHECK(doc["signatures"].as_array().at(0)["keyid"].as_string() == k.a.keyid());
  const auto v = report::verify(bytes, "r.json", k.registry());
  CHECK(v.name == "ship 7");
  CHECK(v.report.site_id == site_a);
  CHECK(v.report.version == "1.1.0");
  CHECK(v.report.image_ids == std::vector<std::string>{"sha256:aaaa"});
  CHECK(v.report.runs.size() == 2);
  CHECK(v.report.runs[0].downtime_ms == 2300);
  CHECK(v.report.containers.at(0).service == "web");
  CHECK(v.report.disk_free_app == 2000);
  CHECK(report::file_name(v.report) == std::string("airlock-report-") + site_a + "-20260301T120000Z.json");
}

TEST_CASE("report::verify refuses a changed report, another key's signature and an unregistered site") {
  Keys k;
  std::string bytes = report::sign(sample(), *k.signer_a);
  // One byte of the content changed: the registered key's signature no longer matches.
  std::string tampered = bytes;
  const auto at = tampered.find("\"1.1.0\"");
  REQUIRE(at != std::string::npos);
  tampered[at + 5] = '1'; // "1.1.1"
  CHECK(why(tampered, k.registry())
            .find("r.json: the signature by the key of site " + std::string(site_a) +
                  " (ship 7) does not match the content: the report was changed after it was "
                  "signed") == 0);
  // Signed by another key (B's) while claiming to be site A.
  CHECK(why(report::sign(sample(), *k.signer_b), k.registry())
            .find("r.json: not signed by the key registered for site " + std::string(site_a) + " (ship 7) (key " +
                  k.a.keyid().substr(0, 12) + "...) but by another key") == 0);
  // A site nobody registered.
  CHECK(why(report::sign(sample("00000000000000000000000000000000"), *k.signer_a), k.registry())
            .find("r.json: site 00000000000000000000000000000000 is not registered") == 0);
  // Not a report at all, or not this kind of envelope.
  CHECK(why("{\"signed\": 1", k.registry()).find("it is not a site report airlock wrote") != std::string::npos);
  std::string other = bytes;
  other.replace(other.find("airlock-site-report"), 19, "airlock-site-repor7");
  CHECK(why(other, k.registry()).find("_type is \"airlock-site-repor7\"") != std::string::npos);
  // The same bytes verify (the refusals are about the bytes, not a state).
  CHECK(report::verify(bytes, "r.json", k.registry()).report.site_id == site_a);
}

TEST_CASE("report::load_registry reads what registry_json writes and refuses bad entries") {
  Keys k;
  const std::string path = k.tmp / "sites.json";
  util::write_file_atomic(path, report::registry_json(k.registry()));
  const auto reg = report::load_registry(path);
  REQUIRE(reg.size() == 2);
  CHECK(reg.at(site_a).name == "ship 7");
  CHECK(reg.at(site_a).key == k.a);
  CHECK(reg.at(site_b).name == "");
  CHECK(testutil::error_of([&] { report::load_registry(k.tmp / "missing.json"); }).code() == ExitCode::not_found);
  util::write_file_atomic(path, R"({"sites": {"not-an-id": {"public_key": "x"}}})");
  CHECK(testutil::error_of([&] { report::load_registry(path); }).code() == ExitCode::bad_input);
  util::write_file_atomic(path, std::string(R"({"sites": {")") + site_a + R"(": {"public_key": "x"}}})");
  CHECK(testutil::error_of([&] { report::load_registry(path); }).code() == ExitCode::bad_input);
}

TEST_CASE("report::fleet_table shows each site's newest report with its last outcome and age") {
  Keys k;
  auto older = sample();
  older.generated_at = "2026-02-01T12:00:00Z";
  older.version = "1.0.0";
  auto b = sample(site_b);
  b.version = "";
  b.runs.clear();
  b.health = "stopped";
  const std::int64_t now = 1772366400 + 3 * 3600; // 2026-03-01T12:00:00Z + 3 h
  const std::string table = report::fleet_table({{older, "ship 7"}, {sample(), "ship 7"}, {b, ""}}, now);
  CHECK(table == "SITE                              NAME    APP   VERSION  HEALTH   LAST OUTCOME                AGE\n"
                 "0123456789abcdef0123456789abcdef  ship 7  shop  1.1.0    healthy  ok (import 1.0.0 -> 1.1.0)  3h\n"
                 "fedcba9876543210fedcba9876543210  -       shop  (none)   stopped  -                           3h\n");
  CHECK(report::age_text(59) == "59s");
  CHECK(report::age_text(3599) == "59m");
  CHECK(report::age_text(86400 * 12) == "12d");
  CHECK(report::age_text(-5) == "ahead");
}
