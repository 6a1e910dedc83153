// `airlock report --out DIR` and `airlock site-key`: signed site reports (report/report.hpp, docs/fleet.md "Site
// reports from air-gapped sites") and the public key that the vendor registers to check them. Both read the site
// and change nothing in it, except that a site initialised before site keys existed gets its key (and ID) on first
// need, under the run lock. `import --report` writes the same report after the import (write_report_after()).
// Thread-safety: none.
#pragma once

#include "commands/output.hpp"
#include "commands/session.hpp"
#include "util/args.hpp"

#include <string>

namespace airlock::commands {

// --out DIR: writes DIR/airlock-report-<site>-<time>.json, signed by the site key, and prints its path.
// Error(not_found) when DIR is not a directory.
int report(const util::Args& a);
// [--json]: prints the site key's public half (PEM) on stdout, the site ID and how to register it on stderr;
// --json: {"site_id", "public_key"} on stdout.
int site_key(const util::Args& a);

// The report into `dir` for `import --report`: prints "report: PATH" on stdout (on stderr with Output::json, where
// stdout holds the import's JSON). Never throws: a report that cannot be written is a logged warning (the
// import's exit code stands).
void write_report_after(Session& s, const std::string& dir, Output output);

} // namespace airlock::commands
