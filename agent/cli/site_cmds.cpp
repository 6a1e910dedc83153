#include "site_cmds.hpp"

#include "about/build_info.hpp"
#include "backup/backup.hpp"
#include "backup/records.hpp"
#include "bundle/container.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "log/log.hpp"
#include "pipeline/select.hpp"
#include "pipeline/upgrade.hpp"
#include "release/manifest.hpp"
#include "release/version.hpp"
#include "site/layout.hpp"
#include "site/stage.hpp"
#include "state/db.hpp"
#include "state/lock.hpp"
#include "trust/client.hpp"
#include "trust/target.hpp"
#include "util/args.hpp"
#include "util/error.hpp"
#include "util/io.hpp"
#include "util/json.hpp"
#include "util/users.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace airlock::agent {
namespace fs = std::filesystem;
namespace {

struct Site {
  config::Config cfg;
  std::string app_dir() const { return cfg.app_dir(); }
  std::string backups_dir() const { return cfg.state_dir + "/backups"; }
};

Site open_site_(const util::Args& a) { return Site{open_site(a)}; }

state::AuditEntry who(const std::string& action) { return state::audit_who(action); }

void make_dir(const std::string& path, mode_t mode) {
  fs::create_directories(path);
  ::chmod(path.c_str(), mode);
}

int cmd_init(const util::Args& a) {
  const std::string config_path = a.value("config").value_or(config::default_path);
  config::Config cfg = config::load(config_path, true);
  if (auto app = a.value("app")) cfg.app_name = *app;
  if (auto root = a.value("install-root")) cfg.install_root = *root;
  if (auto dir = a.value("state-dir")) cfg.state_dir = *dir;
  if (cfg.app_name.empty()) fail(ExitCode::usage, "init needs --app NAME (or [app] name in the configuration)");
  const std::string trusted = a.required("trusted-root");
  // The trusted root must at least be a well-formed root signed by its own threshold.
  const std::string root_bytes = util::read_file(trusted, trust::max_root_bytes);
  auto st = trust::TrustedState::from_root(root_bytes, trusted);

  const std::string app_dir = cfg.app_dir();
  make_dir(app_dir + "/releases", 0755);
  make_dir(app_dir + "/data", 0750);
  make_dir(app_dir + "/site", 0750);
  make_dir(cfg.state_dir, 0700);
  for (const char* sub : {"trust", "downloads", "backups"}) make_dir(cfg.state_dir + "/" + sub, 0700);
  state::RunLock lock(cfg.state_dir);
  if (!fs::exists(cfg.state_dir + "/trust/root.json"))
    util::write_file_atomic(cfg.state_dir + "/trust/root.json", root_bytes, 0644);
  state::StateDb db(cfg.state_dir);

  std::string adopted;
  if (auto dir = a.value("adopt")) {
    if (site::current_version(app_dir))
      fail(ExitCode::usage, app_dir + " already has a current release; --adopt is for new sites");
    if (!fs::exists(*dir + "/docker-compose.yml") && !fs::exists(*dir + "/compose.yaml") &&
        !fs::exists(*dir + "/docker-compose.yaml"))
      fail(ExitCode::usage, *dir + " holds no docker-compose.yml / compose.yaml: nothing to adopt");
    const std::string partial = app_dir + "/releases/0.partial";
    fs::remove_all(partial);
    fs::copy(*dir, partial, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    fs::rename(partial, app_dir + "/releases/0");
    util::fsync_dir(app_dir + "/releases");
    site::switch_current(app_dir, "0");
    std::string compose_file = "docker-compose.yml";
    for (const char* f : {"compose.yaml", "docker-compose.yaml", "docker-compose.yml"})
      if (fs::exists(*dir + "/" + f)) compose_file = f;
    pipeline::Context ctx(cfg);
    pipeline::record_adopted_release(ctx, compose_file);
    state::Install inst;
    inst.app = cfg.app_name;
    inst.version = "0";
    inst.kind = state::ReleaseKind::adopted;
    db.install_add(inst);
    adopted = "0";
  }
  if (!fs::exists(config_path)) {
    if (const auto parent = fs::path(config_path).parent_path(); !parent.empty()) fs::create_directories(parent);
    util::write_file_atomic(config_path, fmt::format("; written by airlock init; see docs/airlock.conf.example\n[app]\n"
                                                     "name = {}\ninstall_root = {}\n\n[state]\ndir = {}\n",
                                                     cfg.app_name, cfg.install_root, cfg.state_dir));
  }
  auto audit = who("init");
  audit.to_version = adopted;
  audit.outcome = "ok";
  audit.detail = "trusted root v" + std::to_string(st.root.meta.version) + " from " + trusted;
  db.audit_add(audit);
  std::cout << fmt::format("initialised {} in {} (state in {}, trusted root v{}{})\n", cfg.app_name, app_dir,
                           cfg.state_dir, st.root.meta.version,
                           adopted.empty() ? "" : ", adopted the running compose directory as version 0");
  return 0;
}

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

int cmd_status(const util::Args& a) {
  Site s = open_site_(a);
  state::StateDb db(s.cfg.state_dir);
  auto version = site::current_version(s.app_dir());
  std::optional<state::AuditEntry> last;
  for (const auto& e : db.audit(200))
    if (e.action == "upgrade" || e.action == "import" || e.action == "apply" || e.action == "rollback" ||
        e.action == "recover") {
      last = e;
      break;
    }
  if (a.has("json")) {
    json::Value v;
    v["app"] = s.cfg.app_name;
    v["version"] = version ? json::Value(*version) : json::Value(nullptr);
    v["release_dir"] = version ? json::Value(s.app_dir() + "/releases/" + *version) : json::Value(nullptr);
    v["last_upgrade"] = last ? audit_json(*last) : json::Value(nullptr);
    std::cout << json::compact(v) << "\n";
    return 0;
  }
  std::cout << fmt::format("app:       {}\nversion:   {}\nrelease:   {}\n", s.cfg.app_name, version.value_or("(none)"),
                           version ? s.app_dir() + "/releases/" + *version : "(none)");
  if (last)
    std::cout << fmt::format("last:      {} {} -> {} at {}: {}\n", last->action, last->from_version, last->to_version,
                             last->at, last->outcome);
  else
    std::cout << "last:      no upgrade yet\n";
  return 0;
}

int cmd_history(const util::Args& a) {
  Site s = open_site_(a);
  state::StateDb db(s.cfg.state_dir);
  auto entries = db.audit(a.value("limit") ? std::stoi(*a.value("limit")) : 100);
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

int cmd_backup_create(const util::Args& a) {
  Site s = open_site_(a);
  state::RunLock lock(s.cfg.state_dir);
  state::StateDb db(s.cfg.state_dir);
  recover_first(s.cfg, db);
  const int level = a.value("level") ? std::stoi(*a.value("level")) : static_cast<int>(s.cfg.backup_level);
  if (level < 0 || level > 9) fail(ExitCode::usage, "--level must be 0..9");
  const std::string version = site::current_version(s.app_dir()).value_or("");
  auto audit = who("backup");
  audit.from_version = version;
  try {
    auto t = backup::take(site::Layout::of(s.cfg), db, state::BackupKind::manual, version, a.value("note").value_or(""),
                          level, [&](const std::string& id) { audit.backup_id = id; });
    audit.outcome = "ok";
    db.audit_add(audit);
    std::cout << fmt::format("backup {}: {} ({}, {} entries, sha256 {})\n", t.id, t.result.path,
                             log::human_bytes(t.result.size), t.result.file_count, t.result.sha256);
  } catch (const Error& e) {
    audit.outcome = "failed";
    audit.detail = e.what();
    db.audit_add(audit);
    throw;
  }
  return 0;
}

std::string backup_path(const Site& s, const state::Backup& b) { return s.backups_dir() + "/" + b.id + ".tar.gz"; }

int cmd_backup_list(const util::Args& a) {
  Site s = open_site_(a);
  state::StateDb db(s.cfg.state_dir);
  auto all = db.backups();
  if (a.has("json")) {
    json::Array arr;
    for (const auto& b : all) {
      json::Value v;
      v["id"] = b.id;
      v["path"] = backup_path(s, b);
      v["app_version"] = b.app_version;
      v["kind"] = state::name(b.kind);
      v["status"] = state::name(b.status);
      v["size"] = b.size;
      v["sha256"] = b.sha256;
      v["file_count"] = b.file_count;
      v["note"] = b.note;
      v["created_at"] = b.created_at;
      arr.push_back(v);
    }
    std::cout << json::compact(json::Value(arr)) << "\n";
    return 0;
  }
  for (const auto& b : all)
    std::cout << fmt::format("{}  {:<11} {:<11} v{:<10} {:>10}  {}\n", b.id, state::name(b.kind), state::name(b.status),
                             b.app_version, log::human_bytes(static_cast<std::uint64_t>(b.size)), b.note);
  return 0;
}

state::Backup complete_backup(state::StateDb& db, const std::string& id) {
  auto b = db.backup_get(id);
  if (!b) fail(ExitCode::not_found, "no backup " + id + " ('airlock backup list' shows them)");
  if (b->status != state::BackupStatus::complete)
    fail(ExitCode::usage,
         fmt::format("backup {} is {}, not complete; it is never offered for restore", id, state::name(b->status)));
  return *b;
}

int cmd_backup_verify(const util::Args& a) {
  Site s = open_site_(a);
  if (a.operands().size() != 1) fail(ExitCode::usage, "backup verify takes one backup ID");
  state::StateDb db(s.cfg.state_dir);
  auto b = complete_backup(db, a.operands()[0]);
  backup::verify(backup_path(s, b), b.sha256);
  std::cout << fmt::format("backup {}: ok (sha256 {})\n", b.id, b.sha256);
  return 0;
}

int cmd_backup_restore(const util::Args& a) {
  Site s = open_site_(a);
  if (a.operands().size() != 1) fail(ExitCode::usage, "backup restore takes one backup ID");
  state::RunLock lock(s.cfg.state_dir);
  state::StateDb db(s.cfg.state_dir);
  recover_first(s.cfg, db);
  auto b = complete_backup(db, a.operands()[0]);
  if (!a.has("yes")) {
    if (!::isatty(0))
      fail(ExitCode::usage,
           "restore replaces " + s.app_dir() + "/data and site; add --yes to confirm (no terminal to ask)");
    std::cerr << fmt::format("Replace data/ and site/ of {} with backup {} (v{}, {})? [y/N] ", s.cfg.app_name, b.id,
                             b.app_version, b.created_at);
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "yes") {
      std::cerr << "nothing changed\n";
      return static_cast<int>(ExitCode::usage);
    }
  }
  auto audit = who("restore");
  audit.backup_id = b.id;
  audit.to_version = b.app_version;
  try {
    log::event(log::Level::info, "backup", "restore-start", "restoring backup " + b.id, {{"id", json::Value(b.id)}});
    backup::restore(s.app_dir(), backup_path(s, b), b.sha256);
  } catch (const Error& e) {
    audit.outcome = "failed";
    audit.detail = e.what();
    db.audit_add(audit);
    throw;
  }
  audit.outcome = "ok";
  db.audit_add(audit);
  std::cout << fmt::format("restored backup {} into {}\n", b.id, s.app_dir());
  return 0;
}

int cmd_backup_prune(const util::Args& a) {
  Site s = open_site_(a);
  const long keep = std::stol(a.required("keep"));
  if (keep < 0) fail(ExitCode::usage, "--keep must be 0 or more");
  state::RunLock lock(s.cfg.state_dir);
  state::StateDb db(s.cfg.state_dir);
  recover_first(s.cfg, db);
  const auto p = backup::prune(site::Layout::of(s.cfg), db, keep);
  std::cout << fmt::format("kept {} complete backups, removed {}\n", p.kept, p.removed);
  return 0;
}

int cmd_stage(const util::Args& a) {
  Site s = open_site_(a);
  if (a.operands().size() != 1) fail(ExitCode::usage, "stage takes one PATH (a bundle file or repository directory)");
  state::RunLock lock(s.cfg.state_dir);
  state::StateDb db(s.cfg.state_dir);
  recover_first(s.cfg, db);
  pipeline::Context ctx(s.cfg);
  auto container = bundle::open_container(a.operands()[0]);
  const auto m = pipeline::stage_release(ctx, db, *container, a.value("version"));
  std::cout << fmt::format("staged {} {} ({}) in {}/releases/{}: {} entries verified\n", m.app, m.version,
                           m.is_patch ? "patch from " + m.base_version : std::string("full"), s.app_dir(), m.version,
                           m.files.size());
  return 0;
}

const cli::CommandTable& commands() {
  static const cli::CommandTable c = [] {
    cli::CommandTable t = {
        {"init",
         {"init --app NAME --trusted-root ROOT.json [--install-root DIR] [--state-dir DIR] [--adopt COMPOSE_DIR] "
          "[--config FILE]\n  Creates the site layout and state, trusts ROOT.json, writes the configuration when it is "
          "missing;\n  --adopt makes a compose directory that already runs by hand version 0.",
          {"app", "trusted-root", "install-root", "state-dir", "adopt", "config"},
          {},
          cmd_init}},
        {"stage",
         {"stage PATH [--version V] [--json] [--config FILE]\n  Verifies a bundle (or repository directory) against "
          "the trusted "
          "metadata and stages the newest release\n  of this app and architecture (a patch when it applies to the "
          "current version) in releases/<v>,\n  verified file by file. Nothing runs and current does not move.",
          {"config", "version"},
          {"json"},
          cmd_stage}},
        {"status",
         {"status [--json] [--config FILE]\n  App, installed version, active release, last upgrade and its outcome.",
          {"config"},
          {"json"},
          cmd_status}},
        {"history",
         {"history [--json] [--limit N] [--config FILE]\n  The audit log, newest first.",
          {"config", "limit"},
          {"json"},
          cmd_history}},
        {"backup create",
         {"backup create [--level 0-9] [--note TEXT] [--json] [--config FILE]\n  Backs up data/, site/ and current.",
          {"config", "level", "note"},
          {"json"},
          cmd_backup_create}},
        {"backup list", {"backup list [--json] [--config FILE]", {"config"}, {"json"}, cmd_backup_list}},
        {"backup verify",
         {"backup verify ID [--config FILE]\n  Re-hashes the archive against its recorded SHA-256.",
          {"config"},
          {},
          cmd_backup_verify}},
        {"backup restore",
         {"backup restore ID [--yes] [--json] [--config FILE]\n  Replaces data/, site/ and current from a complete "
          "backup (checked first).",
          {"config"},
          {"yes", "json"},
          cmd_backup_restore}},
        {"backup prune",
         {"backup prune --keep N [--config FILE]\n  Keeps the N newest complete backups.",
          {"config", "keep"},
          {},
          cmd_backup_prune}},
    };
    add_update_commands(t);
    return t;
  }();
  return c;
}

} // namespace

config::Config open_site(const util::Args& a) {
  config::Config cfg = config::load(a.value("config").value_or(config::default_path));
  const std::string log_file = cfg.log_file.empty() ? cfg.state_dir + "/airlock.jsonl" : cfg.log_file;
  log::init({fs::is_directory(fs::path(log_file).parent_path()) ? log_file : "", log::parse_level(cfg.log_level),
             a.has("json"), a.has("cron")});
  if (cfg.app_name.empty())
    fail(ExitCode::usage, "no [app] name in the configuration; run 'airlock init' first or pass --config FILE");
  if (!fs::is_directory(cfg.app_dir()) || !fs::exists(cfg.state_dir + "/state.db"))
    fail(ExitCode::not_found, fmt::format("{} is not initialised (no {} or no state database in {}); run 'airlock "
                                          "init' first",
                                          cfg.app_name, cfg.app_dir(), cfg.state_dir));
  return cfg;
}

int run_site_command(int argc, const char* const* argv) {
  if (auto rc = cli::run_command("airlock", commands(), argc, argv)) return *rc;
  if (argc >= 2 && std::string(argv[1]) == "backup")
    fail(ExitCode::usage, "backup needs one of: create, list, verify, restore, prune");
  return -1;
}

} // namespace airlock::agent
