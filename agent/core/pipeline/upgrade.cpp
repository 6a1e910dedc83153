#include "pipeline/upgrade.hpp"

#include "backup/backup.hpp"
#include "backup/space.hpp"
#include "bundle/verify.hpp"
#include "about/build_info.hpp"
#include "docker/docker.hpp"
#include "health/health.hpp"
#include "log/log.hpp"
#include "pipeline/select.hpp"
#include "release/version.hpp"
#include "site/stage.hpp"
#include "util/error.hpp"
#include "util/io.hpp"
#include "util/json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace airlock::pipeline {
namespace fs = std::filesystem;
namespace {

using clock = std::chrono::steady_clock;

std::int64_t ms_since(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t).count();
}

// The test-only fault hook (see upgrade.hpp).
void fault_point(const std::string& name) {
  static const char* at = std::getenv("AIRLOCK_TEST_KILL_AT");
  if (at && name == at) {
    log::event(log::Level::warning, "upgrade", "fault", "AIRLOCK_TEST_KILL_AT=" + name + ": killing myself");
    ::raise(SIGKILL);
  }
}

std::string manifest_path(const Site& s, const std::string& version) {
  return s.manifests_dir() + "/" + version + ".json";
}

std::optional<release::Manifest> stored_manifest(const Site& s, const std::string& version) {
  const std::string p = manifest_path(s, version);
  if (!fs::exists(p)) return std::nullopt;
  return release::parse_manifest(util::read_file(p, 8u << 20), p);
}

release::Manifest require_manifest(const Site& s, const std::string& version) {
  auto m = stored_manifest(s, version);
  if (!m)
    fail(ExitCode::not_found, fmt::format("no release description of {} at {} (was it staged by airlock?)", version,
                                          manifest_path(s, version)));
  return *m;
}

std::uint64_t tree_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) n += it->file_size(ec);
  }
  return n;
}

// The per-step record of docker calls, kept in the journal row of the step.
struct CallLog {
  std::string text;
  void add(const std::vector<std::string>& argv, const util::ProcessResult& r) {
    std::string out = r.output.size() > 4000 ? "..." + r.output.substr(r.output.size() - 4000) : r.output;
    text += fmt::format("$ {}\n{}{}[exit {}{}]\n", util::describe_argv(argv), out,
                        out.empty() || out.back() == '\n' ? "" : "\n", r.exit_code, r.timed_out ? ", timed out" : "");
    if (text.size() > 64000) text = "...(earlier output cut)\n" + text.substr(text.size() - 60000);
  }
};

struct Plan {
  std::string from, to, kind; // kind: full | patch | rollback
  std::string bundle_sha256, source, restore_backup, action = "import";
  json::Value to_json() const {
    json::Value v;
    v["from"] = from;
    v["to"] = to;
    v["kind"] = kind;
    v["bundle_sha256"] = bundle_sha256;
    v["source"] = source;
    v["restore_backup"] = restore_backup;
    v["action"] = action;
    return v;
  }
  static Plan from_json(const std::string& text) {
    auto v = json::parse(text, "journal plan");
    auto str = [&](const char* k) { return v.find(k) && v.find(k)->is_string() ? v.find(k)->as_string() : ""; };
    Plan p;
    p.from = str("from");
    p.to = str("to");
    p.kind = str("kind");
    p.bundle_sha256 = str("bundle_sha256");
    p.source = str("source");
    p.restore_backup = str("restore_backup");
    p.action = str("action");
    return p;
  }
};

class Run {
public:
  Run(const Site& site, state::StateDb& db, std::string id, Plan plan)
      : site_(site), db_(db), id_(std::move(id)), plan_(std::move(plan)),
        docker_(
            docker::Settings{site.cfg().docker_host, site.cfg().compose, static_cast<int>(site.cfg().docker_timeout_s)},
            [this](const std::vector<std::string>& argv, const util::ProcessResult& r) { calls_.add(argv, r); }) {}

  const std::string& id() const { return id_; }
  const Plan& plan() const { return plan_; }
  docker::Docker& docker() { return docker_; }

  void begin() {
    db_.journal_end(db_.journal_begin(id_, "begin", json::canonical(plan_.to_json())), "done",
                    json::canonical(plan_.to_json()));
  }

  // Runs one journaled step: row opened, fault hook, work, fault hook, row closed with the work's detail and
  // the docker calls it made. An Error closes the row as failed and propagates.
  template <class F> void step(const std::string& name, const std::string& what, F&& work) {
    log::event(log::Level::info, "upgrade", name, fmt::format("{}: {}", name, what),
               {{"upgrade", json::Value(id_)}, {"step", json::Value(name)}});
    calls_.text.clear();
    const auto row = db_.journal_begin(id_, name, what);
    fault_point(name + ":begin");
    const auto t0 = clock::now();
    std::string detail;
    try {
      detail = work();
    } catch (const std::exception& e) {
      db_.journal_end(row, "failed", std::string(e.what()) + (calls_.text.empty() ? "" : "\n" + calls_.text));
      throw;
    }
    fault_point(name);
    db_.journal_end(row, "done", detail + (calls_.text.empty() ? "" : "\n" + calls_.text));
    const auto ms = ms_since(t0);
    log::event(log::Level::info, "upgrade", "step-done",
               fmt::format("  {} done in {:.1f} s", name, static_cast<double>(ms) / 1000.0),
               {{"upgrade", json::Value(id_)}, {"step", json::Value(name)}, {"ms", json::Value(ms)}});
  }
  void mark(const std::string& name, const std::string& status, const std::string& detail) {
    db_.journal_end(db_.journal_begin(id_, name, detail), status, detail);
  }

  docker::Project project(const std::string& version) {
    auto m = require_manifest(site_, version);
    return {project_name(), site_.app_dir(), version, m.compose_file};
  }
  std::string project_name() const {
    return docker::project_name(site_.cfg().docker_project.empty() ? site_.cfg().app_name : site_.cfg().docker_project);
  }

  health::Gate gate_for(const std::string& version) {
    health::Gate defaults;
    defaults.timeout_s = static_cast<int>(site_.cfg().health_timeout_s);
    defaults.stable_s = static_cast<int>(site_.cfg().health_stable_s);
    defaults.interval_s = static_cast<int>(site_.cfg().health_interval_s);
    return health::parse_gate(require_manifest(site_, version).health, defaults, manifest_path(site_, version));
  }

  // `up -d` of `version`, then the restart counts the health gate compares against.
  void start(const std::string& version) {
    auto p = project(version);
    services_ = docker_.services(p);
    docker_.compose(p, {"up", "-d", "--remove-orphans"});
    baseline_.clear();
    for (const auto& c : docker_.containers(p.name)) baseline_[c.id] = c.restart_count;
  }

  health::Outcome health_gate(const std::string& version) {
    auto g = gate_for(version);
    if (services_.empty()) services_ = docker_.services(project(version));
    const std::string name = project_name();
    auto containers = [&]() -> health::Result {
      std::vector<docker::Container> cs;
      try {
        cs = docker_.containers(name);
      } catch (const Error& e) {
        return {false, false, e.what()};
      }
      for (const auto& svc : services_) {
        const docker::Container* c = nullptr;
        for (const auto& k : cs)
          if (k.service == svc && (!c || k.status == "running")) c = &k;
        if (!c) return {false, false, "service " + svc + " has no container"};
        auto [it, fresh] = baseline_.emplace(c->id, c->restart_count);
        if (c->restart_count > it->second)
          return {false, true,
                  fmt::format("service {} restarted {} time(s) since it started (crash loop?)", svc,
                              c->restart_count - it->second)};
        if (c->status == "exited" || c->status == "dead")
          return {false, true,
                  fmt::format("service {} {} with code {}{}", svc, c->status, c->exit_code,
                              c->oom_killed ? " (out of memory)" : "")};
        if (c->status != "running") return {false, false, "service " + svc + " is " + c->status};
        if (!c->health.empty() && c->health != "healthy")
          return {false, false, "service " + svc + " HEALTHCHECK is " + c->health};
      }
      return {true, false, fmt::format("{} service(s) running", services_.size())};
    };
    return health::run_gate(g, containers, [&](const health::Check& c, const health::Result& r) {
      log::event(r.ok ? log::Level::info : log::Level::warning, "health", r.ok ? "pass" : "fail",
                 fmt::format("  health {}: {}", c.name(), r.detail),
                 {{"check", json::Value(c.name())}, {"ok", json::Value(r.ok)}});
    });
  }

  void services_clear() { services_.clear(); }

private:
  const Site& site_;
  state::StateDb& db_;
  std::string id_;
  Plan plan_;
  CallLog calls_;
  docker::Docker docker_;
  std::vector<std::string> services_;
  std::map<std::string, std::int64_t> baseline_;
};

std::string first_word(const std::string& s) { return s.substr(0, s.find_first_of(" :\n")); }

void audit(state::StateDb& db, const Plan& p, const std::string& action, const std::string& outcome,
           const std::string& backup_id, std::int64_t downtime_ms, const std::string& detail) {
  auto a = state::audit_who(action);
  a.from_version = p.from;
  a.to_version = p.to;
  a.outcome = outcome;
  a.bundle_sha256 = p.bundle_sha256;
  a.backup_id = backup_id;
  a.downtime_ms = downtime_ms;
  a.detail = detail;
  db.audit_add(a);
}

// The pre-upgrade backup of an upgrade, from its journal (the "backup" row's detail starts with the ID).
std::string backup_of(state::StateDb& db, const std::string& upgrade_id) {
  std::string id;
  for (const auto& r : db.journal_for(upgrade_id))
    if (r.step == "backup") id = first_word(r.detail);
  return id;
}

// After a commit: old releases (and their images, when no kept release uses them), old pre-upgrade backups.
// Failures are warnings: the upgrade is already committed.
void prune(const Site& s, state::StateDb& db, docker::Docker& d, const std::string& current,
           const std::string& previous) {
  try {
    std::vector<std::string> order; // installed versions, newest first, each once
    for (const auto& i : db.installs(s.cfg().app_name))
      if (std::find(order.begin(), order.end(), i.version) == order.end()) order.push_back(i.version);
    std::set<std::string> keep = {current, previous};
    for (const auto& v : order)
      if (keep.size() < static_cast<std::size_t>(s.cfg().keep_releases)) keep.insert(v);
    std::set<std::string> kept_images, dropped_images;
    std::vector<std::string> dropped;
    for (const auto& e : fs::directory_iterator(s.releases_dir())) {
      const std::string v = e.path().filename().string();
      if (!e.is_directory() || v.find(".partial") != std::string::npos) continue;
      auto m = stored_manifest(s, v);
      if (keep.count(v) || std::find(order.begin(), order.end(), v) == order.end()) { // never installed: staged
        if (m)
          for (const auto& i : m->images) kept_images.insert(i.id);
        continue;
      }
      if (m)
        for (const auto& i : m->images) dropped_images.insert(i.id);
      dropped.push_back(v);
    }
    for (const auto& v : dropped) {
      fs::remove_all(s.releases_dir() + "/" + v);
      fs::remove(manifest_path(s, v));
      log::event(log::Level::info, "prune", "release", "pruned release " + v);
    }
    for (const auto& id : dropped_images)
      if (!kept_images.count(id) && d.image_present(id)) {
        if (d.remove_image(id))
          log::event(log::Level::info, "prune", "image", "pruned image " + id);
        else
          log::event(log::Level::warning, "prune", "image", "could not remove image " + id + " (in use?)");
      }
    std::int64_t kept = 0;
    for (const auto& b : db.backups()) {
      if (b.kind != "pre-upgrade" || b.status == "in-progress") continue;
      if (b.status == "complete" && kept < s.cfg().backup_keep) {
        ++kept;
        continue;
      }
      std::error_code ec;
      fs::remove(s.backups_dir() + "/" + b.id + ".tar.gz", ec);
      db.backup_delete(b.id);
      log::event(log::Level::info, "prune", "backup", "pruned backup " + b.id);
    }
  } catch (const std::exception& e) {
    log::event(log::Level::warning, "prune", "failed", std::string("pruning after the commit failed: ") + e.what());
  }
}

std::string site_state_text(const Site& s, Run& run) {
  std::string text = fmt::format("  current -> {}\n", fs::exists(s.app_dir() + "/current")
                                                          ? fs::read_symlink(s.app_dir() + "/current").string()
                                                          : std::string("(missing)"));
  try {
    auto cs = run.docker().containers(run.project_name());
    if (cs.empty()) text += "  no containers of project " + run.project_name() + "\n";
    for (const auto& c : cs)
      text += fmt::format("  service {}: {}{} (restarts {})\n", c.service, c.status,
                          c.health.empty() ? "" : ", " + c.health, c.restart_count);
  } catch (const std::exception& e) {
    text += std::string("  containers unknown: ") + e.what() + "\n";
  }
  return text;
}

// Rollback after a failure once the services were stopped. `start_begun`: the new release may have written
// data/, so data/ is restored from the pre-upgrade backup.
Report roll_back(const Site& s, state::StateDb& db, Run& run, const std::string& reason, bool start_begun,
                 const std::string& backup_id, std::int64_t downtime_start_ms, const std::string& action) {
  const Plan& p = run.plan();
  const auto t0 = clock::now();
  log::event(log::Level::warning, "upgrade", "rollback", fmt::format("rolling back to {}: {}", p.from, reason));
  Report rep;
  rep.upgrade_id = run.id();
  rep.from = p.from;
  rep.to = p.to;
  rep.kind = p.kind;
  rep.backup_id = backup_id;
  try {
    run.step("rb-stop", "stop the services of " + p.to,
             [&] { return fmt::format("{} container(s) stopped", run.docker().stop_project(run.project_name())); });
    run.step("rb-switch", p.from.empty() ? std::string("remove current") : "current -> releases/" + p.from, [&] {
      if (p.from.empty()) { // the first install: back to nothing installed
        std::error_code ec;
        fs::remove(s.app_dir() + "/current", ec);
        util::fsync_dir(s.app_dir());
        return std::string("current removed");
      }
      site::switch_current(s.app_dir(), p.from);
      return std::string("switched");
    });
    if (start_begun) {
      run.step("rb-restore", "restore data/ and site/ from backup " + backup_id, [&] {
        auto b = backup_id.empty() ? std::nullopt : db.backup_get(backup_id);
        if (!b || b->status != "complete")
          fail(ExitCode::failure, "the pre-upgrade backup " + (backup_id.empty() ? std::string("(none)") : backup_id) +
                                      " is not complete; data/ cannot be restored");
        backup::restore(s.app_dir(), s.backups_dir() + "/" + b->id + ".tar.gz", b->sha256);
        return backup_id + " restored";
      });
    }
    if (start_begun && p.from.empty()) { // the backup of a first install has no `current` to bring back
      std::error_code ec;
      fs::remove(s.app_dir() + "/current", ec);
    }
    run.services_clear();
    if (!p.from.empty()) {
      run.step("rb-start", "start " + p.from, [&] {
        run.start(p.from);
        return std::string("started");
      });
      health::Outcome h;
      run.step("rb-health", "health gate of " + p.from, [&] {
        h = run.health_gate(p.from);
        if (!h.ok) fail(ExitCode::failure, "the old release " + p.from + " is not healthy either: " + h.reason);
        return fmt::format("healthy after {} ms", h.elapsed.count());
      });
    }
    rep.outcome = Outcome::rolled_back;
    rep.downtime_ms = downtime_start_ms >= 0 ? downtime_start_ms + ms_since(t0) : 0;
    rep.reason = reason;
    run.mark("rollback", "done", "rolled back to " + (p.from.empty() ? "nothing installed" : p.from) + ": " + reason);
    audit(db, p, action, "rolled-back", backup_id, rep.downtime_ms, reason);
  } catch (const std::exception& e) {
    rep.outcome = Outcome::needs_attention;
    rep.reason = fmt::format(
        "{}\nthe rollback failed too: {}\nsite state:\n{}what to do: fix the cause above, then run 'airlock recover' "
        "(it retries the rollback to {}){}",
        reason, e.what(), site_state_text(s, run), p.from,
        backup_id.empty() ? ""
                          : fmt::format("; data/ as it was before the upgrade is in backup {} ('airlock backup "
                                        "restore {} --yes')",
                                        backup_id, backup_id));
    run.mark("rollback", "failed", rep.reason);
    audit(db, p, action, "rollback-failed", backup_id, 0, rep.reason);
  }
  return rep;
}

// Steps 8 to 13 for an upgrade whose `to` release is staged and whose images are loaded.
Report finish(const Site& s, state::StateDb& db, Run& run) {
  const Plan& p = run.plan();
  const auto t_stop = clock::now();
  std::string backup_id;
  bool start_begun = false;
  Report rep;
  rep.upgrade_id = run.id();
  rep.from = p.from;
  rep.to = p.to;
  rep.kind = p.kind;
  try {
    run.step("stop", "stop the services of " + p.from,
             [&] { return fmt::format("{} container(s) stopped", run.docker().stop_project(run.project_name())); });
    state::Backup b;
    b.app_version = p.from;
    b.kind = "pre-upgrade";
    b.status = "in-progress";
    b.note = "before " + p.to + " (upgrade " + run.id() + ")";
    backup_id = db.backup_add(b);
    run.step("backup", backup_id, [&] {
      const std::string path = s.backups_dir() + "/" + backup_id + ".tar.gz";
      try {
        auto r = backup::create(s.app_dir(), path, static_cast<int>(s.cfg().backup_level));
        db.backup_finish(backup_id, "complete", static_cast<std::int64_t>(r.size), r.sha256,
                         static_cast<std::int64_t>(r.file_count));
        return fmt::format("{} complete: {}, {} entries", backup_id, log::human_bytes(r.size), r.file_count);
      } catch (...) {
        db.backup_finish(backup_id, "failed", 0, "", 0);
        throw;
      }
    });
    rep.backup_id = backup_id;
    run.step("switch", "current -> releases/" + p.to, [&] {
      site::switch_current(s.app_dir(), p.to);
      return std::string("switched");
    });
    if (!p.restore_backup.empty()) {
      run.step("restore", "restore data/ and site/ from backup " + p.restore_backup, [&] {
        auto rb = db.backup_get(p.restore_backup);
        if (!rb || rb->status != "complete")
          fail(ExitCode::not_found, "backup " + p.restore_backup + " is not complete");
        start_begun = true; // data/ changes from here on: a rollback restores the pre-step backup
        backup::restore(s.app_dir(), s.backups_dir() + "/" + rb->id + ".tar.gz", rb->sha256);
        site::switch_current(s.app_dir(), p.to); // the backup's own `current` may name another release
        return p.restore_backup + " restored";
      });
    }
    start_begun = true;
    run.step("start", "start " + p.to, [&] {
      run.start(p.to);
      return std::string("started");
    });
    health::Outcome h;
    run.step("health", "health gate of " + p.to, [&] {
      h = run.health_gate(p.to);
      if (!h.ok) fail(ExitCode::failure, h.reason);
      return fmt::format("healthy after {} ms", h.elapsed.count());
    });
    rep.downtime_ms = ms_since(t_stop);
  } catch (const std::exception& e) {
    return roll_back(s, db, run,
                     fmt::format("{} -> {} failed: {}", p.from.empty() ? "(nothing)" : p.from, p.to, e.what()),
                     start_begun, backup_id, ms_since(t_stop), p.action);
  }
  run.step("commit", "record " + p.to + " as installed", [&] {
    state::Install inst;
    inst.app = s.cfg().app_name;
    inst.version = p.to;
    inst.kind = p.kind == "patch" ? "patch" : "full";
    inst.bundle_sha256 = p.bundle_sha256;
    inst.upgrade_id = run.id();
    db.install_add(inst);
    audit(db, p, p.action, "ok", backup_id, rep.downtime_ms,
          fmt::format("{} upgrade {}; downtime {} ms", p.kind, run.id(), rep.downtime_ms));
    return fmt::format("installed {}; downtime {} ms", p.to, rep.downtime_ms);
  });
  prune(s, db, run.docker(), p.to, p.from);
  rep.outcome = Outcome::updated;
  return rep;
}

// Sums what each filesystem must hold (state_dir and releases/ may share one) and compares with its free space.
void check_space(const Site& s, std::uint64_t state_bytes, std::uint64_t release_bytes) {
  struct Need {
    std::string dirs; // "<dir>" or "<dir> and <dir>" for messages
    std::string probe;
    std::uint64_t bytes = 0;
  };
  std::map<dev_t, Need> per_fs;
  for (const auto& [dir, bytes] :
       {std::pair{s.cfg().state_dir, state_bytes}, std::pair{s.releases_dir(), release_bytes}}) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) continue;
    Need& n = per_fs[st.st_dev];
    n.dirs = n.dirs.empty() ? dir : n.dirs + " and " + dir;
    if (n.probe.empty()) n.probe = dir;
    n.bytes += bytes;
  }
  for (const auto& [dev, n] : per_fs) {
    const std::uint64_t free = backup::space::free_bytes(n.probe);
    if (free < n.bytes)
      fail(ExitCode::failure,
           fmt::format("not enough disk space: the upgrade needs about {} in {}, {} free; free some space (e.g. "
                       "'airlock backup prune --keep N') and run again. Nothing was changed.",
                       log::human_bytes(n.bytes), n.dirs, log::human_bytes(free)));
  }
}

// Does the installed tree still match its release.json? (A patch applies only to an intact base.)
bool installed_tree_intact(const Site& s, const std::string& version) {
  auto m = stored_manifest(s, version);
  if (!m || m->files.empty()) return false;
  try {
    site::verify_tree(s.releases_dir() + "/" + version, *m);
    return true;
  } catch (const Error& e) {
    log::event(log::Level::warning, "upgrade", "base-modified",
               fmt::format("releases/{} does not match its release.json ({}); a patch cannot apply, a full release "
                           "is needed",
                           version, e.what()));
    return false;
  }
}

void print_plan(const Site& s, Run& run, const release::Manifest& m, const trust::TrustedState& st,
                const std::optional<std::string>& current, std::uint64_t read_bytes, std::uint64_t disk_bytes) {
  std::ostream& o = std::cout;
  o << fmt::format("plan: {} {} -> {} ({})\n", s.cfg().app_name, current.value_or("(nothing installed)"), m.version,
                   m.is_patch ? "patch from " + m.base_version : std::string("full release"));
  std::map<std::string, const release::FileEntry*> old_files;
  std::optional<release::Manifest> old;
  if (current) old = stored_manifest(s, *current);
  if (old)
    for (const auto& f : old->files) old_files[f.path] = &f;
  std::vector<std::string> added, changed, removed;
  std::set<std::string> now;
  for (const auto& f : m.files) {
    now.insert(f.path);
    auto it = old_files.find(f.path);
    if (it == old_files.end())
      added.push_back(f.path);
    else if (it->second->type != f.type || it->second->sha256 != f.sha256 || it->second->mode != f.mode ||
             it->second->target != f.target)
      changed.push_back(f.path);
  }
  for (const auto& [path, _] : old_files)
    if (!now.count(path)) removed.push_back(path);
  auto list = [&](const char* what, const std::vector<std::string>& v) {
    o << fmt::format("files {}: {}\n", what, v.size());
    for (std::size_t i = 0; i < v.size() && i < 50; ++i) o << "  " << v[i] << "\n";
    if (v.size() > 50) o << fmt::format("  ... and {} more\n", v.size() - 50);
  };
  if (!old) o << "files: no release.json of the installed version to compare with; every file is new\n";
  list("added", added);
  list("changed", changed);
  list("removed", removed);
  o << "images:\n";
  for (const auto& i : m.images) {
    const std::string tags = fmt::format("{}", fmt::join(i.tags, ", "));
    bool present = false;
    try {
      present = run.docker().image_present(i.id);
    } catch (const Error&) {
    }
    if (present)
      o << fmt::format("  {} ({}): present, not loaded\n", i.id.substr(0, 19), tags);
    else if (i.archive)
      o << fmt::format("  {} ({}): load {}\n", i.id.substr(0, 19), tags,
                       log::human_bytes(signed_target(st, *i.archive, m.version).length));
    else
      o << fmt::format("  {} ({}): MISSING from the engine and not in this patch: the import would fail\n",
                       i.id.substr(0, 19), tags);
  }
  if (current) {
    try {
      auto p = run.project(*current);
      auto svcs = run.docker().services(p);
      o << fmt::format("services restarted (project {}): {}\n", p.name, fmt::join(svcs, ", "));
    } catch (const Error& e) {
      o << "services: unknown (" << e.what() << ")\n";
    }
  }
  o << fmt::format("bytes to read and verify: {}\ndisk needed (staging, images, backup): about {}\n",
                   log::human_bytes(read_bytes), log::human_bytes(disk_bytes));
  o << "nothing was changed (--plan)\n";
}

// The start of import and check: refresh the trusted metadata from `source` (saved unless --plan), choose the
// release and read its release.json. c empty: nothing to do (rep.reason says why).
struct Choice {
  std::optional<std::string> current;
  std::optional<Candidate> c;
  Report rep;
  release::Manifest m;
  std::string release_json; // the verified bytes of m's release.json
  std::vector<std::string> skipped;
};

Choice choose(const Site& s, trust::TrustedState& st, bundle::Container& source, const Options& o,
              bool older_is_error) {
  Choice ch;
  ch.current = site::current_version(s.app_dir());
  const auto& current = ch.current;
  trust::refresh(st, source, {static_cast<std::int64_t>(std::time(nullptr))});
  if (!o.plan) st.save(s.trust_dir()); // versions only move forward from here on (rollback protection)

  Wanted w{s.cfg().app_name, about::target_arch(), current, o.version,
           !o.force_full && current && installed_tree_intact(s, *current)};
  auto sel = select(st, source, w);
  ch.skipped = sel.skipped;
  if (!sel.best) {
    std::string why;
    for (const auto& k : sel.skipped) why += "\n  " + k;
    fail(ExitCode::not_applicable,
         fmt::format("{} holds no release of {} for {} that this site can install{}{}", source.describe(),
                     s.cfg().app_name, w.arch, why.empty() ? " (it holds no releases at all)" : ":", why));
  }
  const Candidate& c = *sel.best;
  Report& rep = ch.rep;
  rep.from = current.value_or("");
  rep.to = c.version;
  rep.kind = c.patch ? "patch" : "full";
  if (current) {
    const int cmp = release::compare_versions(c.version, *current);
    if (cmp == 0 && fs::is_directory(s.releases_dir() + "/" + c.version)) {
      rep.outcome = Outcome::none;
      rep.reason = "already at " + c.version;
      return ch;
    }
    if (cmp < 0 && !o.allow_downgrade) {
      rep.reason = fmt::format("{} {} in {} is older than the installed {}; refused (add --allow-downgrade to install "
                               "it)",
                               s.cfg().app_name, c.version, source.describe(), *current);
      if (older_is_error) fail(ExitCode::not_applicable, rep.reason);
      return ch;
    }
  }
  ch.m = read_manifest(st, source, c, &ch.release_json);
  if (release::compare_versions(about::airlock_version(), ch.m.min_agent_version) < 0)
    fail(ExitCode::not_applicable, fmt::format("{} {} needs airlock {} or newer; this is {}: update the agent first",
                                               ch.m.app, ch.m.version, ch.m.min_agent_version, about::airlock_version()));
  ch.c = c;
  return ch;
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Removes from downloads/ what no signed target names any more (complete files and .partial files, with their
// resume rows): left by a run that was given up, or by --download-only of a release that was superseded.
void prune_downloads(const Site& s, state::StateDb& db, const trust::TrustedState& st) {
  if (!fs::is_directory(s.downloads_dir()) || !st.targets) return;
  std::set<std::string> wanted;
  for (const auto& [_, t] : st.targets->meta.targets) wanted.insert(t.sha256);
  for (const auto& e : fs::directory_iterator(s.downloads_dir())) {
    std::string name = e.path().filename().string();
    const bool partial = name.size() > 8 && name.compare(name.size() - 8, 8, ".partial") == 0;
    if (partial) name.resize(name.size() - 8);
    if (!is_sha256_hex(name) || wanted.count(name)) continue;
    std::error_code ec;
    fs::remove(e.path(), ec);
    db.download_delete(name);
    log::event(log::Level::info, "net", "pruned",
               fmt::format("removed {} from {}: no signed target names it any more", e.path().filename().string(),
                           s.downloads_dir()));
  }
}

// Serves what `upgrade --download-only` left: the trusted timestamp (so the refresh re-checks expiry, and keeps
// the versions it already trusts) and the verified targets in downloads/<sha256>. `apply` imports from it.
class DownloadsCache : public bundle::Container {
public:
  explicit DownloadsCache(const Site& s) : trust_(s.trust_dir()), dir_(s.downloads_dir()) {}
  std::optional<std::string> fetch(const std::string& name, std::size_t max_bytes) override {
    if (name != "timestamp.json" || !fs::is_regular_file(trust_ + "/" + name)) return std::nullopt;
    return util::read_file(trust_ + "/" + name, max_bytes);
  }
  std::string describe() const override { return "the downloads in " + dir_; }
  std::vector<std::string> target_files() override { return {}; }
  std::unique_ptr<util::Source> open(const std::string& path) override {
    const std::string sha = path.substr(path.rfind('/') + 1, 64);
    if (!is_sha256_hex(sha) || !fs::is_regular_file(dir_ + "/" + sha)) return nullptr;
    return std::make_unique<util::FileSource>(dir_ + "/" + sha);
  }
  bool is_bundle() const override { return false; }

private:
  std::string trust_, dir_;
};

bool image_in_engine(Run& run, const release::Image& i) {
  try {
    return run.docker().image_present(i.id);
  } catch (const Error&) {
    return false; // no engine reachable now: count the archive as needed
  }
}

// The targets an upgrade to `m` reads: the payload, and the image archives whose image the engine lacks.
std::vector<const trust::TargetFile*> targets_to_fetch(Run& run, const trust::TrustedState& st,
                                                       const release::Manifest& m) {
  std::vector<const trust::TargetFile*> out{&signed_target(st, m.payload, m.version)};
  for (const auto& i : m.images)
    if (i.archive && !image_in_engine(run, i)) out.push_back(&signed_target(st, *i.archive, m.version));
  return out;
}

} // namespace

const char* outcome_name(Outcome o) {
  switch (o) {
  case Outcome::none:
    return "none";
  case Outcome::planned:
    return "planned";
  case Outcome::staged:
    return "staged";
  case Outcome::updated:
    return "updated";
  case Outcome::rolled_back:
    return "rolled-back";
  case Outcome::needs_attention:
    return "needs-attention";
  case Outcome::abandoned:
    return "abandoned";
  case Outcome::downloaded:
    return "downloaded";
  }
  return "?";
}

Site::Site(config::Config cfg) : cfg_(std::move(cfg)) {}

void record_adopted_release(const Site& s, const std::string& compose_file) {
  release::Manifest m;
  m.app = s.cfg().app_name;
  m.version = "0";
  m.arch = about::target_arch();
  m.compose_file = compose_file;
  m.payload = "adopted";
  fs::create_directories(s.manifests_dir());
  util::write_file_atomic(manifest_path(s, "0"), release::to_json_text(m));
}

void clean_interrupted(const Site& s, state::StateDb& db) {
  backup::recover(s.app_dir());
  int n = 0;
  for (const auto& b : db.backups()) {
    if (b.status != "in-progress") continue;
    db.backup_finish(b.id, "failed", 0, "", 0);
    std::error_code ec;
    fs::remove(s.backups_dir() + "/" + b.id + ".tar.gz", ec);
    ++n;
  }
  // Temp files of killed runs (util::AtomicFile names them "<name>.tmp-<pid>"); under the run lock none is live.
  for (const auto& dir : {s.backups_dir(), s.downloads_dir()})
    if (fs::is_directory(dir))
      for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp-") != std::string::npos) {
          std::error_code ec;
          fs::remove(e.path(), ec);
        }
  if (n)
    log::event(log::Level::warning, "backup", "interrupted", fmt::format("marked {} interrupted backup(s) failed", n));
}

Report import(const Site& s, state::StateDb& db, bundle::Container& source, const Options& o) {
  auto st = trust::TrustedState::load(s.trust_dir());
  auto ch = choose(s, st, source, o, true);
  if (!ch.c) return ch.rep;
  const Candidate& c = *ch.c;
  const auto& current = ch.current;
  Report rep = ch.rep;
  auto& m = ch.m;
  if (!o.plan) prune_downloads(s, db, st);

  // Sizes for --plan and the disk preflight.
  std::uint64_t read_bytes = signed_target(st, m.payload, c.release_json->name).length, image_bytes = 0, tree = 0;
  for (const auto& f : m.files) tree += f.size;
  Plan plan{rep.from, c.version, rep.kind, o.bundle_sha256, o.source_label, "", o.action.empty() ? "import" : o.action};
  Run run(s, db, state::new_id(), plan);
  std::vector<const release::Image*> to_load;
  for (const auto& i : m.images)
    if (i.archive) image_bytes += signed_target(st, *i.archive, c.release_json->name).length;
  read_bytes += image_bytes;
  const std::uint64_t backup_bytes = tree_bytes(s.app_dir() + "/data") + tree_bytes(s.app_dir() + "/site");
  const std::uint64_t state_need = read_bytes + image_bytes * 2 + backup_bytes;
  if (o.plan) {
    print_plan(s, run, m, st, current, read_bytes, state_need + tree);
    rep.outcome = Outcome::planned;
    return rep;
  }
  if (o.download_only) {
    // The targets into downloads/ and nothing else: no journal (the site is not touched), one audit row.
    check_space(s, read_bytes, 0);
    std::uint64_t bytes = 0;
    int files = 0;
    for (const auto* t : targets_to_fetch(run, st, m)) {
      fetch_verified(source, *t, s.downloads_dir());
      bytes += t->length;
      ++files;
    }
    // release.json too, so that `apply` can import from the downloads without the network.
    const std::string rj = s.downloads_dir() + "/" + c.release_json->sha256;
    if (!fs::exists(rj)) util::write_file_atomic(rj, ch.release_json);
    rep.outcome = Outcome::downloaded;
    rep.reason = fmt::format("{} file(s), {}, in {}", files, log::human_bytes(bytes), s.downloads_dir());
    audit(db, plan, "download", "downloaded", "", 0, rep.reason);
    return rep;
  }

  // Preflight (step 4): nothing has changed yet.
  check_space(s, state_need, tree);
  run.docker().ping();
  run.docker().compose_command();
  for (const auto& i : m.images)
    if (!i.archive && !run.docker().image_present(i.id))
      fail(ExitCode::not_applicable,
           fmt::format("image {} ({}) is not in the docker engine and the patch {} does not ship it; import the full "
                       "bundle of {}",
                       i.id, fmt::join(i.tags, ", "), c.release_json->name, m.version));
  const std::string summary = fmt::format("{} {} -> {} ({}) from {}", s.cfg().app_name, current.value_or("nothing"),
                                          m.version, rep.kind, source.describe());
  if (o.confirm && !o.confirm(summary)) {
    rep.outcome = Outcome::none;
    rep.reason = "not confirmed; nothing changed";
    return rep;
  }
  log::event(log::Level::info, "upgrade", "plan", "upgrade " + run.id() + ": " + summary);
  run.begin();
  rep.upgrade_id = run.id();
  std::map<std::string, std::string> fetched; // target name -> file in downloads/
  try {
    run.step("fetch", "verify the release targets into " + s.downloads_dir(), [&] {
      for (const auto* t : targets_to_fetch(run, st, m))
        fetched[t->name] = fetch_verified(source, *t, s.downloads_dir());
      return fmt::format("{} target(s) verified", fetched.size());
    });
    run.step("stage", "releases/" + m.version, [&] {
      fs::create_directories(s.manifests_dir());
      util::write_file_atomic(manifest_path(s, m.version), release::to_json_text(m));
      util::FileSource payload(fetched.at(m.payload));
      if (m.is_patch)
        site::stage_patch(s.releases_dir(), *current, m, payload);
      else
        site::stage_full(s.releases_dir(), m, payload);
      run.docker().validate(run.project(m.version));
      return fmt::format("{} entries verified; {} accepts {}", m.files.size(),
                         util::describe_argv(run.docker().compose_command()), m.compose_file);
    });
    run.step("load", fmt::format("{} image(s)", m.images.size()), [&] {
      int loaded = 0, present = 0;
      for (const auto& i : m.images) {
        if (!i.archive || !fetched.count(*i.archive)) { // the fetch step found it in the engine already
          ++present;
          continue;
        }
        auto t0 = clock::now();
        log::event(log::Level::info, "upgrade", "image-load",
                   fmt::format("  loading {} ({})", i.id.substr(0, 19), fmt::join(i.tags, ", ")));
        run.docker().load(fetched.at(*i.archive), i.id, i.tags);
        log::event(log::Level::info, "upgrade", "image-loaded",
                   fmt::format("  loaded {} in {} ms", i.id.substr(0, 19), ms_since(t0)));
        ++loaded;
      }
      for (const auto& [_, path] : fetched) fs::remove(path);
      std::error_code ec;
      fs::remove(s.downloads_dir() + "/" + c.release_json->sha256, ec); // kept by --download-only
      return fmt::format("{} loaded, {} already present", loaded, present);
    });
  } catch (const std::exception& e) {
    // Refused or failed: what was fetched will not be used (a kill skips this, so a rerun can reuse it).
    for (const auto& [_, path] : fetched) {
      std::error_code ec;
      fs::remove(path, ec);
    }
    if (!fs::is_directory(s.releases_dir() + "/" + m.version)) {
      std::error_code ec;
      fs::remove(manifest_path(s, m.version), ec);
    }
    run.mark("rollback", "done", std::string("failed before the services stopped; nothing to undo: ") + e.what());
    audit(db, plan, plan.action, "failed", "", 0, e.what());
    throw;
  }
  if (o.stage_only) {
    run.mark("staged", "done", "staged by --stage-only; 'airlock apply' finishes it");
    audit(db, plan, plan.action, "staged", "", 0, "upgrade " + run.id() + " staged; run 'airlock apply'");
    rep.outcome = Outcome::staged;
    return rep;
  }
  return finish(s, db, run);
}

CheckReport check(const Site& s, state::StateDb& db, bundle::Container& source, const Options& o) {
  auto st = trust::TrustedState::load(s.trust_dir());
  Options read_only = o;
  read_only.plan = true; // the refreshed metadata is checked but not saved: check changes nothing
  auto ch = choose(s, st, source, read_only, false);
  CheckReport r;
  r.from = ch.rep.from;
  r.skipped = ch.skipped;
  r.reason = ch.rep.reason;
  if (!ch.c) {
    r.to = ch.rep.from;
    return r;
  }
  r.decision = ch.c->patch ? "patch" : "full";
  r.to = ch.c->version;
  Run run(s, db, "check", Plan{});
  for (const auto* t : targets_to_fetch(run, st, ch.m)) {
    r.total_bytes += t->length;
    std::error_code ec;
    const std::string path = s.downloads_dir() + "/" + t->sha256;
    if (fs::is_regular_file(path, ec) && fs::file_size(path, ec) == t->length) continue; // downloaded already
    const auto partial = fs::file_size(path + ".partial", ec);
    r.download_bytes += t->length - (!ec && partial < t->length ? partial : 0);
  }
  return r;
}

Report apply(const Site& s, state::StateDb& db, const Options& o) {
  auto last = db.latest_upgrade();
  if (!last || last->step != "staged" || last->status != "done") {
    // No staged upgrade: what `upgrade --download-only` downloaded, imported without the network.
    std::error_code ec;
    bool downloaded = false;
    if (fs::is_directory(s.downloads_dir(), ec))
      for (const auto& e : fs::directory_iterator(s.downloads_dir()))
        downloaded = downloaded || is_sha256_hex(e.path().filename().string());
    if (!downloaded)
      fail(ExitCode::not_found, "no staged or downloaded upgrade to apply (run 'airlock import --stage-only BUNDLE' "
                                "or 'airlock upgrade --download-only' first)");
    DownloadsCache cache(s);
    Options io = o;
    io.action = "apply";
    io.source_label = cache.describe();
    return import(s, db, cache, io);
  }
  Plan plan;
  for (const auto& r : db.journal_for(last->upgrade_id))
    if (r.step == "begin") plan = Plan::from_json(r.detail);
  const auto current = site::current_version(s.app_dir());
  if (current.value_or("") != plan.from)
    fail(ExitCode::not_applicable, fmt::format("upgrade {} was staged for {} -> {}, but {} is installed now; import "
                                               "the bundle again",
                                               last->upgrade_id, plan.from, plan.to, current.value_or("nothing")));
  plan.action = "apply";
  Run run(s, db, last->upgrade_id, plan);
  try {
    run.step("verify-staged", "releases/" + plan.to + " and its images", [&] {
      auto m = require_manifest(s, plan.to);
      site::verify_tree(s.releases_dir() + "/" + plan.to, m);
      for (const auto& i : m.images)
        if (!run.docker().image_present(i.id))
          fail(ExitCode::not_found, "image " + i.id + " is no longer in the engine; import the bundle again");
      run.docker().validate(run.project(plan.to));
      return std::string("intact");
    });
  } catch (const std::exception& e) {
    run.mark("rollback", "done", std::string("apply refused before the services stopped: ") + e.what());
    audit(db, plan, "apply", "failed", "", 0, e.what());
    throw;
  }
  return finish(s, db, run);
}

Report rollback(const Site& s, state::StateDb& db, bool restore_data) {
  const auto current = site::current_version(s.app_dir());
  if (!current) fail(ExitCode::not_found, "nothing is installed; there is nothing to roll back");
  std::optional<state::Install> cur_install, prev;
  for (const auto& i : db.installs(s.cfg().app_name)) {
    if (!cur_install) {
      if (i.version == *current) cur_install = i;
      continue;
    }
    if (i.version != *current) {
      prev = i;
      break;
    }
  }
  if (!prev || !fs::is_directory(s.releases_dir() + "/" + prev->version))
    fail(ExitCode::not_found,
         fmt::format("no earlier release of {} is staged to go back to (installed: {})", s.cfg().app_name, *current));
  Plan plan{*current, prev->version, "rollback", "", "manual rollback", "", "rollback"};
  if (restore_data) {
    plan.restore_backup = cur_install ? backup_of(db, cur_install->upgrade_id) : "";
    if (plan.restore_backup.empty())
      fail(ExitCode::not_found, fmt::format("no pre-upgrade backup was taken when {} was installed; roll back without "
                                            "--restore-data, or restore a backup by hand",
                                            *current));
  }
  Run run(s, db, state::new_id(), plan);
  run.docker().ping();
  run.docker().compose_command();
  auto m = require_manifest(s, prev->version);
  for (const auto& i : m.images)
    if (!run.docker().image_present(i.id))
      fail(ExitCode::not_found, fmt::format("image {} of {} is no longer in the engine; import {}'s bundle instead",
                                            i.id, prev->version, prev->version));
  run.begin();
  return finish(s, db, run);
}

std::optional<std::string> scan(const Site& s, const std::string& dir, std::vector<std::string>& skipped) {
  if (!fs::is_directory(dir)) fail(ExitCode::not_found, dir + " is not a directory");
  const auto current = site::current_version(s.app_dir());
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  // First the metadata of every file (cheap): which could update this site, and to what.
  std::vector<std::pair<std::string, std::string>> candidates; // version, path
  for (const auto& f : files) {
    try {
      auto source = bundle::open_container(f);
      auto st = trust::TrustedState::load(s.trust_dir());
      trust::refresh(st, *source, {static_cast<std::int64_t>(std::time(nullptr))});
      auto sel = select(st, *source, {s.cfg().app_name, about::target_arch(), current, std::nullopt, true});
      if (!sel.best)
        skipped.push_back(f + ": " + (sel.skipped.empty() ? std::string("holds no release") : sel.skipped.front()));
      else if (current && release::compare_versions(sel.best->version, *current) <= 0)
        skipped.push_back(fmt::format("{}: {} is not newer than the installed {}", f, sel.best->version, *current));
      else
        candidates.emplace_back(sel.best->version, f);
    } catch (const Error& e) {
      skipped.push_back(f + ": " + e.what());
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto& a, const auto& b) { return release::compare_versions(a.first, b.first) > 0; });
  // Then every byte of the newest, before it is chosen: a damaged stick must not win over an intact older bundle.
  const std::string root = util::read_file(s.trust_dir() + "/root.json", trust::max_root_bytes);
  std::optional<std::string> best;
  std::string best_version;
  for (const auto& [version, f] : candidates) {
    if (best) {
      skipped.push_back(fmt::format("{}: {} is older than {} in {}", f, version, best_version, *best));
      continue;
    }
    try {
      auto source = bundle::open_container(f);
      bundle::verify_container(*source, root, s.trust_dir() + "/root.json",
                               static_cast<std::int64_t>(std::time(nullptr)));
      best = f;
      best_version = version;
    } catch (const Error& e) {
      skipped.push_back(f + ": " + e.what());
    }
  }
  return best;
}

std::optional<Report> recover(const Site& s, state::StateDb& db) {
  clean_interrupted(s, db);
  auto last = db.unfinished_upgrade();
  if (!last) return std::nullopt;
  const auto rows = db.journal_for(last->upgrade_id);
  Plan plan;
  std::set<std::string> begun;
  for (const auto& r : rows) {
    if (r.step == "begin") plan = Plan::from_json(r.detail);
    begun.insert(r.step);
  }
  Run run(s, db, last->upgrade_id, plan);
  log::event(log::Level::warning, "recover", "found",
             fmt::format("upgrade {} ({} -> {}) was interrupted at step '{}' ({}); recovering first", last->upgrade_id,
                         plan.from, plan.to, last->step, last->status));
  Report rep;
  rep.upgrade_id = last->upgrade_id;
  rep.from = plan.from;
  rep.to = plan.to;
  rep.kind = plan.kind;
  if (plan.to.empty()) {
    run.mark("rollback", "done", "recovered: the upgrade had not recorded its plan; nothing ran");
    rep.outcome = Outcome::abandoned;
    return rep;
  }
  if (begun.count("commit") && !begun.count("rb-stop")) {
    // The health gate had passed: finish the commit.
    bool recorded = false;
    for (const auto& i : db.installs(s.cfg().app_name))
      if (i.upgrade_id == last->upgrade_id) recorded = true;
    if (!recorded) {
      state::Install inst;
      inst.app = s.cfg().app_name;
      inst.version = plan.to;
      inst.kind = plan.kind == "patch" ? "patch" : "full";
      inst.bundle_sha256 = plan.bundle_sha256;
      inst.upgrade_id = last->upgrade_id;
      db.install_add(inst);
    }
    const std::string backup_id = backup_of(db, last->upgrade_id);
    run.mark("commit", "done", "finished by recovery");
    audit(db, plan, "recover", "ok", backup_id, 0,
          fmt::format("upgrade {} was interrupted while committing; the commit was finished", last->upgrade_id));
    prune(s, db, run.docker(), plan.to, plan.from);
    rep.outcome = Outcome::updated;
    rep.reason = "finished the interrupted commit";
    return rep;
  }
  if (!begun.count("stop")) {
    run.mark("rollback", "done", "interrupted before the services stopped; nothing to undo");
    audit(db, plan, "recover", "abandoned", "", 0,
          fmt::format("upgrade {} was interrupted at '{}', before the services stopped; the site was untouched",
                      last->upgrade_id, last->step));
    rep.outcome = Outcome::abandoned;
    rep.reason = "interrupted before the services stopped; the running site was untouched";
    return rep;
  }
  const std::string backup_id = backup_of(db, last->upgrade_id);
  const bool start_begun = begun.count("start") || begun.count("restore");
  return roll_back(s, db, run, fmt::format("upgrade {} was interrupted at '{}'", last->upgrade_id, last->step),
                   start_begun, backup_id, -1, "recover");
}

} // namespace airlock::pipeline
