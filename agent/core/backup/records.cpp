#include "backup/records.hpp"

#include "log/log.hpp"
#include "util/error.hpp"

#include <filesystem>

namespace airlock::backup {

namespace {

Taken take_with(state::StateDb& db, state::BackupKind kind, const std::string& app_version, const std::string& note,
                const std::string& contents, const std::function<void(const std::string& id)>& on_id,
                const std::function<BackupResult(const std::string& id)>& write) {
  state::Backup b;
  b.contents = contents;
  b.app_version = app_version;
  b.kind = kind;
  b.status = state::BackupStatus::in_progress;
  b.note = note;
  Taken t;
  t.id = db.backup_add(b);
  try {
    if (on_id) on_id(t.id);
    t.result = write(t.id);
  } catch (...) {
    // The write's own error is the one thrown: it says what to do. When the failed row cannot be written either
    // (the state filesystem is full), the row stays in_progress and the next run that opens the site for a
    // change marks it failed (pipeline/recover); the backup file itself is already gone.
    try {
      db.backup_finish(t.id, state::BackupStatus::failed, 0, "", 0);
    } catch (const Error& e) {
      log::event(log::Level::warning, "backup", "record-failed",
                 "backup " + t.id + " could not be recorded as failed: " + e.what());
    }
    throw;
  }
  db.backup_finish(t.id, state::BackupStatus::complete, static_cast<std::int64_t>(t.result.size), t.result.sha256,
                   static_cast<std::int64_t>(t.result.file_count));
  return t;
}

} // namespace

Taken take(const site::Layout& l, state::StateDb& db, state::BackupKind kind, const std::string& app_version,
           const std::string& note, Compression gz, const std::function<void(const std::string& id)>& on_id,
           const util::FreeBytes& free_bytes) {
  return take_with(db, kind, app_version, note, "data site", on_id,
                   [&](const std::string& id) { return create(l.app_dir(), l.backup_path(id), gz, free_bytes); });
}

Taken take(const site::Layout& l, state::StateDb& db, state::BackupKind kind, const std::string& app_version,
           const std::string& note, Compression gz, const std::vector<Tree>& trees, const std::string& current_target,
           const std::function<void(const std::string& id)>& on_id, const util::FreeBytes& free_bytes) {
  std::string contents;
  for (const auto& t : trees) contents += (contents.empty() ? "" : " ") + t.name;
  return take_with(db, kind, app_version, note, contents, on_id, [&](const std::string& id) {
    return create(trees, current_target, l.backup_path(id), gz, free_bytes);
  });
}

Pruned prune(const site::Layout& l, state::StateDb& db, long keep, std::optional<state::BackupKind> only) {
  Pruned p;
  for (const auto& b : db.backups()) { // newest first
    if ((only && b.kind != *only) || b.status == state::BackupStatus::in_progress) continue;
    if (b.status == state::BackupStatus::complete && p.kept < keep) {
      ++p.kept;
      continue;
    }
    std::error_code ec;
    std::filesystem::remove(l.backup_path(b.id), ec);
    db.backup_delete(b.id);
    ++p.removed;
  }
  return p;
}

} // namespace airlock::backup
