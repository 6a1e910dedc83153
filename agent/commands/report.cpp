#include "commands/report.hpp"

#include "log/log.hpp"
#include "pipeline/site_report.hpp"
#include "site/identity.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

#include <fmt/format.h>

#include <iostream>

namespace airlock::commands {
namespace {

// The site's ID and key, made first (under the run lock) when the site predates them.
void ensure_identity(Session& s) {
  if (site::read_site_id(s.layout()) && site::read_site_key(s.layout())) return;
  s.lock();
  site::ensure_site_id(s.layout());
  site::ensure_site_key(s.layout());
}

std::string write_report(Session& s, const std::string& dir) {
  s.open_read_only(); // a no-op once open_for_change() ran
  ensure_identity(s);
  const auto r = pipeline::site_report(s.ctx(), s.db());
  const std::string path = pipeline::write_site_report(s.ctx(), r, dir);
  log::event(log::Level::info, "report", "written", "site report written to " + path,
             {{"path", json::Value(path)}, {"health", json::Value(r.health)}});
  return path;
}

} // namespace

int report(const util::Args& a) {
  const std::string dir = a.required("out");
  if (!a.operands().empty()) fail(ExitCode::usage, "report takes no operands; use --out DIR");
  Session s(a);
  std::cout << write_report(s, dir) << "\n";
  return 0;
}

int site_key(const util::Args& a) {
  if (!a.operands().empty()) fail(ExitCode::usage, "site-key takes no operands");
  Session s(a);
  ensure_identity(s);
  const auto key = site::ensure_site_key(s.layout());
  const auto id = *site::read_site_id(s.layout());
  if (a.has("json")) {
    json::Value v;
    v["site_id"] = id;
    v["public_key"] = key.public_pem;
    std::cout << json::compact(v) << "\n";
    return 0;
  }
  std::cout << key.public_pem;
  std::cerr << fmt::format("site ID {}; register this key for it with: airlock-bundle report register --sites "
                           "SITES.json --site-id {} --key FILE [--name NAME]\n",
                           id, id);
  return 0;
}

void write_report_after(Session& s, const std::string& dir, Output output) {
  try {
    const std::string path = write_report(s, dir);
    (output == Output::json ? std::cerr : std::cout) << "report: " << path << "\n";
  } catch (const std::exception& e) {
    log::event(log::Level::warning, "report", "not-written",
               "the site report could not be written into " + dir + ": " + e.what());
  }
}

} // namespace airlock::commands
