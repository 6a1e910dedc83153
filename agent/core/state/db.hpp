// The agent's state database: "<state_dir>/state.db" (SQLite, WAL, synchronous=FULL, foreign keys on).
// It records installs, a journal of each upgrade step, backups, resumable downloads and an audit trail.
//
// Schema: PRAGMA user_version is the schema version. Migrations are an ordered list of SQL steps in db.cpp;
// each version is applied in its own transaction together with its user_version bump. Version 1 creates
// everything; version 2 adds backups.contents; version 3 adds facts (what `airlock metrics` reports that no other
// table holds); version 4 adds hook_runs. A database written by a newer airlock (user_version >
// StateDb::schema_version) is refused.
//
// Corruption is never reset silently: a file that is not SQLite, or that fails PRAGMA integrity_check, is
// moved aside to "state.db.corrupt-<YYYYMMDDTHHMMSSZ>" (with its -wal and -shm files), and the open fails
// with an Error that names the new path and says that the next run creates a fresh database.
// Other failures (permission denied, disk I/O errors, a locked database) fail without moving anything.
//
// Times are UTC ISO-8601 strings with second precision, "2026-11-29T14:00:00Z"; they sort as text.
// A time field left empty in a struct passed to an *_add method is stamped with the current time.
// Every column is NOT NULL: an unknown text is "", an unknown number is documented per field.
// Errors: every method throws airlock::Error(failure) naming state.db when SQLite fails, unless noted.
// Thread-safety: a StateDb is used by one thread; open one StateDb per thread (SQLite WAL serialises writers,
// waiting up to the busy timeout). Other processes are kept out by state::RunLock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace airlock::state {

// The current UTC time as "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_now();
// A fresh ID "<YYYYMMDDTHHMMSSZ>-<6 hex>" (upgrade IDs; backup_add makes backup IDs the same way).
std::string new_id();

// Kinds and statuses. Their text forms exist only at the SQLite and JSON boundaries (name(), and parse_*() in
// db.cpp, which refuse an unknown text as a corrupt row).
enum class ReleaseKind { full, patch, adopted };
enum class StepStatus { started, done, failed };
enum class BackupKind { manual, pre_upgrade };
enum class BackupStatus { in_progress, complete, failed };
const char* name(ReleaseKind k);  // "full" | "patch" | "adopted"
const char* name(StepStatus s);   // "started" | "done" | "failed"
const char* name(BackupKind k);   // "manual" | "pre-upgrade"
const char* name(BackupStatus s); // "in-progress" | "complete" | "failed"

struct Install {
  std::int64_t id = 0;      // assigned by install_add
  std::string app;          // app name, e.g. "shop"
  std::string version;      // release version
  std::string installed_at; // stamped when empty
  ReleaseKind kind = ReleaseKind::full;
  std::string bundle_sha256;
  std::string upgrade_id; // the journal's upgrade id; "" for an adopted release
};

struct JournalEntry {
  std::int64_t id = 0;
  std::string upgrade_id;
  std::string step; // a pipeline step's journal name (pipeline/steps.hpp), e.g. "fetch", "backup", "commit"
  StepStatus status = StepStatus::started;
  std::string started_at;
  std::string ended_at; // "" while started
  std::string detail;
};

struct Backup {
  std::string id; // "<YYYYMMDDTHHMMSSZ>-<6 hex>", assigned by backup_add
  std::string path;
  std::string app_version;
  BackupKind kind = BackupKind::manual;
  BackupStatus status = BackupStatus::in_progress;
  std::int64_t size = 0;
  std::string sha256;
  std::int64_t file_count = 0;
  std::string note;
  std::string created_at; // stamped when empty
  std::string contents;   // what it holds, space-separated: "data site volumes/pgdata" ("" before schema v2)
};

struct Download {
  std::string url;
  std::string path;                  // the partial file
  std::int64_t expected_length = -1; // -1: unknown
  std::string sha256;                // key: the expected SHA-256 (hex) of the complete file
  std::int64_t bytes_done = 0;
  std::string etag;
  std::string last_modified;
  std::string updated_at; // stamped by download_put
};

struct AuditEntry {
  std::int64_t id = 0; // assigned by audit_add
  std::string at;      // stamped when empty
  std::int64_t uid = -1;
  std::string user_name;
  std::string sudo_user; // $SUDO_USER, "" if none
  std::string action;    // e.g. "upgrade", "rollback", "backup", "restore"
  std::string from_version;
  std::string to_version;
  std::string outcome; // e.g. "ok", "failed", "rolled-back"
  std::string bundle_sha256;
  std::string backup_id;
  std::int64_t downtime_ms = 0; // 0: no downtime measured
  std::string detail;
};

// A named value the agent keeps about its own runs, for `airlock metrics` (metrics/metrics.hpp names them): the
// last exit code of each command, the last known update, counters such as the bytes downloaded.
struct Fact {
  std::string name;        // e.g. "run/upgrade", "update", "downloaded_bytes"
  std::int64_t number = 0; // the value (an exit code, 0/1, a count)
  std::string text;        // what the number is about, e.g. the version of an update; "" if nothing
  std::string at;          // when it was last set; stamped when empty
};

// One run of a hook (hooks/hooks.hpp): which executable, at which event of which upgrade, and how it ended.
struct HookRun {
  std::int64_t id = 0;         // assigned by hook_run_add
  std::string at;              // when it started; stamped when empty
  std::string upgrade_id;      // "" when the event belongs to no upgrade
  std::string event;           // pre-upgrade | post-commit | post-rollback | needs-attention
  std::string hook;            // the executable's path
  std::string outcome;         // ok | failed | timed-out | refused (not run: unsafe owner or mode)
  std::int64_t exit_code = -1; // -1: it did not exit by itself (timed out, refused)
  std::int64_t duration_ms = 0;
  std::string output; // the last bytes of its stdout and stderr, or why it was refused
};

// An audit entry for `action` filled with who runs this process: uid, user name (from /etc/passwd), $SUDO_USER.
AuditEntry audit_who(const std::string& action);

class StateDb {
public:
  static constexpr int schema_version = 4;

  // Opens (creating if missing) "<state_dir>/state.db", checks its integrity and migrates it to
  // schema_version. Throws Error(failure) for a newer schema ("use a newer airlock"), for a corrupt database
  // (after moving it aside, see above) and for any other SQLite or file-system failure.
  explicit StateDb(const std::string& state_dir);
  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  const std::string& path() const { return path_; }
  int user_version();
  std::string journal_mode(); // "wal" once opened

  // installs: an append-only history of the releases that became current.
  std::int64_t install_add(const Install& install);
  std::vector<Install> installs(const std::string& app); // newest first

  // journal: one row per step attempt of an upgrade.
  // journal_begin inserts a "started" row and returns its id; journal_end sets its status, ended_at and detail
  // (throws Error(not_found) for an unknown id).
  std::int64_t journal_begin(const std::string& upgrade_id, const std::string& step, const std::string& detail);
  void journal_end(std::int64_t id, StepStatus status, const std::string& detail);
  std::vector<JournalEntry> journal_for(const std::string& upgrade_id); // oldest first
  // The last journal row of the most recent upgrade that did not finish, or nullopt when every upgrade did.
  // An upgrade is finished when its last row (highest id) is one of `terminal_steps` with status done (the
  // pipeline's step table says which steps end an upgrade). Anything else (a started or failed last step) is
  // unfinished and must be recovered before a new upgrade starts.
  std::optional<JournalEntry> unfinished_upgrade(const std::vector<std::string>& terminal_steps);
  // The last row of the most recent upgrade (the one with the highest row id), finished or not.
  std::optional<JournalEntry> latest_upgrade();

  // backups. backup_add assigns a fresh id (unique even for two backups in the same second), stores the row
  // with the given status and returns the id. backup_finish and backup_delete throw Error(not_found) for an
  // unknown id; backup_delete removes the row only, not the file.
  std::string backup_add(const Backup& backup);
  void backup_finish(const std::string& id, BackupStatus status, std::int64_t size, const std::string& sha256,
                     std::int64_t file_count);
  std::optional<Backup> backup_get(const std::string& id);
  std::vector<Backup> backups(); // newest first
  void backup_delete(const std::string& id);

  // downloads, keyed by sha256. download_put inserts or replaces the row and stamps updated_at.
  void download_put(const Download& download);
  std::optional<Download> download_get(const std::string& sha256);
  void download_delete(const std::string& sha256); // deleting a missing row is not an error

  // hook_runs: one row per hook run, appended.
  std::int64_t hook_run_add(const HookRun& run);
  std::vector<HookRun> hook_runs(const std::string& upgrade_id); // of one upgrade, oldest first

  // audit: who did what, appended once per command.
  std::int64_t audit_add(const AuditEntry& entry);
  std::vector<AuditEntry> audit(int limit); // newest first, at most `limit` rows
  // How many audit rows have this action and outcome; "" in either matches any.
  std::int64_t audit_count(const std::string& action, const std::string& outcome);
  // The newest audit row with a measured downtime (downtime_ms > 0: an upgrade, apply or rollback that stopped the
  // services, committed or rolled back), or nullopt.
  std::optional<AuditEntry> audit_last_downtime();

  // facts (schema v3), keyed by name. fact_set inserts or replaces the row (stamping `at` when empty);
  // fact_add adds `delta` to the number of `name` in one statement (a missing fact counts from 0) and stamps `at`.
  // Both commit without an fsync (observations for the metrics: a power loss may lose the newest ones, and the
  // next durable write syncs them), so that a command that changes nothing else, such as status or check against
  // an unchanged repository, takes no fsync. Not for use inside a transaction.
  void fact_set(const Fact& fact);
  void fact_add(const std::string& name, std::int64_t delta);
  std::vector<Fact> facts(); // ordered by name

private:
  // audit() with an SQL condition of our own (never operator input) before the order and the limit.
  std::vector<AuditEntry> audit_where(const std::string& where, int limit);

  struct Impl;
  std::string path_;
  std::unique_ptr<Impl> impl_;
};

} // namespace airlock::state
