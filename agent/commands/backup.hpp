// `airlock backup create|list|verify|restore|prune`: backups of data/, site/ and current (backup/backup.hpp),
// recorded in the state database (backup/records.hpp, the same code as the pipeline's pre-upgrade backup).
// create, restore and prune change the site: they hold the run lock and recover interrupted work first
// (commands/session.hpp); list and verify are read-only.
// Thread-safety: none.
#pragma once

#include "util/args.hpp"

namespace airlock::commands {

// [--level 0-9] [--threads N] [--note TEXT]: a manual backup (gzip level: --level, else [backup] level;
// compression threads: --threads, else [backup] threads; 0 = one per CPU). Audit row "backup".
int backup_create(const util::Args& a);
// Every recorded backup, newest first: ID, kind, status, version, size, note.
int backup_list(const util::Args& a);
// ID: re-hashes a complete backup's archive against its recorded SHA-256. Error(not_found) for an unknown ID,
// Error(usage) for a backup that is not complete, Error(verify_failed) for a mismatch.
int backup_verify(const util::Args& a);
// ID [--yes]: replaces data/, site/ and current from a complete backup (verified first), after a y/N question
// on a terminal; without a terminal, --yes is required (Error(usage)). "no" returns ExitCode::usage, nothing
// changed. Audit row "restore".
int backup_restore(const util::Args& a);
// --keep N: keeps the N newest complete backups and removes the other finished ones (backup::prune).
int backup_prune(const util::Args& a);

} // namespace airlock::commands
