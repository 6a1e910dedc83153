#include "commands/status.hpp"

#include "commands/session.hpp"
#include "site/stage.hpp"
#include "state/db.hpp"
#include "util/json.hpp"

#include <fmt/format.h>

#include <iostream>
#include <optional>
#include <string>

namespace airlock::commands {
namespace {

json::Value audit_json(const state::AuditEntry& e) {
  json::Value v;
  v["at"] = e.at;
  v["action"] = e.action;
  v["from"] = e.from_version;
  v["to"] = e.to_version;
  v["outcome"] = e.outcome;
  v["uid"] = e.uid;
  v["user"] = e.user_name;
  v["sudo_user"] = e.sudo_user;
  v["backup_id"] = e.backup_id;
  v["bundle_sha256"] = e.bundle_sha256;
  v["downtime_ms"] = e.downtime_ms;
  v["detail"] = e.detail;
  return v;
}

} // namespace

int status(const util::Args& a) {
  Session s(a);
  s.open_read_only();
  const auto version = site::current_version(s.layout().app_dir());
  const std::optional<std::string> release_dir =
      version ? std::optional<std::string>(s.layout().release_dir(*version)) : std::nullopt;
  std::optional<state::AuditEntry> last;
  for (const auto& e : s.db().audit(200))
    if (e.action == "upgrade" || e.action == "import" || e.action == "apply" || e.action == "rollback" ||
        e.action == "recover") {
      last = e;
      break;
    }
  if (a.has("json")) {
    json::Value v;
    v["app"] = s.cfg().app_name;
    v["version"] = version ? json::Value(*version) : json::Value(nullptr);
    v["release_dir"] = release_dir ? json::Value(*release_dir) : json::Value(nullptr);
    v["last_upgrade"] = last ? audit_json(*last) : json::Value(nullptr);
    std::cout << json::compact(v) << "\n";
    return 0;
  }
  std::cout << fmt::format("app:       {}\nversion:   {}\nrelease:   {}\n", s.cfg().app_name,
                           version.value_or("(none)"), release_dir.value_or("(none)"));
  if (last)
    std::cout << fmt::format("last:      {} {} -> {} at {}: {}\n", last->action, last->from_version, last->to_version,
                             last->at, last->outcome);
  else
    std::cout << "last:      no upgrade yet\n";
  return 0;
}

int history(const util::Args& a) {
  const auto limit = a.number("limit", 1, 10000).value_or(100); // usage errors before the configuration
  Session s(a);
  s.open_read_only();
  auto entries = s.db().audit(static_cast<int>(limit));
  if (a.has("json")) {
    json::Array arr;
    for (const auto& e : entries) arr.push_back(audit_json(e));
    std::cout << json::compact(json::Value(arr)) << "\n";
    return 0;
  }
  for (const auto& e : entries)
    std::cout << fmt::format("{}  {:<8} {:>8} -> {:<8} {:<12} {}{}{}\n", e.at, e.action, e.from_version, e.to_version,
                             e.outcome, e.user_name.empty() ? std::to_string(e.uid) : e.user_name,
                             e.sudo_user.empty() ? "" : " (sudo " + e.sudo_user + ")",
                             e.backup_id.empty() ? "" : " backup " + e.backup_id);
  return 0;
}

} // namespace airlock::commands
