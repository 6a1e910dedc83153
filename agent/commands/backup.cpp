#include "commands/backup.hpp"

#include "backup/backup.hpp"
#include "backup/records.hpp"
#include "commands/prompt.hpp"
#include "commands/session.hpp"
#include "log/log.hpp"
#include "site/stage.hpp"
#include "state/db.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <iostream>
#include <limits>
#include <map>
#include <string>

namespace airlock::commands {
namespace {

// The one backup ID of `backup <verb> ID`; Error(usage) otherwise.
std::string backup_id(const util::Args& a, const char* verb) {
  if (a.operands().size() != 1) fail(ExitCode::usage, std::string("backup ") + verb + " takes one backup ID");
  return a.operands()[0];
}

state::Backup complete_backup(state::StateDb& db, const std::string& id) {
  auto b = db.backup_get(id);
  if (!b) fail(ExitCode::not_found, "no backup " + id + " ('airlock backup list' shows them)");
  if (b->status != state::BackupStatus::complete)
    fail(ExitCode::usage,
         fmt::format("backup {} is {}, not complete; it is never offered for restore", id, state::name(b->status)));
  return *b;
}

// Runs work(audit), then records `audit` with outcome ok, or failed with the error's message (and rethrows the
// error). When the failure row cannot be written either (the state filesystem is full), that is logged as a
// warning and the work's own error is the one thrown: it says what to do.
template <class F> void audited(state::StateDb& db, state::AuditEntry audit, F&& work) {
  try {
    work(audit);
  } catch (const Error& e) {
    audit.outcome = "failed";
    audit.detail = e.what();
    try {
      db.audit_add(audit);
    } catch (const Error& a) {
      log::event(log::Level::warning, "backup", "audit-failed",
                 std::string("the audit row of this failure was not written: ") + a.what());
    }
    throw;
  }
  audit.outcome = "ok";
  db.audit_add(audit);
}

} // namespace

int backup_create(const util::Args& a) {
  const auto level_option = a.number("level", 0, 9);
  const auto threads_option = a.number("threads", 0, 1024);
  Session s(a);
  s.open_for_change();
  const backup::Compression gz(static_cast<int>(level_option.value_or(s.cfg().backup_level)),
                               static_cast<unsigned>(threads_option.value_or(s.cfg().backup_threads)));
  const std::string version = site::current_version(s.layout().app_dir()).value_or("");
  auto audit = state::audit_who("backup");
  audit.from_version = version;
  backup::Taken t;
  audited(s.db(), audit, [&](state::AuditEntry& row) {
    t = backup::take(s.layout(), s.db(), state::BackupKind::manual, version, a.value("note").value_or(""), gz,
                     [&](const std::string& id) { row.backup_id = id; });
  });
  std::cout << fmt::format("backup {}: {} ({}, {} entries, sha256 {})\n", t.id, t.result.path,
                           log::human_bytes(t.result.size), t.result.file_count, t.result.sha256);
  return 0;
}

int backup_list(const util::Args& a) {
  Session s(a);
  s.open_read_only();
  auto all = s.db().backups();
  if (a.has("json")) {
    json::Array arr;
    for (const auto& b : all) {
      json::Value v;
      v["id"] = b.id;
      v["path"] = s.layout().backup_path(b.id);
      v["app_version"] = b.app_version;
      v["kind"] = state::name(b.kind);
      v["status"] = state::name(b.status);
      v["size"] = b.size;
      v["sha256"] = b.sha256;
      v["file_count"] = b.file_count;
      v["note"] = b.note;
      v["created_at"] = b.created_at;
      v["contents"] = b.contents;
      arr.push_back(v);
    }
    std::cout << json::compact(json::Value(arr)) << "\n";
    return 0;
  }
  for (const auto& b : all)
    std::cout << fmt::format("{}  {:<11} {:<11} v{:<10} {:>10}  {}{}\n", b.id, state::name(b.kind),
                             state::name(b.status), b.app_version, log::human_bytes(static_cast<std::uint64_t>(b.size)),
                             b.note, b.contents.find("volumes/") == std::string::npos ? "" : "  [" + b.contents + "]");
  return 0;
}

int backup_verify(const util::Args& a) {
  Session s(a);
  const auto id = backup_id(a, "verify");
  s.open_read_only();
  const auto b = complete_backup(s.db(), id);
  backup::verify(s.layout().backup_path(b.id), b.sha256);
  std::cout << fmt::format("backup {}: ok (sha256 {})\n", b.id, b.sha256);
  return 0;
}

// The volumes a backup holds, compose key -> the project's volume mountpoint. A volume is swapped under its
// containers' feet otherwise, so a backup holding volumes is restored only while the project is stopped.
std::map<std::string, std::string> volume_dirs_for_restore(Session& s, const state::Backup& b) {
  std::map<std::string, std::string> out;
  if (b.contents.find("volumes/") == std::string::npos) return out;
  auto& engine = s.ctx().engine();
  const std::string project = s.ctx().project_name();
  for (const auto& c : engine.containers(project))
    if (c.status == "running")
      fail(ExitCode::usage,
           fmt::format("backup {} holds named volumes ({}); stop the project first ('docker-compose -p "
                       "{} stop'), or use 'airlock rollback --restore-data', which stops it",
                       b.id, b.contents, project));
  for (const auto& v : engine.volumes(project))
    if (!v.mountpoint.empty()) out[v.compose_key.empty() ? v.name : v.compose_key] = v.mountpoint;
  return out;
}

int backup_restore(const util::Args& a) {
  Session s(a);
  const auto id = backup_id(a, "restore");
  s.open_for_change();
  const auto b = complete_backup(s.db(), id);
  if (!confirmed(a,
                 fmt::format("Replace data/ and site/ of {} with backup {} (v{}, {})?", s.cfg().app_name, b.id,
                             b.app_version, b.created_at),
                 WithoutTerminal::refuse,
                 "restore replaces " + s.layout().data_dir() + " and site; add --yes to confirm (no terminal to ask)"))
    return refused();
  const auto volumes = volume_dirs_for_restore(s, b);
  auto audit = state::audit_who("restore");
  audit.backup_id = b.id;
  audit.to_version = b.app_version;
  audited(s.db(), audit, [&](state::AuditEntry&) {
    log::event(log::Level::info, "backup", "restore-start", "restoring backup " + b.id, {{"id", json::Value(b.id)}});
    backup::restore(s.layout().app_dir(), s.layout().backup_path(b.id), b.sha256, volumes);
  });
  std::cout << fmt::format("restored backup {} into {}\n", b.id, s.layout().app_dir());
  return 0;
}

int backup_prune(const util::Args& a) {
  (void)a.required("keep"); // Error(usage) when absent
  const long keep = *a.number("keep", 0, std::numeric_limits<int>::max(), "a number of backups (0 or more)");
  Session s(a);
  s.open_for_change();
  const auto p = backup::prune(s.layout(), s.db(), keep);
  std::cout << fmt::format("kept {} complete backups, removed {}\n", p.kept, p.removed);
  return 0;
}

} // namespace airlock::commands
