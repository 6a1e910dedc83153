#include "state/db.hpp"

#include "util/error.hpp"
#include "util/io.hpp"
#include "util/names.hpp"
#include "util/users.hpp"

#include <fmt/format.h>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Tuple.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string_view>
#include <unistd.h>

namespace airlock::state {
namespace {

using namespace Poco::Data::Keywords;
using Poco::Data::Session;
using Poco::Data::Statement;
namespace fs = std::filesystem;

// Migrations: migrations[i] takes the schema from version i to i + 1. Append new versions; never edit old ones.
// Each version runs in one transaction together with "PRAGMA user_version = i + 1".
const std::vector<std::vector<std::string_view>>& migrations() {
  static const std::vector<std::vector<std::string_view>> steps = {
      {
          // v1: everything.
          "CREATE TABLE installs (id INTEGER PRIMARY KEY, app TEXT NOT NULL, version TEXT NOT NULL,"
          " installed_at TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('full', 'patch', 'adopted')),"
          " bundle_sha256 TEXT NOT NULL DEFAULT '', upgrade_id TEXT NOT NULL DEFAULT '')",
          "CREATE INDEX installs_by_app ON installs (app, id)",
          "CREATE TABLE journal (id INTEGER PRIMARY KEY, upgrade_id TEXT NOT NULL, step TEXT NOT NULL,"
          " status TEXT NOT NULL CHECK (status IN ('started', 'done', 'failed', 'undone')),"
          " started_at TEXT NOT NULL, ended_at TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '')",
          "CREATE INDEX journal_by_upgrade ON journal (upgrade_id, id)",
          "CREATE TABLE backups (id TEXT PRIMARY KEY, path TEXT NOT NULL, app_version TEXT NOT NULL DEFAULT '',"
          " kind TEXT NOT NULL CHECK (kind IN ('manual', 'pre-upgrade')),"
          " status TEXT NOT NULL CHECK (status IN ('in-progress', 'complete', 'failed')),"
          " size INTEGER NOT NULL DEFAULT 0, sha256 TEXT NOT NULL DEFAULT '', file_count INTEGER NOT NULL DEFAULT 0,"
          " note TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL)",
          "CREATE TABLE downloads (sha256 TEXT PRIMARY KEY, url TEXT NOT NULL, path TEXT NOT NULL,"
          " expected_length INTEGER NOT NULL DEFAULT -1, bytes_done INTEGER NOT NULL DEFAULT 0,"
          " etag TEXT NOT NULL DEFAULT '', last_modified TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL)",
          "CREATE TABLE audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, uid INTEGER NOT NULL,"
          " user_name TEXT NOT NULL DEFAULT '', sudo_user TEXT NOT NULL DEFAULT '', action TEXT NOT NULL,"
          " from_version TEXT NOT NULL DEFAULT '', to_version TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL,"
          " bundle_sha256 TEXT NOT NULL DEFAULT '', backup_id TEXT NOT NULL DEFAULT '',"
          " downtime_ms INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '')",
      },
      {
          // v2: what a backup holds ("data site volumes/pgdata"), since pre-upgrade backups hold named volumes.
          "ALTER TABLE backups ADD COLUMN contents TEXT NOT NULL DEFAULT ''",
      },
      {
          // v3: facts for `airlock metrics` (last result per command, the last known update, counters).
          "CREATE TABLE facts (name TEXT PRIMARY KEY, number INTEGER NOT NULL DEFAULT 0,"
          " text TEXT NOT NULL DEFAULT '', at TEXT NOT NULL)",
      },
      {
          // v4: the runs of hooks (hooks/hooks.hpp).
          "CREATE TABLE hook_runs (id INTEGER PRIMARY KEY, at TEXT NOT NULL, upgrade_id TEXT NOT NULL DEFAULT '',"
          " event TEXT NOT NULL, hook TEXT NOT NULL, outcome TEXT NOT NULL, exit_code INTEGER NOT NULL DEFAULT -1,"
          " duration_ms INTEGER NOT NULL DEFAULT 0, output TEXT NOT NULL DEFAULT '')",
          "CREATE INDEX hook_runs_by_upgrade ON hook_runs (upgrade_id, id)",
      },
  };
  return steps;
}

enum class TimeFormat { iso, compact };

// The two UTC formats: "2026-11-29T14:00:00Z" (iso) and "20261129T140000Z" (compact, for file names and IDs).
std::string utc_format(TimeFormat f) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  if (f == TimeFormat::iso)
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  else
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string stamp(const std::string& t) { return t.empty() ? utc_now() : t; }

void exec(Session& s, const std::string& sql) { s << sql, now; }

// A write transaction; the destructor rolls back unless commit() ran.
class Transaction {
public:
  explicit Transaction(Session& s) : s_(s) { exec(s_, "BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) try {
        exec(s_, "ROLLBACK");
      } catch (...) {
      }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    exec(s_, "COMMIT");
    done_ = true;
  }

private:
  Session& s_;
  bool done_ = false;
};

// An empty or missing file is a new database; anything else must start with the SQLite header.
bool has_sqlite_header(const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec || size == 0) return true;
  std::ifstream f(path, std::ios::binary);
  if (!f) return true; // unreadable for other reasons: let SQLite report it without moving anything
  std::array<char, 16> head{};
  f.read(head.data(), head.size());
  return f.gcount() == 16 && std::string_view(head.data(), 16) == std::string_view("SQLite format 3\0", 16);
}

[[noreturn]] void move_aside(const std::string& path, const std::string& reason) {
  std::string base = path + ".corrupt-" + utc_format(TimeFormat::compact), dest = base;
  for (int n = 2; fs::exists(dest) || fs::exists(dest + "-wal"); ++n) dest = base + "-" + std::to_string(n);
  std::error_code ec;
  fs::rename(path, dest, ec);
  if (ec)
    fail(ExitCode::failure, path + " is corrupt (" + reason + ") and could not be moved aside to " + dest + ": " +
                                ec.message() + "; move it away by hand and run again");
  for (const char* suffix : {"-wal", "-shm"})
    if (fs::exists(path + suffix)) fs::rename(path + suffix, dest + suffix, ec);
  util::fsync_dir(fs::path(path).parent_path().string());
  fail(ExitCode::failure, path + " is corrupt (" + reason + "); it was moved to " + dest +
                              " and a fresh database will be created on the next run (restore the installs and "
                              "backups records from there by hand if you need them)");
}

std::string random_hex6() {
  static std::random_device rd;
  unsigned v = rd() & 0xffffffu;
  static const char* digits = "0123456789abcdef";
  std::string out(6, '0');
  for (int i = 5; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return out;
}

// The text forms of the enums, as stored; a text that is none of them is a corrupt row.
constexpr util::NameTable<ReleaseKind, 3> release_kinds{
    {{ReleaseKind::full, "full"}, {ReleaseKind::patch, "patch"}, {ReleaseKind::adopted, "adopted"}}};
constexpr util::NameTable<StepStatus, 3> step_statuses{
    {{StepStatus::started, "started"}, {StepStatus::done, "done"}, {StepStatus::failed, "failed"}}};
constexpr util::NameTable<BackupKind, 2> backup_kinds{
    {{BackupKind::manual, "manual"}, {BackupKind::pre_upgrade, "pre-upgrade"}}};
constexpr util::NameTable<BackupStatus, 3> backup_statuses{{{BackupStatus::in_progress, "in-progress"},
                                                            {BackupStatus::complete, "complete"},
                                                            {BackupStatus::failed, "failed"}}};

template <class E, std::size_t N>
E parse_in(const util::NameTable<E, N>& names, const std::string& text, const char* what) {
  if (auto v = util::value_of(names, text)) return *v;
  fail(ExitCode::failure, fmt::format("state.db holds an unknown {} '{}' (written by a newer airlock?)", what, text));
}

using InstallRow =
    Poco::Tuple<std::int64_t, std::string, std::string, std::string, std::string, std::string, std::string>;
Install to_install(const InstallRow& r) {
  return {r.get<0>(), r.get<1>(), r.get<2>(), r.get<3>(), parse_in(release_kinds, r.get<4>(), "release kind"),
          r.get<5>(), r.get<6>()};
}
const char* install_cols = "SELECT id, app, version, installed_at, kind, bundle_sha256, upgrade_id FROM installs ";

using JournalRow =
    Poco::Tuple<std::int64_t, std::string, std::string, std::string, std::string, std::string, std::string>;
JournalEntry to_journal(const JournalRow& r) {
  return {r.get<0>(), r.get<1>(), r.get<2>(), parse_in(step_statuses, r.get<3>(), "journal status"),
          r.get<4>(), r.get<5>(), r.get<6>()};
}

using BackupRow = Poco::Tuple<std::string, std::string, std::string, std::string, std::string, std::int64_t,
                              std::string, std::int64_t, std::string, std::string, std::string>;
Backup to_backup(const BackupRow& r) {
  return {r.get<0>(),
          r.get<1>(),
          r.get<2>(),
          parse_in(backup_kinds, r.get<3>(), "backup kind"),
          parse_in(backup_statuses, r.get<4>(), "backup status"),
          r.get<5>(),
          r.get<6>(),
          r.get<7>(),
          r.get<8>(),
          r.get<9>(),
          r.get<10>()};
}
const char* backup_cols =
    "SELECT id, path, app_version, kind, status, size, sha256, file_count, note, created_at, contents FROM backups ";

using DownloadRow = Poco::Tuple<std::string, std::string, std::int64_t, std::string, std::int64_t, std::string,
                                std::string, std::string>;

using HookRunRow = Poco::Tuple<std::int64_t, std::string, std::string, std::string, std::string, std::string,
                               std::int64_t, std::int64_t, std::string>;

using AuditRow =
    Poco::Tuple<std::int64_t, std::string, std::int64_t, std::string, std::string, std::string, std::string,
                std::string, std::string, std::string, std::string, std::int64_t, std::string>;

} // namespace

const char* name(ReleaseKind k) { return util::name_of(release_kinds, k).data(); }
const char* name(StepStatus s) { return util::name_of(step_statuses, s).data(); }
const char* name(BackupKind k) { return util::name_of(backup_kinds, k).data(); }
const char* name(BackupStatus s) { return util::name_of(backup_statuses, s).data(); }

std::string utc_now() { return utc_format(TimeFormat::iso); }

std::string new_id() { return utc_format(TimeFormat::compact) + "-" + random_hex6(); }

AuditEntry audit_who(const std::string& action) {
  AuditEntry e;
  e.uid = static_cast<std::int64_t>(::getuid());
  e.user_name = util::user_name(::getuid());
  if (const char* s = std::getenv("SUDO_USER")) e.sudo_user = s;
  e.action = action;
  return e;
}

struct StateDb::Impl {
  explicit Impl(const std::string& path) : session("SQLite", path) {}
  Session session;

  // Runs fn, turning a Poco failure into Error(failure) naming the database and the operation.
  template <class Fn> auto guard(const std::string& path, const char* what, Fn fn) {
    try {
      return fn(session);
    } catch (const Poco::Exception& e) {
      fail(ExitCode::failure, path + ": " + what + " failed: " + e.displayText());
    }
  }
};

StateDb::StateDb(const std::string& state_dir) : path_(state_dir + "/state.db") {
  static std::once_flag registered;
  std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  if (!has_sqlite_header(path_)) move_aside(path_, "not an SQLite database");
  try {
    impl_ = std::make_unique<Impl>(path_);
    Session& s = impl_->session;
    exec(s, "PRAGMA busy_timeout = 10000");
    std::string mode, check;
    s << "PRAGMA journal_mode = WAL", into(mode), now;
    if (mode != "wal") fail(ExitCode::failure, path_ + ": cannot switch to WAL journal mode (got '" + mode + "')");
    exec(s, "PRAGMA synchronous = FULL");
    exec(s, "PRAGMA foreign_keys = ON");
    // No checkpoint when the connection closes: a command that wrote only facts (not durable, see fact_set)
    // would otherwise fsync the WAL and the database at exit. The WAL is checkpointed by the next durable write
    // once it holds 1000 pages (SQLite's automatic checkpoint, with synchronous = FULL), and read by every open.
    ::sqlite3_db_config(Poco::Data::SQLite::Utility::dbHandle(s), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    s << "PRAGMA integrity_check(1)", into(check), now;
    if (check != "ok") {
      impl_.reset();
      move_aside(path_, "integrity_check: " + check);
    }
  } catch (const Poco::Data::SQLite::CorruptImageException& e) {
    impl_.reset();
    move_aside(path_, e.displayText());
  } catch (const Poco::Exception& e) {
    fail(ExitCode::failure, "cannot open " + path_ + ": " + e.displayText());
  }

  int version = user_version();
  if (version > schema_version)
    fail(ExitCode::failure, path_ + " has schema version " + std::to_string(version) + "; this airlock knows up to " +
                                std::to_string(schema_version) + ": use a newer airlock");
  impl_->guard(path_, "schema migration", [&](Session& s) {
    for (int next = version + 1; next <= schema_version; ++next) {
      Transaction t(s);
      int current = 0;
      s << "PRAGMA user_version", into(current), now; // re-read under the write lock
      if (current >= next) continue;
      for (std::string_view sql : migrations()[static_cast<std::size_t>(next - 1)]) exec(s, std::string(sql));
      exec(s, "PRAGMA user_version = " + std::to_string(next));
      t.commit();
    }
  });
}

StateDb::~StateDb() = default;

int StateDb::user_version() {
  return impl_->guard(path_, "reading user_version", [](Session& s) {
    int v = 0;
    s << "PRAGMA user_version", into(v), now;
    return v;
  });
}

std::string StateDb::journal_mode() {
  return impl_->guard(path_, "reading journal_mode", [](Session& s) {
    std::string mode;
    s << "PRAGMA journal_mode", into(mode), now;
    return mode;
  });
}

std::int64_t StateDb::install_add(const Install& i) {
  return impl_->guard(path_, "adding an install", [&](Session& s) {
    std::int64_t id = 0;
    Transaction t(s);
    s << "INSERT INTO installs (app, version, installed_at, kind, bundle_sha256, upgrade_id) VALUES (?,?,?,?,?,?)",
        bind(i.app), bind(i.version), bind(stamp(i.installed_at)), bind(std::string(name(i.kind))),
        bind(i.bundle_sha256), bind(i.upgrade_id), now;
    s << "SELECT last_insert_rowid()", into(id), now;
    t.commit();
    return id;
  });
}

std::vector<Install> StateDb::installs(const std::string& app) {
  return impl_->guard(path_, "listing installs", [&](Session& s) {
    std::vector<InstallRow> rows;
    s << std::string(install_cols) + "WHERE app = ? ORDER BY id DESC", bind(app), into(rows), now;
    std::vector<Install> out;
    for (const auto& r : rows) out.push_back(to_install(r));
    return out;
  });
}

std::int64_t StateDb::journal_begin(const std::string& upgrade_id, const std::string& step, const std::string& detail) {
  return impl_->guard(path_, "journal_begin", [&](Session& s) {
    std::int64_t id = 0;
    Transaction t(s);
    s << "INSERT INTO journal (upgrade_id, step, status, started_at, detail) VALUES (?, ?, 'started', ?, ?)",
        bind(upgrade_id), bind(step), bind(utc_now()), bind(detail), now;
    s << "SELECT last_insert_rowid()", into(id), now;
    t.commit();
    return id;
  });
}

void StateDb::journal_end(std::int64_t id, StepStatus status, const std::string& detail) {
  std::size_t changed = impl_->guard(path_, "journal_end", [&](Session& s) {
    Statement st(s);
    st << "UPDATE journal SET status = ?, ended_at = ?, detail = ? WHERE id = ?", bind(std::string(name(status))),
        bind(utc_now()), bind(detail), bind(id);
    return st.execute();
  });
  if (changed == 0) fail(ExitCode::not_found, path_ + ": no journal row " + std::to_string(id));
}

std::vector<JournalEntry> StateDb::journal_for(const std::string& upgrade_id) {
  return impl_->guard(path_, "reading the journal", [&](Session& s) {
    std::vector<JournalRow> rows;
    s << "SELECT id, upgrade_id, step, status, started_at, ended_at, detail FROM journal WHERE upgrade_id = ?"
         " ORDER BY id",
        bind(upgrade_id), into(rows), now;
    std::vector<JournalEntry> out;
    for (const auto& r : rows) out.push_back(to_journal(r));
    return out;
  });
}

std::optional<JournalEntry> StateDb::unfinished_upgrade(const std::vector<std::string>& terminal_steps) {
  // The last row of every upgrade, newest first; the first that is not a terminal step done is the answer.
  const auto lasts = impl_->guard(path_, "looking for an unfinished upgrade", [&](Session& s) {
    std::vector<JournalRow> rows;
    s << "SELECT j.id, j.upgrade_id, j.step, j.status, j.started_at, j.ended_at, j.detail FROM journal j"
         " WHERE j.id = (SELECT max(k.id) FROM journal k WHERE k.upgrade_id = j.upgrade_id)"
         " ORDER BY j.id DESC",
        into(rows), now;
    return rows;
  });
  for (const auto& r : lasts) {
    auto e = to_journal(r);
    const bool terminal = std::find(terminal_steps.begin(), terminal_steps.end(), e.step) != terminal_steps.end();
    if (!(terminal && e.status == StepStatus::done)) return e;
  }
  return std::nullopt;
}

std::optional<JournalEntry> StateDb::latest_upgrade() {
  return impl_->guard(path_, "reading the latest upgrade", [&](Session& s) -> std::optional<JournalEntry> {
    std::vector<JournalRow> rows;
    s << "SELECT id, upgrade_id, step, status, started_at, ended_at, detail FROM journal ORDER BY id DESC LIMIT 1",
        into(rows), now;
    if (rows.empty()) return std::nullopt;
    return to_journal(rows.front());
  });
}

std::string StateDb::backup_add(const Backup& b) {
  return impl_->guard(path_, "adding a backup", [&](Session& s) {
    Transaction t(s);
    std::string id;
    for (int taken = 1; taken != 0;) {
      id = utc_format(TimeFormat::compact) + "-" + random_hex6();
      s << "SELECT count(*) FROM backups WHERE id = ?", bind(id), into(taken), now;
    }
    s << "INSERT INTO backups (id, path, app_version, kind, status, size, sha256, file_count, note, created_at,"
         " contents) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        bind(id), bind(b.path), bind(b.app_version), bind(std::string(name(b.kind))), bind(std::string(name(b.status))),
        bind(b.size), bind(b.sha256), bind(b.file_count), bind(b.note), bind(stamp(b.created_at)), bind(b.contents),
        now;
    t.commit();
    return id;
  });
}

void StateDb::backup_finish(const std::string& id, BackupStatus status, std::int64_t size, const std::string& sha256,
                            std::int64_t file_count) {
  std::size_t changed = impl_->guard(path_, "backup_finish", [&](Session& s) {
    Statement st(s);
    st << "UPDATE backups SET status = ?, size = ?, sha256 = ?, file_count = ? WHERE id = ?",
        bind(std::string(name(status))), bind(size), bind(sha256), bind(file_count), bind(id);
    return st.execute();
  });
  if (changed == 0) fail(ExitCode::not_found, "no backup " + id + " in " + path_ + "; list them with airlock backups");
}

std::optional<Backup> StateDb::backup_get(const std::string& id) {
  return impl_->guard(path_, "reading a backup", [&](Session& s) -> std::optional<Backup> {
    std::vector<BackupRow> rows;
    s << std::string(backup_cols) + "WHERE id = ?", bind(id), into(rows), now;
    if (rows.empty()) return std::nullopt;
    return to_backup(rows.front());
  });
}

std::vector<Backup> StateDb::backups() {
  return impl_->guard(path_, "listing backups", [&](Session& s) {
    std::vector<BackupRow> rows;
    s << std::string(backup_cols) + "ORDER BY created_at DESC, rowid DESC", into(rows), now;
    std::vector<Backup> out;
    for (const auto& r : rows) out.push_back(to_backup(r));
    return out;
  });
}

void StateDb::backup_delete(const std::string& id) {
  std::size_t changed = impl_->guard(path_, "backup_delete", [&](Session& s) {
    Statement st(s);
    st << "DELETE FROM backups WHERE id = ?", bind(id);
    return st.execute();
  });
  if (changed == 0) fail(ExitCode::not_found, "no backup " + id + " in " + path_ + "; list them with airlock backups");
}

void StateDb::download_put(const Download& d) {
  impl_->guard(path_, "download_put", [&](Session& s) {
    s << "INSERT OR REPLACE INTO downloads (sha256, url, path, expected_length, bytes_done, etag, last_modified,"
         " updated_at) VALUES (?,?,?,?,?,?,?,?)",
        bind(d.sha256), bind(d.url), bind(d.path), bind(d.expected_length), bind(d.bytes_done), bind(d.etag),
        bind(d.last_modified), bind(utc_now()), now;
  });
}

std::optional<Download> StateDb::download_get(const std::string& sha256) {
  return impl_->guard(path_, "download_get", [&](Session& s) -> std::optional<Download> {
    std::vector<DownloadRow> rows;
    s << "SELECT url, path, expected_length, sha256, bytes_done, etag, last_modified, updated_at FROM downloads"
         " WHERE sha256 = ?",
        bind(sha256), into(rows), now;
    if (rows.empty()) return std::nullopt;
    const auto& r = rows.front();
    return Download{r.get<0>(), r.get<1>(), r.get<2>(), r.get<3>(), r.get<4>(), r.get<5>(), r.get<6>(), r.get<7>()};
  });
}

void StateDb::download_delete(const std::string& sha256) {
  impl_->guard(path_, "download_delete",
               [&](Session& s) { s << "DELETE FROM downloads WHERE sha256 = ?", bind(sha256), now; });
}

std::int64_t StateDb::hook_run_add(const HookRun& h) {
  return impl_->guard(path_, "adding a hook run", [&](Session& s) {
    std::int64_t id = 0;
    Transaction t(s);
    s << "INSERT INTO hook_runs (at, upgrade_id, event, hook, outcome, exit_code, duration_ms, output)"
         " VALUES (?,?,?,?,?,?,?,?)",
        bind(stamp(h.at)), bind(h.upgrade_id), bind(h.event), bind(h.hook), bind(h.outcome), bind(h.exit_code),
        bind(h.duration_ms), bind(h.output), now;
    s << "SELECT last_insert_rowid()", into(id), now;
    t.commit();
    return id;
  });
}

std::vector<HookRun> StateDb::hook_runs(const std::string& upgrade_id) {
  return impl_->guard(path_, "reading the hook runs", [&](Session& s) {
    std::vector<HookRunRow> rows;
    s << "SELECT id, at, upgrade_id, event, hook, outcome, exit_code, duration_ms, output FROM hook_runs"
         " WHERE upgrade_id = ? ORDER BY id",
        bind(upgrade_id), into(rows), now;
    std::vector<HookRun> out;
    for (const auto& r : rows)
      out.push_back(
          {r.get<0>(), r.get<1>(), r.get<2>(), r.get<3>(), r.get<4>(), r.get<5>(), r.get<6>(), r.get<7>(), r.get<8>()});
    return out;
  });
}

std::int64_t StateDb::audit_add(const AuditEntry& a) {
  return impl_->guard(path_, "adding an audit entry", [&](Session& s) {
    std::int64_t id = 0;
    Transaction t(s);
    s << "INSERT INTO audit (at, uid, user_name, sudo_user, action, from_version, to_version, outcome, bundle_sha256,"
         " backup_id, downtime_ms, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        bind(stamp(a.at)), bind(a.uid), bind(a.user_name), bind(a.sudo_user), bind(a.action), bind(a.from_version),
        bind(a.to_version), bind(a.outcome), bind(a.bundle_sha256), bind(a.backup_id), bind(a.downtime_ms),
        bind(a.detail), now;
    s << "SELECT last_insert_rowid()", into(id), now;
    t.commit();
    return id;
  });
}

std::vector<AuditEntry> StateDb::audit(int limit) { return audit_where("", limit); }

std::vector<AuditEntry> StateDb::audit_where(const std::string& where, int limit) {
  return impl_->guard(path_, "reading the audit log", [&](Session& s) {
    std::vector<AuditRow> rows;
    s << "SELECT id, at, uid, user_name, sudo_user, action, from_version, to_version, outcome, bundle_sha256,"
         " backup_id, downtime_ms, detail FROM audit " +
             where + " ORDER BY id DESC LIMIT ?",
        bind(limit), into(rows), now;
    std::vector<AuditEntry> out;
    for (const auto& r : rows)
      out.push_back({r.get<0>(), r.get<1>(), r.get<2>(), r.get<3>(), r.get<4>(), r.get<5>(), r.get<6>(), r.get<7>(),
                     r.get<8>(), r.get<9>(), r.get<10>(), r.get<11>(), r.get<12>()});
    return out;
  });
}

std::optional<AuditEntry> StateDb::audit_last_downtime() {
  auto rows = audit_where("WHERE downtime_ms > 0", 1);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

std::int64_t StateDb::audit_count(const std::string& action, const std::string& outcome) {
  return impl_->guard(path_, "counting audit rows", [&](Session& s) {
    std::int64_t n = 0;
    s << "SELECT count(*) FROM audit WHERE (? = '' OR action = ?) AND (? = '' OR outcome = ?)", bind(action),
        bind(action), bind(outcome), bind(outcome), into(n), now;
    return n;
  });
}

namespace {

// Facts are observations for the metrics (when a command last ran, what the last check found): they are written
// with synchronous = NORMAL, which in WAL mode commits without an fsync. A power loss may lose the newest facts,
// never corrupt the database (the WAL's checksums end it at the last whole frame), and the next durable write
// syncs them along with its own frames.
class NotDurable {
public:
  explicit NotDurable(Session& s) : s_(s) { exec(s_, "PRAGMA synchronous = NORMAL"); }
  ~NotDurable() {
    try {
      exec(s_, "PRAGMA synchronous = FULL");
    } catch (...) { // the next statement on this connection fails the same way and says so
    }
  }
  NotDurable(const NotDurable&) = delete;
  NotDurable& operator=(const NotDurable&) = delete;

private:
  Session& s_;
};

} // namespace

void StateDb::fact_set(const Fact& f) {
  impl_->guard(path_, "setting a fact", [&](Session& s) {
    NotDurable nd(s);
    s << "INSERT OR REPLACE INTO facts (name, number, text, at) VALUES (?, ?, ?, ?)", bind(f.name), bind(f.number),
        bind(f.text), bind(stamp(f.at)), now;
  });
}

void StateDb::fact_add(const std::string& name, std::int64_t delta) {
  impl_->guard(path_, "adding to a fact", [&](Session& s) {
    NotDurable nd(s);
    s << "INSERT INTO facts (name, number, at) VALUES (?, ?, ?)"
         " ON CONFLICT (name) DO UPDATE SET number = number + excluded.number, at = excluded.at",
        bind(name), bind(delta), bind(utc_now()), now;
  });
}

std::vector<Fact> StateDb::facts() {
  return impl_->guard(path_, "reading facts", [&](Session& s) {
    std::vector<Poco::Tuple<std::string, std::int64_t, std::string, std::string>> rows;
    s << "SELECT name, number, text, at FROM facts ORDER BY name", into(rows), now;
    std::vector<Fact> out;
    for (const auto& r : rows) out.push_back({r.get<0>(), r.get<1>(), r.get<2>(), r.get<3>()});
    return out;
  });
}

} // namespace airlock::state
