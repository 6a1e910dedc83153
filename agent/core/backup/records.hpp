// Backups as the site records them: the archive (backup.hpp) plus its row in the state database. The CLI's
// `backup create|prune` and the pipeline's pre-upgrade backup and retention call these, so a backup is
// taken, recorded and pruned one way.
// Thread-safety: under the run lock, one caller at a time.
#pragma once

#include "backup/backup.hpp"
#include "site/layout.hpp"
#include "state/db.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace airlock::backup {

struct Taken {
  std::string id;
  BackupResult result;
};

// Records a backup row (status in-progress), writes <backups>/<id>.tar.gz of the site compressed as `gz` says, and
// marks the row complete with its size, SHA-256 and entry count. On any error the row is marked failed, no
// archive is left, and the Error propagates. `on_id` (optional) learns the ID once the row exists, before the
// archive is written (the pipeline journals it).
// `free_bytes` is the disk probe for the space check.
Taken take(const site::Layout& l, state::StateDb& db, state::BackupKind kind, const std::string& app_version,
           const std::string& note, Compression gz, const std::function<void(const std::string& id)>& on_id = {},
           const util::FreeBytes& free_bytes = util::statvfs_free_bytes);

// As take(), writing the given trees (the pipeline's snapshots) with a `current` entry to `current_target`.
Taken take(const site::Layout& l, state::StateDb& db, state::BackupKind kind, const std::string& app_version,
           const std::string& note, Compression gz, const std::vector<Tree>& trees, const std::string& current_target,
           const std::function<void(const std::string& id)>& on_id = {},
           const util::FreeBytes& free_bytes = util::statvfs_free_bytes);

struct Pruned {
  int kept = 0, removed = 0;
};

// Keeps the `keep` newest complete backups (of `only` kind, or of every kind) and removes the other finished
// ones (complete beyond `keep`, failed): archive and row. In-progress rows (a crash; clean_interrupted marks
// them failed) are left alone. Removal failures of an archive are ignored (the row goes: nothing points at it).
Pruned prune(const site::Layout& l, state::StateDb& db, long keep, std::optional<state::BackupKind> only = {});

} // namespace airlock::backup
