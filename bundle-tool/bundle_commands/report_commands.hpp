// `airlock-bundle report register` and `report verify`: the vendor's side of signed site reports
// (report/report.hpp, docs/fleet.md "Site reports from air-gapped sites").
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

#include <cstdint>

namespace airlock::bundle_tool {

// --sites SITES.json --site-id ID --key PUB.pem [--name NAME] [--replace]: adds the site (or renames it) in
// SITES.json, which is created when missing and rewritten atomically. Error(usage) for a bad site ID, or for a site
// registered with another key unless --replace; Error(bad_input) for a key file that is not a P-256 key.
int report_register(const util::Args& a);

// REPORT... --sites SITES.json [--json]: verifies each report against the registered keys and prints the fleet
// table (report::fleet_table; --json: one array) of the good ones. Each refused report gets a line on stderr
// "airlock-bundle: refused: <why>". Returns 0 when all verified, ExitCode::verify_failed (3) when any was refused.
// `now` (seconds since the epoch) dates the reports' age.
int report_verify(const util::Args& a, std::int64_t now);

} // namespace airlock::bundle_tool
