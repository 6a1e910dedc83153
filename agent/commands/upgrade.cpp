#include "commands/upgrade.hpp"

#include "commands/options.hpp"
#include "commands/outcome.hpp"
#include "commands/session.hpp"
#include "log/log.hpp"
#include "metrics/metrics.hpp"
#include "net/http.hpp"
#include "net/repository.hpp"
#include "pipeline/upgrade.hpp"
#include "release/version.hpp"
#include "schedule/window.hpp"
#include "site/identity.hpp"
#include "state/db.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <limits>
#include <optional>
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

// What the last check or upgrade learned, for airlock_update_available (metrics/metrics.hpp).
void remember_update(state::StateDb& db, bool available, const std::string& version) {
  db.fact_set({metrics::update_fact, available ? 1 : 0, available ? version : "", ""});
}

// Where the site stands against its maintenance windows now, for `check`: one line, or the "window" object.
std::string window_line(const config::Config& cfg, const schedule::Status& w) {
  if (!w.configured) return "maintenance windows: none; upgrade --cron installs at any time";
  const std::string windows = schedule::describe(cfg.windows);
  if (w.inside)
    return fmt::format("maintenance window: inside {} {}; upgrade --cron installs now", w.current->text(),
                       w.closes_at ? "until " + schedule::local_text(*w.closes_at) : std::string("(always open)"));
  return fmt::format("maintenance window: outside ({}); the next opens {} ({}); upgrade --cron downloads now and "
                     "installs then",
                     windows, w.opens_at ? schedule::local_text(*w.opens_at) : "never",
                     w.opening ? w.opening->text() : windows);
}

json::Value window_json(const config::Config& cfg, const schedule::Status& w) {
  auto time_or_null = [](const std::optional<std::int64_t>& t) {
    return t ? json::Value(schedule::utc_text(*t)) : json::Value(nullptr);
  };
  json::Value v;
  v["configured"] = w.configured;
  v["inside"] = w.inside;
  json::Array windows;
  for (const auto& x : cfg.windows) windows.emplace_back(x.text());
  v["windows"] = windows;
  v["current"] = w.current ? json::Value(w.current->text()) : json::Value(nullptr);
  v["closes_at"] = time_or_null(w.closes_at);
  v["opens_at"] = time_or_null(w.opens_at);
  v["opening"] = w.opening ? json::Value(w.opening->text()) : json::Value(nullptr);
  return v;
}

// `upgrade --cron` outside every window downloaded `r` and waits: says so in the log, the audit and (text) on
// stdout, with when the next window opens.
void note_waiting(Session& s, const pipeline::Report& r, const schedule::Status& w, Output output) {
  const std::string opens = w.opens_at ? schedule::local_text(*w.opens_at) : std::string("never");
  const std::string msg =
      fmt::format("outside the maintenance windows ({}): {} is downloaded and waits for the window that opens {}",
                  schedule::describe(s.cfg().windows), r.to, opens);
  log::event(log::Level::info, "cron", "window-wait", msg,
             {{"to", json::Value(r.to)},
              {"opens_at", w.opens_at ? json::Value(schedule::utc_text(*w.opens_at)) : json::Value(nullptr)}});
  auto e = state::audit_who("upgrade");
  e.from_version = r.from;
  e.to_version = r.to;
  e.outcome = "waiting";
  e.detail = msg;
  s.db().audit_add(e);
  if (output == Output::text) std::cout << msg << "\n";
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
  remember_update(s.db(), r.decision != "none", r.to);
  const auto window = schedule::status_at(s.cfg().windows, s.ctx().clock().unix_seconds());
  if (a.has("json")) {
    json::Value v;
    v["decision"] = r.decision;
    v["app"] = app;
    v["from"] = r.from;
    v["to"] = r.to;
    v["download_bytes"] = static_cast<std::int64_t>(r.download_bytes);
    v["total_bytes"] = static_cast<std::int64_t>(r.total_bytes);
    v["delta_layers"] = static_cast<std::int64_t>(r.delta_layers);
    v["saved_bytes"] = static_cast<std::int64_t>(r.saved_bytes);
    v["reason"] = r.reason;
    v["repository"] = repo.describe();
    json::Array skipped;
    for (const auto& k : r.skipped) skipped.emplace_back(k);
    v["skipped"] = skipped;
    json::Array path;
    for (const auto& p : r.path) path.emplace_back(p);
    v["path"] = path;
    v["channel"] = s.cfg().channel;
    v["window"] = window_json(s.cfg(), window);
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
  if (r.delta_layers > 0)
    std::cout << fmt::format("layer deltas: {} layer(s) as binary deltas, {} saved against the full layers\n",
                             r.delta_layers, log::human_bytes(r.saved_bytes));
  if (!r.path.empty())
    std::cout << fmt::format("upgrade path: {} ({} steps, each with its own backup, health gate and commit)\n",
                             pipeline::path_text(r.path), r.path.size() - 1);
  for (const auto& k : r.skipped) std::cout << "skipped: " << k << "\n";
  std::cout << window_line(s.cfg(), window) << "\n";
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
  // --cron outside every maintenance window: download now, install in a window (an operator's run is not held).
  std::optional<schedule::Status> wait;
  if (cron && !o.plan && !o.download_only && !o.stage_only)
    if (auto w = schedule::status_at(s.cfg().windows, s.ctx().clock().unix_seconds()); !w.inside) {
      wait = w;
      o.download_only = true;
    }
  const auto r = pipeline::import(s.ctx(), s.db(), repo, o);
  // Anything but a commit leaves a newer release to install (a download, a stage, a plan, a rollback, a "no").
  remember_update(s.db(),
                  r.outcome != pipeline::Outcome::updated && !r.to.empty() &&
                      (r.from.empty() || release::compare_versions(r.to, r.from) > 0),
                  r.to);
  if (cron && r.outcome == pipeline::Outcome::none) return 0; // nothing happened: nothing printed
  const Output output = a.has("json") && !o.plan ? Output::json : Output::text;
  const int rc = print_outcome(r, output);
  if (wait && r.outcome == pipeline::Outcome::downloaded) note_waiting(s, r, *wait, output);
  return rc;
}

} // namespace airlock::commands
