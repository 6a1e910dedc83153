// import, apply, rollback and recover: the command-line side of pipeline/upgrade.hpp.
#include "cli/site_cmds.hpp"

#include "bundle/container.hpp"
#include "log/log.hpp"
#include "net/repository.hpp"
#include "pipeline/upgrade.hpp"
#include "state/lock.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/json.hpp"

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>
#include <unistd.h>

namespace airlock::agent {
namespace fs = std::filesystem;
namespace {

int exit_code(pipeline::Outcome o) {
  using pipeline::Outcome;
  if (o == Outcome::rolled_back) return static_cast<int>(ExitCode::rolled_back);
  if (o == Outcome::needs_attention) return static_cast<int>(ExitCode::needs_attention);
  return 0;
}

// Prints the outcome (one JSON object on stdout with --json) and returns the documented exit code.
int report(const pipeline::Report& r, bool as_json = false) {
  using pipeline::Outcome;
  if (as_json) {
    json::Value v;
    v["outcome"] = pipeline::outcome_name(r.outcome);
    v["upgrade_id"] = r.upgrade_id;
    v["from"] = r.from;
    v["to"] = r.to;
    v["kind"] = r.kind;
    v["backup_id"] = r.backup_id;
    v["downtime_ms"] = r.downtime_ms;
    v["reason"] = r.reason;
    std::cout << json::compact(v) << "\n";
    return exit_code(r.outcome);
  }
  const std::string downtime =
      r.downtime_ms > 0 ? fmt::format(", downtime {:.1f} s", static_cast<double>(r.downtime_ms) / 1000.0) : "";
  switch (r.outcome) {
  case Outcome::none:
    std::cout << "nothing to do: " << r.reason << "\n";
    return 0;
  case Outcome::planned:
    return 0;
  case Outcome::staged:
    std::cout << fmt::format("staged {} (upgrade {}): the site still runs {}; run 'airlock apply' to finish\n", r.to,
                             r.upgrade_id, r.from.empty() ? "nothing" : r.from);
    return 0;
  case Outcome::updated:
    std::cout << fmt::format("updated {} -> {} ({}{}{}{})\n", r.from.empty() ? "(nothing)" : r.from, r.to, r.kind,
                             downtime, r.backup_id.empty() ? "" : ", backup " + r.backup_id,
                             r.reason.empty() ? "" : ", " + r.reason);
    return 0;
  case Outcome::abandoned:
    std::cout << "recovered upgrade " << r.upgrade_id << ": " << r.reason << "\n";
    return 0;
  case Outcome::downloaded:
    std::cout << fmt::format("downloaded {} -> {} ({}): {}; 'airlock apply' installs it without the network\n",
                             r.from.empty() ? "(nothing)" : r.from, r.to, r.kind, r.reason);
    return 0;
  case Outcome::rolled_back:
    std::cerr << fmt::format("ROLLED BACK to {}: {}\n", r.from.empty() ? "nothing installed" : r.from, r.reason);
    std::cout << fmt::format("rolled back {} -> {}; the site runs {} again{}{}\n", r.to, r.from,
                             r.from.empty() ? "nothing" : r.from, downtime,
                             r.backup_id.empty() ? "" : ", data/ as in backup " + r.backup_id);
    break;
  case Outcome::needs_attention:
    std::cerr << "SITE NEEDS ATTENTION: " << r.reason << "\n";
    break;
  }
  return exit_code(r.outcome);
}

bool confirm(const util::Args& a, const std::string& question) {
  if (a.has("yes") || !::isatty(0)) return true; // without a terminal, never prompt
  std::cerr << question << " [y/N] ";
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "yes";
}

pipeline::Options update_options(const util::Args& a) {
  pipeline::Options o;
  o.plan = a.has("plan");
  o.stage_only = a.has("stage-only");
  o.allow_downgrade = a.has("allow-downgrade");
  o.force_full = a.has("force-full");
  o.download_only = a.has("download-only");
  o.version = a.value("version");
  // --cron never prompts (and neither does a run without a terminal, see confirm()).
  if (!a.has("cron"))
    o.confirm = [&a, stage_only = o.stage_only](const std::string& summary) {
      return confirm(a, "Upgrade " + summary + (stage_only ? " (stage only)?" : "?"));
    };
  return o;
}

int cmd_import(const util::Args& a) {
  const auto cfg = open_site(a);
  const bool scan = a.has("scan");
  if (a.operands().size() != 1)
    fail(ExitCode::usage, scan ? "import --scan takes one DIR" : "import takes one BUNDLE (or --scan DIR)");
  state::RunLock lock(cfg.state_dir);
  state::StateDb db(cfg.state_dir);
  recover_first(cfg, db);
  pipeline::Context site(cfg, seams_from_env());
  std::string path = a.operands()[0];
  if (scan) {
    std::vector<std::string> skipped;
    auto best = pipeline::scan(site, path, skipped);
    for (const auto& k : skipped) std::cerr << "skipped " << k << "\n";
    if (!best) {
      std::cout << fmt::format("no bundle in {} updates {}\n", path, cfg.app_name);
      return 0;
    }
    std::cerr << "chose " << *best << "\n";
    path = *best;
  }
  auto source = bundle::open_container(path);
  auto o = update_options(a);
  o.download_only = false;
  if (fs::is_regular_file(path)) o.bundle_sha256 = util::sha256_file_hex(path);
  o.source_label = source->describe();
  return report(pipeline::import(site, db, *source, o), a.has("json") && !o.plan);
}

int cmd_check(const util::Args& a) {
  const auto cfg = open_site(a);
  // No run lock: check changes nothing (pipeline::check), so monitoring can ask while an upgrade runs.
  state::StateDb db(cfg.state_dir);
  net::HttpRepository repo(net::settings_from_config(cfg), &db);
  pipeline::Context ctx(cfg);
  const auto r = pipeline::check(ctx, db, repo, update_options(a));
  const int rc = r.decision == "none" ? 0 : static_cast<int>(ExitCode::update_available);
  if (a.has("json")) {
    json::Value v;
    v["decision"] = r.decision;
    v["app"] = cfg.app_name;
    v["from"] = r.from;
    v["to"] = r.to;
    v["download_bytes"] = static_cast<std::int64_t>(r.download_bytes);
    v["total_bytes"] = static_cast<std::int64_t>(r.total_bytes);
    v["reason"] = r.reason;
    v["repository"] = repo.describe();
    std::cout << json::compact(v) << "\n";
    return rc;
  }
  if (r.decision == "none") {
    std::cout << fmt::format("up to date: {} {} ({})\n", cfg.app_name, r.from.empty() ? "(nothing installed)" : r.from,
                             r.reason);
    return rc;
  }
  std::cout << fmt::format(
      "update available: {} {} -> {} ({}), {} to download{}\n", cfg.app_name,
      r.from.empty() ? "(nothing installed)" : r.from, r.to, r.decision, log::human_bytes(r.download_bytes),
      r.download_bytes == r.total_bytes
          ? std::string()
          : fmt::format(" ({} of {} downloaded already)", log::human_bytes(r.total_bytes - r.download_bytes),
                        log::human_bytes(r.total_bytes)));
  return rc;
}

// --cron: a random pause first (many sites must not hit the repository at the same minute), then quiet unless
// something happens; a busy lock (an operator's run, or the previous cron run) is not an error.
void cron_delay(const util::Args& a) {
  const auto max = a.value("max-delay");
  long seconds = 600;
  if (max) {
    try {
      seconds = std::stol(*max);
    } catch (const std::exception&) {
      seconds = -1;
    }
    if (seconds < 0) fail(ExitCode::usage, "--max-delay takes a number of seconds (0 or more)");
  }
  if (seconds == 0) return;
  std::mt19937 rng{std::random_device{}()};
  const long pause = std::uniform_int_distribution<long>(0, seconds)(rng);
  log::event(log::Level::info, "cron", "delay", fmt::format("waiting {} s before contacting the repository", pause),
             {{"seconds", json::Value(static_cast<std::int64_t>(pause))}});
  std::this_thread::sleep_for(std::chrono::seconds(pause));
}

int cmd_upgrade(const util::Args& a) {
  const auto cfg = open_site(a);
  const bool cron = a.has("cron");
  if (cron) cron_delay(a);
  std::optional<state::RunLock> lock;
  try {
    lock.emplace(cfg.state_dir);
  } catch (const Error& e) {
    if (!cron || e.code() != ExitCode::busy) throw;
    log::event(log::Level::info, "cron", "busy", std::string("skipped: ") + e.what());
    return 0;
  }
  state::StateDb db(cfg.state_dir);
  recover_first(cfg, db);
  pipeline::Context site(cfg, seams_from_env());
  net::HttpRepository repo(net::settings_from_config(cfg), &db);
  auto o = update_options(a);
  o.action = "upgrade";
  o.source_label = repo.describe();
  const auto r = pipeline::import(site, db, repo, o);
  if (cron && r.outcome == pipeline::Outcome::none) return 0; // nothing happened: nothing printed
  return report(r, a.has("json") && !o.plan);
}

int cmd_apply(const util::Args& a) {
  const auto cfg = open_site(a);
  state::RunLock lock(cfg.state_dir);
  state::StateDb db(cfg.state_dir);
  recover_first(cfg, db);
  if (!confirm(a, "Apply the staged or downloaded upgrade of " + cfg.app_name + " now (services restart)?")) {
    std::cerr << "nothing changed\n";
    return static_cast<int>(ExitCode::usage);
  }
  pipeline::Context ctx(cfg, seams_from_env());
  return report(pipeline::apply(ctx, db), a.has("json"));
}

int cmd_rollback(const util::Args& a) {
  const auto cfg = open_site(a);
  state::RunLock lock(cfg.state_dir);
  state::StateDb db(cfg.state_dir);
  recover_first(cfg, db);
  if (!confirm(a, fmt::format("Roll {} back to the previous release{}?", cfg.app_name,
                              a.has("restore-data") ? " and restore data/ from its pre-upgrade backup" : ""))) {
    std::cerr << "nothing changed\n";
    return static_cast<int>(ExitCode::usage);
  }
  pipeline::Context ctx(cfg, seams_from_env());
  return report(pipeline::rollback(ctx, db, a.has("restore-data")), a.has("json"));
}

int cmd_recover(const util::Args& a) {
  const auto cfg = open_site(a);
  state::RunLock lock(cfg.state_dir);
  state::StateDb db(cfg.state_dir);
  pipeline::Context ctx(cfg, seams_from_env());
  auto r = pipeline::recover(ctx, db);
  if (!r) {
    std::cout << "nothing to recover\n";
    return 0;
  }
  // Recovered (finished or undone): the site is healthy again, which is what `recover` is asked for.
  const int rc = report(*r, a.has("json"));
  return r->outcome == pipeline::Outcome::needs_attention ? rc : 0;
}

} // namespace

pipeline::Seams seams_from_env() {
  pipeline::Seams s;
  static const char* at = std::getenv("AIRLOCK_TEST_KILL_AT");
  if (at && *at)
    s.hook = [](const pipeline::StepInfo& step, pipeline::When w) {
      const std::string point = std::string(step.name) + (w == pipeline::When::begin ? ":begin" : "");
      if (point != at) return;
      log::event(log::Level::warning, "upgrade", "fault", "AIRLOCK_TEST_KILL_AT=" + point + ": killing myself");
      ::raise(SIGKILL);
    };
  return s;
}

void recover_first(const config::Config& cfg, state::StateDb& db) {
  pipeline::Context ctx(cfg, seams_from_env());
  auto r = pipeline::recover(ctx, db);
  if (!r) return;
  report(*r);
  if (r->outcome == pipeline::Outcome::needs_attention)
    fail(ExitCode::needs_attention, "an interrupted upgrade could not be undone; nothing else was done");
}

void add_update_commands(cli::CommandTable& t) {
  t["import"] = {"import BUNDLE | --scan DIR [--plan] [--stage-only] [--allow-downgrade] [--force-full] [--version V] "
                 "[--yes] [--json] [--config FILE]\n"
                 "  Verifies a signed bundle and upgrades the site to the newest release it holds for this app and\n"
                 "  architecture: stage, load images, stop, back up, switch, start, health gate, commit or roll back.\n"
                 "  --plan prints what would change; --stage-only stops after the image load ('airlock apply'\n"
                 "  finishes); --scan picks the newest fitting bundle in DIR (a USB mount point).",
                 {"config", "version"},
                 {"scan", "plan", "stage-only", "allow-downgrade", "force-full", "yes", "json"},
                 cmd_import};
  t["check"] = {"check [--json] [--force-full] [--version V] [--config FILE]\n"
                "  Refreshes the signed metadata from the repository ([repository] urls) and prints what 'upgrade'\n"
                "  would do: none, patch or full, the version, and the bytes to download. Exit 0: up to date;\n"
                "  10: an update is available; any other code: an error (docs/cli.md).",
                {"config", "version"},
                {"json", "force-full"},
                cmd_check};
  t["upgrade"] = {"upgrade [--yes] [--force-full] [--download-only] [--allow-downgrade] [--stage-only] [--plan]\n"
                  "        [--version V] [--cron [--max-delay S]] [--json] [--config FILE]\n"
                  "  Online upgrade: check the repository, download the release (resumable, verified), then the\n"
                  "  same pipeline as 'import'. --download-only stops after the download ('apply' or a later\n"
                  "  'upgrade' uses the files without downloading again). --cron: wait a random 0..S seconds\n"
                  "  (default 600), print nothing unless something happens, exit 0 when another run holds the lock.",
                  {"config", "version", "max-delay"},
                  {"yes", "force-full", "download-only", "allow-downgrade", "stage-only", "plan", "cron", "json"},
                  cmd_upgrade};
  t["apply"] = {"apply [--yes] [--json] [--config FILE]\n  Finishes the upgrade that 'import --stage-only' staged, or\n"
                "  installs what 'upgrade --download-only' downloaded (no network needed).",
                {"config"},
                {"yes", "json"},
                cmd_apply};
  t["rollback"] = {"rollback [--restore-data] [--yes] [--json] [--config FILE]\n"
                   "  Goes back to the release installed before the current one (health-gated); --restore-data also\n"
                   "  puts back data/ and site/ from the backup taken before the current one was installed.",
                   {"config"},
                   {"restore-data", "yes", "json"},
                   cmd_rollback};
  t["recover"] = {"recover [--json] [--config FILE]\n"
                  "  Finishes or undoes an upgrade that was interrupted (crash, kill, power loss). Every command\n"
                  "  that changes the site does this first anyway.",
                  {"config"},
                  {"json"},
                  cmd_recover};
}

} // namespace airlock::agent
