#include "state/db.hpp"
#include "state/lock.hpp"
#include "util/error.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

using airlock::Error;
using airlock::ExitCode;
using airlock::state::RunLock;
using airlock::state::StateDb;
namespace state = airlock::state;
namespace fs = std::filesystem;

namespace {

using testutil::error_of;

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// True when s has the shape of pat: '9' matches a digit, 'x' a lowercase hex digit, anything else itself.
bool like(const std::string& s, const std::string& pat) {
  if (s.size() != pat.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool digit = s[i] >= '0' && s[i] <= '9';
    if (pat[i] == '9' ? !digit : pat[i] == 'x' ? !(digit || (s[i] >= 'a' && s[i] <= 'f')) : s[i] != pat[i])
      return false;
  }
  return true;
}

// Runs fn in a forked child; returns the child's exit status and writes nothing to the parent's state.
template <class Fn> int in_child(Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Child body: try to take the lock; exit 0 on success, else the exit code, with the message in <dir>/child.txt.
int try_lock(const std::string& dir, int wait_seconds = 0) {
  try {
    RunLock lock(dir, wait_seconds);
    return 0;
  } catch (const Error& e) {
    std::ofstream(dir + "/child.txt") << e.what();
    return static_cast<int>(e.code());
  }
}

const std::vector<std::string> terminal = {"commit", "rollback", "staged"};

} // namespace

TEST_CASE("state::StateDb creates the v1 schema in WAL mode") {
  testutil::TempDir dir;
  StateDb db(dir.path().string());
  CHECK(db.path() == dir / "state.db");
  CHECK(db.user_version() == StateDb::schema_version);
  CHECK(StateDb::schema_version == 4);
  CHECK(db.journal_mode() == "wal");
  CHECK(db.backups().empty());
  CHECK(db.audit(10).empty());
  CHECK(!db.unfinished_upgrade(terminal));
}

TEST_CASE("state::StateDb keeps data across reopening") {
  testutil::TempDir dir;
  std::int64_t first = 0;
  {
    StateDb db(dir.path().string());
    first = db.install_add({0, "shop", "1.0.0", "2026-11-29T14:00:00Z", state::ReleaseKind::full, "aa", "up-1"});
    db.install_add({0, "shop", "1.1.0", "", state::ReleaseKind::patch, "bb", "up-2"});
    db.install_add({0, "blog", "3.0", "", state::ReleaseKind::adopted, "", ""});
  }
  StateDb db(dir.path().string());
  CHECK(db.user_version() == StateDb::schema_version);
  auto shop = db.installs("shop");
  REQUIRE(shop.size() == 2);
  CHECK(shop[0].version == "1.1.0");
  CHECK(shop[0].kind == state::ReleaseKind::patch);
  CHECK(like(shop[0].installed_at, "9999-99-99T99:99:99Z"));
  CHECK(shop[1].id == first);
  CHECK(shop[1].installed_at == "2026-11-29T14:00:00Z");
  CHECK(shop[1].bundle_sha256 == "aa");
  CHECK(shop[1].upgrade_id == "up-1");
  CHECK(db.installs("blog").front().kind == state::ReleaseKind::adopted);
  CHECK(db.installs("wiki").empty());
  CHECK(db.installs("shop").size() == 2);
}

TEST_CASE("state::StateDb migrates a v1 database to the current schema and keeps its rows") {
  testutil::TempDir dir;
  Poco::Data::SQLite::Connector::registerConnector(); // StateDb registers it too; this test opens SQLite first
  {
    Poco::Data::Session s("SQLite", dir / "state.db");
    // The v1 backups table, as airlock 0.1 created it, with one row.
    s << "CREATE TABLE backups (id TEXT PRIMARY KEY, path TEXT NOT NULL, app_version TEXT NOT NULL DEFAULT '',"
         " kind TEXT NOT NULL CHECK (kind IN ('manual', 'pre-upgrade')),"
         " status TEXT NOT NULL CHECK (status IN ('in-progress', 'complete', 'failed')),"
         " size INTEGER NOT NULL DEFAULT 0, sha256 TEXT NOT NULL DEFAULT '', file_count INTEGER NOT NULL DEFAULT 0,"
         " note TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL)",
        Poco::Data::Keywords::now;
    s << "INSERT INTO backups VALUES ('b1', '', '1.0', 'manual', 'complete', 10, 'ab', 3, 'old', "
         "'2026-01-01T00:00:00Z')",
        Poco::Data::Keywords::now;
    for (const char* t : {"installs (id INTEGER PRIMARY KEY, app TEXT NOT NULL, version TEXT NOT NULL, installed_at "
                          "TEXT NOT NULL, kind TEXT NOT NULL, bundle_sha256 TEXT NOT NULL DEFAULT '', upgrade_id "
                          "TEXT NOT NULL DEFAULT '')",
                          "journal (id INTEGER PRIMARY KEY, upgrade_id TEXT NOT NULL, step TEXT NOT NULL, status TEXT "
                          "NOT NULL, started_at TEXT NOT NULL, ended_at TEXT NOT NULL DEFAULT '', detail TEXT NOT "
                          "NULL DEFAULT '')",
                          "downloads (sha256 TEXT PRIMARY KEY, url TEXT NOT NULL, path TEXT NOT NULL, expected_length "
                          "INTEGER NOT NULL DEFAULT -1, bytes_done INTEGER NOT NULL DEFAULT 0, etag TEXT NOT NULL "
                          "DEFAULT '', last_modified TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL)",
                          "audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, uid INTEGER NOT NULL, user_name TEXT NOT "
                          "NULL DEFAULT '', sudo_user TEXT NOT NULL DEFAULT '', action TEXT NOT NULL, from_version "
                          "TEXT NOT NULL DEFAULT '', to_version TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL, "
                          "bundle_sha256 TEXT NOT NULL DEFAULT '', backup_id TEXT NOT NULL DEFAULT '', downtime_ms "
                          "INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '')"})
      s << std::string("CREATE TABLE ") + t, Poco::Data::Keywords::now;
    s << "PRAGMA user_version = 1", Poco::Data::Keywords::now;
  }
  StateDb db(dir.path().string());
  CHECK(db.user_version() == StateDb::schema_version);
  auto b = db.backup_get("b1");
  REQUIRE(b);
  CHECK(b->note == "old");
  CHECK(b->contents == "");
  state::Backup nb;
  nb.contents = "data site volumes/pgdata";
  CHECK(db.backup_get(db.backup_add(nb))->contents == "data site volumes/pgdata");
}

TEST_CASE("state::StateDb keeps facts: set replaces, add counts from 0, both stamp the time") {
  testutil::TempDir dir;
  StateDb db(dir.path().string());
  CHECK(db.facts().empty());
  db.fact_set({"update", 1, "1.1.0", ""});
  db.fact_set({"run/check", 10, "", "2026-11-29T14:00:00Z"});
  db.fact_add("downloaded_bytes", 1000);
  db.fact_add("downloaded_bytes", 24);
  db.fact_set({"update", 0, "", ""});
  auto f = db.facts();
  REQUIRE(f.size() == 3);
  CHECK(f[0].name == "downloaded_bytes");
  CHECK(f[0].number == 1024);
  CHECK(like(f[0].at, "9999-99-99T99:99:99Z"));
  CHECK(f[1].name == "run/check");
  CHECK(f[1].number == 10);
  CHECK(f[1].at == "2026-11-29T14:00:00Z");
  CHECK(f[2].name == "update");
  CHECK(f[2].number == 0);
  CHECK(f[2].text == "");
}

TEST_CASE("state::StateDb::audit_count matches action and outcome, empty matching any") {
  testutil::TempDir dir;
  StateDb db(dir.path().string());
  for (const auto& [action, outcome] : std::vector<std::pair<std::string, std::string>>{
           {"upgrade", "ok"}, {"upgrade", "rolled-back"}, {"import", "rolled-back"}, {"rollback", "ok"}}) {
    auto e = state::audit_who(action);
    e.outcome = outcome;
    db.audit_add(e);
  }
  CHECK(db.audit_count("", "rolled-back") == 2);
  CHECK(db.audit_count("rollback", "ok") == 1);
  CHECK(db.audit_count("upgrade", "") == 2);
  CHECK(db.audit_count("", "") == 4);
  CHECK(db.audit_count("stage", "") == 0);
}

TEST_CASE("state::StateDb refuses a database from a newer schema") {
  testutil::TempDir dir;
  { StateDb db(dir.path().string()); }
  {
    Poco::Data::Session s("SQLite", dir / "state.db");
    s << "PRAGMA user_version = 7", Poco::Data::Keywords::now;
  }
  Error e = error_of([&] { StateDb db(dir.path().string()); });
  CHECK(e.code() == ExitCode::failure);
  CHECK(std::string(e.what()) ==
        dir / "state.db" + " has schema version 7; this airlock knows up to 4: use a newer airlock");
  CHECK(fs::exists(dir / "state.db")); // refused, not moved
  for (const auto& name : names_in(dir.path())) CHECK(name.find("corrupt") == std::string::npos);
}

TEST_CASE("state::StateDb moves a garbage state.db aside and says so") {
  testutil::TempDir dir;
  testutil::write_file(dir / "state.db", "this is not a database, just some text that is long enough");
  testutil::write_file(dir / "state.db-wal", "stale wal");
  Error e = error_of([&] { StateDb db(dir.path().string()); });
  CHECK(e.code() == ExitCode::failure);
  auto names = names_in(dir.path());
  REQUIRE(names.size() == 2);
  REQUIRE(like(names[0], "state.db.corrupt-99999999T999999Z"));
  CHECK(names[1] == names[0] + "-wal");
  CHECK(testutil::read_file(dir / names[0]) == "this is not a database, just some text that is long enough");
  CHECK(std::string(e.what()) == dir / "state.db" + " is corrupt (not an SQLite database); it was moved to " +
                                     (dir / names[0]) +
                                     " and a fresh database will be created on the next run (restore the installs "
                                     "and backups records from there by hand if you need them)");
  // The next run starts fresh.
  StateDb db(dir.path().string());
  CHECK(db.user_version() == StateDb::schema_version);
}

TEST_CASE("state::StateDb detects a corrupted page and moves the database aside") {
  testutil::TempDir dir;
  {
    StateDb db(dir.path().string());
    for (int i = 0; i < 20; ++i) db.install_add({0, "shop", std::to_string(i), "", state::ReleaseKind::full, "", ""});
  }
  REQUIRE(fs::file_size(dir / "state.db") >= 3 * 4096);
  {
    std::mt19937 rng(42);
    std::string noise(4096, '\0');
    for (auto& c : noise) c = static_cast<char>(rng());
    std::fstream f(dir / "state.db", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096); // page 2
    f.write(noise.data(), static_cast<std::streamsize>(noise.size()));
  }
  Error e = error_of([&] { StateDb db(dir.path().string()); });
  CHECK(e.code() == ExitCode::failure);
  CHECK(std::string(e.what()).find(" is corrupt (") != std::string::npos);
  CHECK(std::string(e.what()).find("a fresh database will be created on the next run") != std::string::npos);
  CHECK(!fs::exists(dir / "state.db"));
  bool moved = false;
  for (const auto& name : names_in(dir.path())) moved |= like(name, "state.db.corrupt-99999999T999999Z");
  CHECK(moved);
}

TEST_CASE("state::StateDb detects a truncated database and moves it aside") {
  testutil::TempDir dir;
  {
    StateDb db(dir.path().string());
    db.install_add({0, "shop", "1", "", state::ReleaseKind::full, "", ""});
  }
  fs::resize_file(dir / "state.db", 4096 + 100); // page 1 and a torn piece of page 2
  Error e = error_of([&] { StateDb db(dir.path().string()); });
  CHECK(e.code() == ExitCode::failure);
  CHECK(std::string(e.what()).find(" is corrupt (") != std::string::npos);
  CHECK(!fs::exists(dir / "state.db"));
  CHECK(names_in(dir.path()).size() == 1);
}

TEST_CASE("state::StateDb journal begin/end and unfinished_upgrade") {
  testutil::TempDir dir;
  StateDb db(dir.path().string());
  auto fetch = db.journal_begin("up-1", "fetch", "1.0 -> 1.1");
  CHECK(db.unfinished_upgrade(terminal)->id == fetch);
  db.journal_end(fetch, state::StepStatus::done, "42 bytes");
  auto commit = db.journal_begin("up-1", "commit", "");
  CHECK(db.unfinished_upgrade(terminal)->step == "commit");
  db.journal_end(commit, state::StepStatus::done, "");
  CHECK(!db.unfinished_upgrade(terminal)); // commit done is terminal

  auto j = db.journal_for("up-1");
  REQUIRE(j.size() == 2);
  CHECK(j[0].step == "fetch");
  CHECK(j[0].status == state::StepStatus::done);
  CHECK(j[0].detail == "42 bytes");
  CHECK(!j[0].started_at.empty());
  CHECK(!j[0].ended_at.empty());
  CHECK(j[1].step == "commit");

  // A failed switch is unfinished until its rollback is done.
  auto sw = db.journal_begin("up-2", "switch", "");
  db.journal_end(sw, state::StepStatus::failed, "compose up exited 1");
  auto u = db.unfinished_upgrade(terminal);
  REQUIRE(u);
  CHECK(u->upgrade_id == "up-2");
  CHECK(u->status == state::StepStatus::failed);
  CHECK(u->detail == "compose up exited 1");
  auto rb = db.journal_begin("up-2", "rollback", "");
  CHECK(db.unfinished_upgrade(terminal)->id == rb);
  db.journal_end(rb, state::StepStatus::done, "");
  CHECK(!db.unfinished_upgrade(terminal));
  CHECK(db.journal_for("up-3").empty());

  CHECK(error_of([&] { db.journal_end(9999, state::StepStatus::done, ""); }).code() == ExitCode::not_found);
}

TEST_CASE("state::StateDb backups get distinct ids in the same second, newest first") {
  testutil::TempDir dir;
  StateDb db(dir.path().string());
  airlock::state::Backup b;
  b.path = "/var/lib/airlock/backups/a.tar.gz";
  b.app_version = "1.0";
  b.kind = state::BackupKind::pre_upgrade;
  b.status = state::BackupStatus::in_progress;
  b.created_at = "2026-11-29T14:00:00Z";
  std::set<std::string> ids;
  std::string last;
  for (int i = 0; i < 5; ++i) ids.insert(last = db.backup_add(b));
  CHECK(ids.size() == 5);
  for (const auto& id : ids) CHECK(like(id, "99999999T999999Z-xxxxxx"));
  auto list = db.backups();
  REQUIRE(list.size() == 5);
  CHECK(list[0].id == last); // same created_at: the later insert is newer

  db.backup_finish(last, state::BackupStatus::complete, 1234, "ab12", 7);
  auto got = db.backup_get(last);
  REQUIRE(got);
  CHECK(got->status == state::BackupStatus::complete);
  CHECK(got->size == 1234);
  CHECK(got->sha256 == "ab12");
  CHECK(got->file_count == 7);
  CHECK(got->kind == state::BackupKind::pre_upgrade);
  CHECK(got->path == b.path);
  CHECK(got->created_at == "2026-11-29T14:00:00Z");

  db.backup_delete(last);
  CHECK(!db.backup_get(last));
  CHECK(db.backups().size() == 4);
  CHECK(error_of([&] { db.backup_delete(last); }).code() == ExitCode::not_found);
  CHECK(error_of([&] { db.backup_finish(last, state::BackupStatus::complete, 0, "", 0); }).code() ==
        ExitCode::not_found);
}

TEST_CASE("state::StateDb downloads upsert, get and delete by sha256") {
  testutil::TempDir dir;
  StateDb db(dir.path().string());
  airlock::state::Download d{"https://x/b.zip", "/tmp/b.part", 1000, "cafe", 10, "\"e1\"", "Sun, 29 Nov 2026", ""};
  db.download_put(d);
  d.bytes_done = 500;
  db.download_put(d);
  auto got = db.download_get("cafe");
  REQUIRE(got);
  CHECK(got->bytes_done == 500);
  CHECK(got->expected_length == 1000);
  CHECK(got->etag == "\"e1\"");
  CHECK(got->url == "https://x/b.zip");
  CHECK(!got->updated_at.empty());
  db.download_delete("cafe");
  CHECK(!db.download_get("cafe"));
  db.download_delete("cafe"); // not an error
}

TEST_CASE("state::StateDb audit round trip, newest first") {
  testutil::TempDir dir;
  StateDb db(dir.path().string());
  airlock::state::AuditEntry a{
      0, "2026-11-29T14:00:00Z", 1000, "ops", "alice", "upgrade", "1.0", "1.1", "ok", "abcd", "b-1", 3500, "fine"};
  auto id1 = db.audit_add(a);
  a.at = "";
  a.action = "rollback";
  auto id2 = db.audit_add(a);
  CHECK(id2 > id1);
  auto all = db.audit(10);
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == id2);
  CHECK(all[0].action == "rollback");
  CHECK(!all[0].at.empty());
  const auto& r = all[1];
  CHECK(r.id == id1);
  CHECK(r.at == "2026-11-29T14:00:00Z");
  CHECK(r.uid == 1000);
  CHECK(r.user_name == "ops");
  CHECK(r.sudo_user == "alice");
  CHECK(r.from_version == "1.0");
  CHECK(r.to_version == "1.1");
  CHECK(r.outcome == "ok");
  CHECK(r.bundle_sha256 == "abcd");
  CHECK(r.backup_id == "b-1");
  CHECK(r.downtime_ms == 3500);
  CHECK(r.detail == "fine");
  CHECK(db.audit(1).size() == 1);
}

TEST_CASE("state::RunLock refuses a second holder with ExitCode::busy naming the PID") {
  testutil::TempDir dir;
  std::string d = dir.path().string();
  {
    RunLock lock(d);
    CHECK(lock.path() == dir / "airlock.lock");
    CHECK(testutil::read_file(dir / "airlock.lock") == std::to_string(::getpid()) + "\n");
    CHECK(in_child([&] { return try_lock(d); }) == static_cast<int>(ExitCode::busy));
    CHECK(testutil::read_file(dir / "child.txt") ==
          "another airlock (PID " + std::to_string(::getpid()) + ") is running on " + d + "; wait for it to finish");
    // A second RunLock in the same process is refused too.
    CHECK(error_of([&] { RunLock again(d); }).code() == ExitCode::busy);
  }
  // Released by the destructor.
  CHECK(in_child([&] { return try_lock(d); }) == 0);
  RunLock lock(d);
  CHECK(error_of([&] { RunLock missing(d + "/no-such-dir"); }).code() == ExitCode::failure);
}

TEST_CASE("state::RunLock waits for the holder when asked to") {
  testutil::TempDir dir;
  std::string d = dir.path().string();
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    RunLock lock(d);
    char c = 'x';
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    ::usleep(300 * 1000);
    ::_exit(0);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  CHECK(error_of([&] { RunLock now(d); }).code() == ExitCode::busy);
  RunLock lock(d, 10); // the child exits after 0.3 s
  CHECK(testutil::read_file(dir / "airlock.lock") == std::to_string(::getpid()) + "\n");
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(ready[0]);
  ::close(ready[1]);
}
