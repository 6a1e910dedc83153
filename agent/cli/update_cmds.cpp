// import, apply, rollback and recover: the command-line side of pipeline/upgrade.hpp.
#include "cli/site_cmds.hpp"

#include "bundle/container.hpp"
#include "log/log.hpp"
#include "pipeline/upgrade.hpp"
#include "state/lock.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/json.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>
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

int cmd_import(const util::Args& a) {
  const auto cfg = open_site(a);
  const bool scan = a.has("scan");
  if (a.operands().size() != 1)
    fail(ExitCode::usage, scan ? "import --scan takes one DIR" : "import takes one BUNDLE (or --scan DIR)");
  state::RunLock lock(cfg.state_dir);
  state::StateDb db(cfg.state_dir);
  recover_first(cfg, db);
  pipeline::Site site(cfg);
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
  pipeline::Options o;
  o.plan = a.has("plan");
  o.stage_only = a.has("stage-only");
  o.allow_downgrade = a.has("allow-downgrade");
  o.force_full = a.has("force-full");
  o.version = a.value("version");
  if (fs::is_regular_file(path)) o.bundle_sha256 = util::sha256_file_hex(path);
  o.source_label = source->describe();
  o.confirm = [&](const std::string& summary) {
    return confirm(a, "Upgrade " + summary + (o.stage_only ? " (stage only)?" : "?"));
  };
  return report(pipeline::import(site, db, *source, o), a.has("json") && !o.plan);
}

int cmd_apply(const util::Args& a) {
  const auto cfg = open_site(a);
  state::RunLock lock(cfg.state_dir);
  state::StateDb db(cfg.state_dir);
  recover_first(cfg, db);
  if (!confirm(a, "Apply the staged upgrade of " + cfg.app_name + " now (services restart)?")) {
    std::cerr << "nothing changed\n";
    return static_cast<int>(ExitCode::usage);
  }
  return report(pipeline::apply(pipeline::Site(cfg), db), a.has("json"));
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
  return report(pipeline::rollback(pipeline::Site(cfg), db, a.has("restore-data")), a.has("json"));
}

int cmd_recover(const util::Args& a) {
  const auto cfg = open_site(a);
  state::RunLock lock(cfg.state_dir);
  state::StateDb db(cfg.state_dir);
  auto r = pipeline::recover(pipeline::Site(cfg), db);
  if (!r) {
    std::cout << "nothing to recover\n";
    return 0;
  }
  // Recovered (finished or undone): the site is healthy again, which is what `recover` is asked for.
  const int rc = report(*r, a.has("json"));
  return r->outcome == pipeline::Outcome::needs_attention ? rc : 0;
}

} // namespace

void recover_first(const config::Config& cfg, state::StateDb& db) {
  auto r = pipeline::recover(pipeline::Site(cfg), db);
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
  t["apply"] = {"apply [--yes] [--json] [--config FILE]\n  Finishes the upgrade that 'import --stage-only' staged.",
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
