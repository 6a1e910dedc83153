// Signed site reports: what an air-gapped site tells its vendor, carried back on the USB stick (docs/fleet.md
// "Site reports from air-gapped sites"). A report is a TUF-style envelope (trust::sign_envelope): its `signed`
// object (below) in canonical JSON, signed by the site key (site/identity.hpp), with `_type`
// "airlock-site-report". The vendor checks it against the public keys it registered per site ID (Registry, a
// SITES.json file) with `airlock-bundle report verify`.
//
// The signed object (format 1; every field always present):
//   _type          "airlock-site-report"
//   format         1
//   site_id        32 lowercase hex digits (site/identity.hpp)
//   generated_at   "YYYY-MM-DDTHH:MM:SSZ", the site's clock
//   agent_version, arch    the airlock that wrote it
//   app, version   the installed version ("" when nothing is installed)
//   image_ids      the image IDs of the installed release (from its release.json)
//   health         healthy | unhealthy | stopped | unknown; health_detail says why
//   containers     [{service, status, health, restarts}] of the compose project
//   runs           the last upgrades, rollbacks and recoveries, newest first: [{at, action, from, to, outcome,
//                  downtime_ms}] (the audit log's rows)
//   disk_free      {state, app}: free bytes of the state directory's and the app directory's file systems (-1:
//                  unknown)
// Unknown extra fields are kept by the signature and ignored, so later formats can add fields.
// Thread-safety: plain values and functions.
#pragma once

#include "trust/keys.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace airlock::report {

inline constexpr std::string_view report_type = "airlock-site-report";
inline constexpr std::size_t max_report_bytes = 1u << 20;

struct RunOutcome {
  std::string at, action, from, to, outcome;
  std::int64_t downtime_ms = 0;
};

struct ContainerState {
  std::string service, status, health;
  std::int64_t restarts = 0;
};

struct SiteReport {
  std::string site_id, generated_at, agent_version, arch, app, version;
  std::vector<std::string> image_ids;
  std::string health = "unknown", health_detail;
  std::vector<ContainerState> containers;
  std::vector<RunOutcome> runs; // newest first
  std::int64_t disk_free_state = 0, disk_free_app = 0;
};

// The report's file bytes: its signed object (above) signed with `key`.
std::string sign(const SiteReport& r, trust::Signer& key);
// "airlock-report-<site_id>-<YYYYMMDDTHHMMSSZ>.json" (generated_at without separators).
std::string file_name(const SiteReport& r);

// The signed object read back (no signature check): Error(bad_input) naming `what` and the field for a missing or
// mistyped field, a `_type` other than report_type, a format other than 1 or a site ID that is not one.
SiteReport parse_signed(const std::string& bytes, const std::string& what);

// The vendor's registry of site keys, a SITES.json file:
//   {"sites": {"<site id>": {"name": "ship 7", "public_key": "-----BEGIN PUBLIC KEY-----\n..."}}}
// "name" is optional ("" when absent). Keys are P-256 public keys in PEM (what `airlock site-key` prints).
struct Site {
  std::string name;
  trust::PublicKey key;
};
using Registry = std::map<std::string, Site>; // by site ID

// Error(not_found) when `path` does not exist, Error(bad_input) naming the file and the site for anything that
// is not the format above.
Registry load_registry(const std::string& path);
// The file's bytes (readable JSON, sites in ID order).
std::string registry_json(const Registry& r);

// A report whose signature checks out, and the registered site's name.
struct Verified {
  SiteReport report;
  std::string name;
};

// Verifies the report `bytes` (from `what`) against `sites`. Error(verify_failed) naming `what` when the file is
// larger than max_report_bytes, is not a site report (unparsable, wrong `_type`, a field missing), names a site that
// is not registered, or holds no valid signature by the registered key: "signed by another key" when no
// signature names the registered key's ID, "changed after it was signed" when one does but does not verify.
Verified verify(std::string_view bytes, const std::string& what, const Registry& sites);

// The fleet table of `reports` at time `now` (seconds since the epoch): a header and one line per site, its newest
// report (by generated_at): SITE (ID), NAME, APP, VERSION, HEALTH, LAST OUTCOME (the newest run: "ok (import
// 1.0.0 -> 1.1.0)", "-" when none) and AGE (of the report: "42s", "5m", "3h", "12d"; "ahead" when the site's
// clock is ahead of `now`). Columns are padded with spaces; text from the reports is made printable.
std::string fleet_table(const std::vector<Verified>& reports, std::int64_t now);
// The AGE column's text for `seconds`.
std::string age_text(std::int64_t seconds);

} // namespace airlock::report
