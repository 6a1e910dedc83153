#include "report/report.hpp"

#include "trust/metadata.hpp"
#include "util/error.hpp"
#include "util/io.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

namespace airlock::report {
namespace {

using T = json::Value::Type;

bool is_site_id(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

const json::Value& field(const json::Value& obj, const std::string& key, T type, const std::string& what,
                         const std::string& path) {
  const json::Value* v = obj.find(key);
  if (!v) fail(ExitCode::bad_input, fmt::format("{}: field '{}{}' is missing", what, path, key));
  if (v->type() != type)
    fail(ExitCode::bad_input, fmt::format("{}: field '{}{}' must be {}, not {}", what, path, key, json::type_name(type),
                                          json::type_name(v->type())));
  return *v;
}

std::string text(const json::Value& obj, const std::string& key, const std::string& what, const std::string& path) {
  return field(obj, key, T::string, what, path).as_string();
}

json::Value signed_part(const SiteReport& r) {
  json::Value v;
  v["_type"] = report_type;
  v["format"] = 1;
  v["site_id"] = r.site_id;
  v["generated_at"] = r.generated_at;
  v["agent_version"] = r.agent_version;
  v["arch"] = r.arch;
  v["app"] = r.app;
  v["version"] = r.version;
  json::Array images;
  for (const auto& id : r.image_ids) images.emplace_back(id);
  v["image_ids"] = images;
  v["health"] = r.health;
  v["health_detail"] = r.health_detail;
  json::Array containers;
  for (const auto& c : r.containers) {
    json::Value x;
    x["service"] = c.service;
    x["status"] = c.status;
    x["health"] = c.health;
    x["restarts"] = c.restarts;
    containers.push_back(x);
  }
  v["containers"] = containers;
  json::Array runs;
  for (const auto& u : r.runs) {
    json::Value x;
    x["at"] = u.at;
    x["action"] = u.action;
    x["from"] = u.from;
    x["to"] = u.to;
    x["outcome"] = u.outcome;
    x["downtime_ms"] = u.downtime_ms;
    runs.push_back(x);
  }
  v["runs"] = runs;
  v["disk_free"]["state"] = r.disk_free_state;
  v["disk_free"]["app"] = r.disk_free_app;
  return v;
}

SiteReport from_signed(const json::Value& s, const std::string& what) {
  if (!s.is_object()) fail(ExitCode::bad_input, what + ": 'signed' is not an object");
  const std::string type = text(s, "_type", what, "signed.");
  if (type != report_type)
    fail(ExitCode::bad_input,
         fmt::format("{}: _type is {} where an {} was expected", what, util::quoted(type, 64), report_type));
  if (const auto format = field(s, "format", T::integer, what, "signed.").as_int(); format != 1)
    fail(ExitCode::bad_input, fmt::format("{}: report format {} is not 1, which is all this airlock reads; use a newer "
                                          "airlock-bundle",
                                          what, format));
  SiteReport r;
  r.site_id = text(s, "site_id", what, "signed.");
  if (!is_site_id(r.site_id))
    fail(ExitCode::bad_input, fmt::format("{}: site_id {} is not a site ID", what, util::quoted(r.site_id, 64)));
  r.generated_at = text(s, "generated_at", what, "signed.");
  trust::parse_time(r.generated_at, what + " (signed.generated_at)");
  r.agent_version = text(s, "agent_version", what, "signed.");
  r.arch = text(s, "arch", what, "signed.");
  r.app = text(s, "app", what, "signed.");
  r.version = text(s, "version", what, "signed.");
  for (const auto& id : field(s, "image_ids", T::array, what, "signed.").as_array()) {
    if (!id.is_string()) fail(ExitCode::bad_input, what + ": an entry of 'signed.image_ids' is not a string");
    r.image_ids.push_back(id.as_string());
  }
  r.health = text(s, "health", what, "signed.");
  r.health_detail = text(s, "health_detail", what, "signed.");
  for (const auto& c : field(s, "containers", T::array, what, "signed.").as_array()) {
    if (!c.is_object()) fail(ExitCode::bad_input, what + ": an entry of 'signed.containers' is not an object");
    r.containers.push_back({text(c, "service", what, "signed.containers[]."),
                            text(c, "status", what, "signed.containers[]."),
                            text(c, "health", what, "signed.containers[]."),
                            field(c, "restarts", T::integer, what, "signed.containers[].").as_int()});
  }
  for (const auto& u : field(s, "runs", T::array, what, "signed.").as_array()) {
    if (!u.is_object()) fail(ExitCode::bad_input, what + ": an entry of 'signed.runs' is not an object");
    const std::string p = "signed.runs[].";
    r.runs.push_back({text(u, "at", what, p), text(u, "action", what, p), text(u, "from", what, p),
                      text(u, "to", what, p), text(u, "outcome", what, p),
                      field(u, "downtime_ms", T::integer, what, p).as_int()});
  }
  const auto& disk = field(s, "disk_free", T::object, what, "signed.");
  r.disk_free_state = field(disk, "state", T::integer, what, "signed.disk_free.").as_int();
  r.disk_free_app = field(disk, "app", T::integer, what, "signed.disk_free.").as_int();
  return r;
}

} // namespace

std::string sign(const SiteReport& r, trust::Signer& key) { return trust::sign_envelope(signed_part(r), {&key}); }

std::string file_name(const SiteReport& r) {
  std::string t = r.generated_at;
  t.erase(std::remove_if(t.begin(), t.end(), [](char c) { return c == '-' || c == ':'; }), t.end());
  return fmt::format("airlock-report-{}-{}.json", r.site_id, t);
}

SiteReport parse_signed(const std::string& bytes, const std::string& what) {
  const auto e = trust::parse_envelope(bytes, what, max_report_bytes);
  return from_signed(e.signed_part, what);
}

Registry load_registry(const std::string& path) {
  if (std::error_code ec; !std::filesystem::exists(path, ec))
    fail(ExitCode::not_found, path + " does not exist; register sites with 'airlock-bundle report register --sites " +
                                  path + " --site-id ID --key SITE.pub'");
  const auto doc = json::parse(util::read_file(path, 64u << 20), path);
  if (!doc.is_object()) fail(ExitCode::bad_input, path + ": not a JSON object with 'sites'");
  Registry r;
  for (const auto& [id, entry] : field(doc, "sites", T::object, path, "").as_object()) {
    if (!is_site_id(id))
      fail(ExitCode::bad_input,
           fmt::format("{}: {} is not a site ID (32 lowercase hex digits)", path, util::quoted(id, 64)));
    if (!entry.is_object()) fail(ExitCode::bad_input, fmt::format("{}: sites.{} is not an object", path, id));
    Site s;
    if (entry.find("name")) s.name = text(entry, "name", path, "sites." + id + ".");
    s.key = trust::public_key_from_pem(text(entry, "public_key", path, "sites." + id + "."),
                                       fmt::format("{}: sites.{}.public_key", path, id));
    r[id] = s;
  }
  return r;
}

std::string registry_json(const Registry& r) {
  json::Value doc;
  doc["sites"] = json::Object{};
  for (const auto& [id, s] : r) {
    json::Value e;
    e["name"] = s.name;
    e["public_key"] = s.key.public_pem;
    doc["sites"][id] = e;
  }
  return json::pretty(doc);
}

Verified verify(std::string_view bytes, const std::string& what, const Registry& sites) {
  trust::Envelope e;
  SiteReport r;
  try {
    e = trust::parse_envelope(bytes, what, max_report_bytes);
    r = from_signed(e.signed_part, what);
  } catch (const Error& ex) {
    fail(ExitCode::verify_failed,
         std::string(ex.what()) + "; it is not a site report airlock wrote, or it was damaged");
  }
  auto site = sites.find(r.site_id);
  if (site == sites.end())
    fail(ExitCode::verify_failed,
         fmt::format("{}: site {} is not registered; if it is yours, register its key (airlock site-key prints it "
                     "there) with 'airlock-bundle report register --sites SITES.json --site-id {} --key SITE.pub'",
                     what, r.site_id, r.site_id));
  const std::string message = json::canonical(e.signed_part);
  const std::string keyid = site->second.key.keyid();
  bool names_key = false;
  for (const auto& sig : e.signatures) {
    if (trust::verify_signature(site->second.key, message, sig.sig)) return {r, site->second.name};
    names_key = names_key || sig.keyid == keyid;
  }
  const std::string name = site->second.name.empty() ? "" : " (" + site->second.name + ")";
  if (names_key)
    fail(ExitCode::verify_failed,
         fmt::format("{}: the signature by the key of site {}{} does not match the content: the report was changed "
                     "after it was signed; do not trust it, ask the site for a new one",
                     what, r.site_id, name));
  fail(
      ExitCode::verify_failed,
      fmt::format("{}: not signed by the key registered for site {}{} (key {}...) but by another key: a forged report, "
                  "or the site's key was replaced (then register the new key with --replace)",
                  what, r.site_id, name, keyid.substr(0, 12)));
}

std::string age_text(std::int64_t seconds) {
  if (seconds < 0) return "ahead";
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m", seconds / 60);
  if (seconds < 86400) return fmt::format("{}h", seconds / 3600);
  return fmt::format("{}d", seconds / 86400);
}

std::string fleet_table(const std::vector<Verified>& reports, std::int64_t now) {
  std::map<std::string, const Verified*> newest; // by site ID
  for (const auto& v : reports) {
    auto& slot = newest[v.report.site_id];
    if (!slot || slot->report.generated_at < v.report.generated_at) slot = &v;
  }
  std::vector<std::vector<std::string>> rows{{"SITE", "NAME", "APP", "VERSION", "HEALTH", "LAST OUTCOME", "AGE"}};
  for (const auto& [id, v] : newest) {
    const auto& r = v->report;
    std::string last = "-";
    if (!r.runs.empty()) {
      const auto& u = r.runs.front();
      last = fmt::format("{} ({} {} -> {})", u.outcome, u.action, u.from.empty() ? "(nothing)" : u.from, u.to);
    }
    rows.push_back({id, v->name.empty() ? "-" : v->name, r.app, r.version.empty() ? "(none)" : r.version, r.health,
                    last, age_text(now - trust::parse_time(r.generated_at, "generated_at"))});
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      row[i] = util::printable(row[i], 80);
      width[i] = std::max(width[i], row[i].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i)
      line += i + 1 == row.size() ? row[i] : fmt::format("{:<{}}  ", row[i], width[i]);
    out += line + "\n";
  }
  return out;
}

} // namespace airlock::report
