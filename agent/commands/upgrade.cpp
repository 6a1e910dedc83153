#include "commands/upgrade.hpp"

#include "commands/options.hpp"
#include "commands/outcome.hpp"
#include "commands/session.hpp"
#include "log/log.hpp"
#include "net/http.hpp"
#include "net/repository.hpp"
#include "pipeline/upgrade.hpp"
#include "site/identity.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <thread>

namespace airlock::commands {
namespace {

// --cron: a random pause first (many sites must not hit the repository at the same minute).
void cron_delay(long max_seconds) {
  if (max_seconds == 0) return;
  std::mt19937 rng{std::random_device{}()};
  const long pause = std::uniform_int_distribution<long>(0, max_seconds)(rng);
  log::event(log::Level::info, "cron", "delay", fmt::format("waiting {} s before contacting the repository", pause),
             {{"seconds", json::Value(static_cast<std::int64_t>(pause))}});
  std::this_thread::sleep_for(std::chrono::seconds(pause));
}

} // namespace

int check(const util::Args& a) {
  Session s(a);
  // No run lock: check changes nothing (pipeline::check), so monitoring can ask while an upgrade runs.
  s.open_read_only();
  net::HttpRepository repo(net::settings_from_config(s.cfg()), &s.db());
  auto o = update_options(a);
  // Online: staged rollouts apply. A site initialised by an older airlock has no ID until its first upgrade makes
  // one; until then it is placed as the ID "" (the same bucket for every such site).
  o.site_id = site::read_site_id(s.layout()).value_or("");
  const auto r = pipeline::check(s.ctx(), s.db(), repo, o);
  const std::string& app = s.cfg().app_name;
  const int rc = r.decision == "none" ? 0 : static_cast<int>(ExitCode::update_available);
  if (a.has("json")) {
    json::Value v;
    v["decision"] = r.decision;
    v["app"] = app;
    v["from"] = r.from;
    v["to"] = r.to;
    v["download_bytes"] = static_cast<std::int64_t>(r.download_bytes);
    v["total_bytes"] = static_cast<std::int64_t>(r.total_bytes);
    v["reason"] = r.reason;
    v["repository"] = repo.describe();
    json::Array skipped;
    for (const auto& k : r.skipped) skipped.emplace_back(k);
    v["skipped"] = skipped;
    json::Array path;
    for (const auto& p : r.path) path.emplace_back(p);
    v["path"] = path;
    v["channel"] = s.cfg().channel;
    std::cout << json::compact(v) << "\n";
    return rc;
  }
  if (r.decision == "none")
    std::cout << fmt::format("up to date: {} {} ({})\n", app, r.from.empty() ? "(nothing installed)" : r.from,
                             r.reason);
  else
    std::cout << fmt::format(
        "update available: {} {} -> {} ({}), {} to download{}\n", app, r.from.empty() ? "(nothing installed)" : r.from,
        r.to, r.decision, log::human_bytes(r.download_bytes),
        r.download_bytes == r.total_bytes
            ? std::string()
            : fmt::format(" ({} of {} downloaded already)", log::human_bytes(r.total_bytes - r.download_bytes),
                          log::human_bytes(r.total_bytes)));
  if (!r.path.empty())
    std::cout << fmt::format("upgrade path: {} ({} steps, each with its own backup, health gate and commit)\n",
                             pipeline::path_text(r.path), r.path.size() - 1);
  for (const auto& k : r.skipped) std::cout << "skipped: " << k << "\n";
  return rc;
}

int upgrade(const util::Args& a) {
  const bool cron = a.has("cron");
  const long max_delay =
      a.number("max-delay", 0, std::numeric_limits<long>::max(), "a number of seconds (0 or more)").value_or(600);
  Session s(a);
  if (cron) cron_delay(max_delay);
  // --cron: quiet unless something happens; a busy lock (an operator's run, or the previous cron run) is not an
  // error.
  try {
    s.lock();
  } catch (const Error& e) {
    if (!cron || e.code() != ExitCode::busy) throw;
    log::event(log::Level::info, "cron", "busy", std::string("skipped: ") + e.what());
    return 0;
  }
  s.open_for_change();
  net::HttpRepository repo(net::settings_from_config(s.cfg()), &s.db());
  auto o = update_options(a);
  o.action = "upgrade";
  o.site_id = site::ensure_site_id(s.layout()); // online: staged rollouts apply
  o.source_label = repo.describe();
  const auto r = pipeline::import(s.ctx(), s.db(), repo, o);
  if (cron && r.outcome == pipeline::Outcome::none) return 0; // nothing happened: nothing printed
  return print_outcome(r, a.has("json") && !o.plan ? Output::json : Output::text);
}

} // namespace airlock::commands
