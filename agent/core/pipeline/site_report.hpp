// What goes into a signed site report (report/report.hpp), gathered from the site: its ID, the installed version
// and the image IDs of its release.json, the compose project's containers and their health, the last runs from
// the audit log, free disk space, and the agent that writes it.
// Thread-safety: as Context.
#pragma once

#include "pipeline/context.hpp"
#include "report/report.hpp"
#include "state/db.hpp"

#include <string>

namespace airlock::pipeline {

inline constexpr int report_runs = 10; // the last runs a report lists

// The report of this site now. The site ID must exist (site::ensure_site_id). Never fails because docker or compose
// do not answer: then health is "unknown" and health_detail says why. Error(failure) when the state
// database cannot be read.
report::SiteReport site_report(Context& ctx, state::StateDb& db);

// Signs `r` with the site key (site::ensure_site_key must have run) and writes it atomically into `dir` as
// report::file_name(r), mode 0644. Returns the path. Error(not_found) when `dir` is not a directory.
std::string write_site_report(const Context& ctx, const report::SiteReport& r, const std::string& dir);

} // namespace airlock::pipeline
