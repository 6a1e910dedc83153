#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "backup/backup.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace fs = std::filesystem;
using airlock::Error;
using airlock::ExitCode;
using airlock::archive::Entry;
namespace backup = airlock::backup;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

void sh(const std::string& cmd) { REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd); }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Everything restore must reproduce, per path relative to the app dir: type, mode, owner, mtime,
// content hash or link target, and which earlier path shares the inode.
std::map<std::string, std::string> snapshot(const std::string& app) {
  std::map<std::string, std::string> out;
  std::map<std::pair<dev_t, ino_t>, std::string> inodes;
  std::vector<std::string> paths = {"current"};
  for (const char* top : {"data", "site"}) {
    paths.push_back(top);
    for (auto& e : fs::recursive_directory_iterator(app + "/" + top))
      paths.push_back(fs::relative(e.path(), app).string());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& rel : paths) {
    const std::string p = app + "/" + rel;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) continue;
    std::string v = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) +
                    " t" + std::to_string(st.st_mtim.tv_sec);
    if (S_ISREG(st.st_mode)) v += " sha " + airlock::util::sha256_file_hex(p);
    if (S_ISLNK(st.st_mode)) v += " -> " + fs::read_symlink(p).string();
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto [it, first] = inodes.try_emplace({st.st_dev, st.st_ino}, rel);
      v += " inode-of " + it->second;
    }
    out[rel] = v;
  }
  return out;
}

void set_mtimes(const std::string& app) {
  std::vector<std::string> paths = {app + "/current"};
  for (const char* top : {"data", "site"}) {
    paths.push_back(app + "/" + top);
    for (auto& e : fs::recursive_directory_iterator(app + "/" + top)) paths.push_back(e.path().string());
  }
  std::sort(paths.rbegin(), paths.rend()); // children before their parents
  std::int64_t t = 1700000000;
  for (const auto& p : paths) {
    timespec ts[2] = {{t, 0}, {t, 0}};
    t += 17;
    REQUIRE(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
  }
}

// A site with everything a backup must keep.
void make_site(const std::string& app) {
  fs::create_directories(app + "/data/db/nested/deeper");
  fs::create_directories(app + "/data/empty");
  fs::create_directories(app + "/site");
  fs::create_directories(app + "/releases/1.0");
  testutil::write_file(app + "/data/db/nested/deeper/file.txt", "deep\n");
  testutil::write_file(app + "/data/secret.key", "key");
  testutil::write_file(app + "/data/big.bin", random_bytes(2 << 20, 1));
  testutil::write_file(app + "/data/r\xc3\xa9sum\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac.txt", "unicode");
  testutil::write_file(app + "/data/hard1", "shared inode");
  testutil::write_file(app + "/data/db/owned", "owned");
  testutil::write_file(app + "/site/.env", "PASSWORD=x\n");
  testutil::write_file(app + "/site/compose.override.yml", "services: {}\n");
  fs::create_hard_link(app + "/data/hard1", app + "/site/hard2");
  fs::create_hard_link(app + "/data/hard1", app + "/data/db/hard3");
  fs::create_symlink("db/nested", app + "/data/link");
  fs::create_symlink("releases/1.0", app + "/current");
  ::chmod((app + "/data/secret.key").c_str(), 0600);
  ::chmod((app + "/site/.env").c_str(), 0600);
  ::chmod((app + "/data/db").c_str(), 0750);
  if (::geteuid() == 0) REQUIRE(::lchown((app + "/data/db/owned").c_str(), 1234, 5678) == 0);
  set_mtimes(app);
}

// A different, smaller site, to be replaced by a restore.
void make_other_site(const std::string& app) {
  fs::create_directories(app + "/data");
  fs::create_directories(app + "/site");
  testutil::write_file(app + "/data/live.txt", "live data");
  testutil::write_file(app + "/site/.env", "OTHER=1\n");
  fs::create_symlink("releases/0.9", app + "/current");
}

bool has_leftovers(const std::string& app) {
  for (auto& e : fs::directory_iterator(app)) {
    auto n = e.path().filename().string();
    if (n.rfind(".restore-", 0) == 0 || n.find(".old-") != std::string::npos) return true;
  }
  return false;
}

std::string sha256sum(const std::string& path) {
  std::string out;
  FILE* p = ::popen(("sha256sum '" + path + "'").c_str(), "r");
  REQUIRE(p);
  char buf[128];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ::pclose(p);
  return out.substr(0, 64);
}

// Writes a .tar.gz holding `entries` (files get `content`) and returns its SHA-256.
std::string write_archive(const std::string& path, const std::vector<Entry>& entries) {
  {
    airlock::util::AtomicFile f(path);
    airlock::archive::GzipSink gz(f, 1);
    airlock::archive::TarWriter tar(gz);
    for (auto e : entries) {
      if (e.type == Entry::Type::file) {
        std::string content = "x";
        e.size = content.size();
        struct One : airlock::util::Source {
          std::string s;
          std::size_t read(void* buf, std::size_t n) override {
            n = std::min(n, s.size());
            std::copy_n(s.data(), n, static_cast<char*>(buf));
            s.erase(0, n);
            return n;
          }
        } src;
        src.s = content;
        tar.add(e, &src);
      } else {
        tar.add(e, nullptr);
      }
    }
    tar.finish();
    gz.finish();
    f.commit();
  }
  return airlock::util::sha256_file_hex(path);
}

Entry entry(const std::string& path, Entry::Type type, const std::string& target = "") {
  Entry e;
  e.path = path;
  e.type = type;
  e.mode = type == Entry::Type::directory ? 0755 : 0644;
  e.link_target = target;
  return e;
}

} // namespace

TEST_CASE("backup::create writes an archive that GNU tar extracts exactly") {
  testutil::TempDir tmp;
  make_site(tmp / "app");
  auto r = backup::create(tmp / "app", tmp / "b.tar.gz", 6);
  CHECK(r.path == tmp / "b.tar.gz");
  CHECK(r.size == fs::file_size(tmp / "b.tar.gz"));
  CHECK(r.sha256 == sha256sum(tmp / "b.tar.gz"));
  CHECK(r.file_count == 18); // data/ and its 12 entries, site/ and its 3, current
  const auto perms = fs::status(tmp / "b.tar.gz").permissions() & fs::perms::all;
  CHECK((perms == (fs::perms::owner_read | fs::perms::owner_write)));
  fs::create_directories(tmp / "x");
  sh("tar -xzf '" + tmp / "b.tar.gz" + "' -C '" + tmp / "x" + "'");
  CHECK(snapshot(tmp / "x") == snapshot(tmp / "app"));
  CHECK(!fs::exists(tmp / "x/releases"));
  if (::geteuid() == 0) {
    struct stat st {};
    REQUIRE(::lstat((tmp / "x/data/db/owned").c_str(), &st) == 0);
    CHECK(st.st_uid == 1234);
    CHECK(st.st_gid == 5678);
  }
  CHECK_NOTHROW(backup::verify(tmp / "b.tar.gz", r.sha256));
}

TEST_CASE("backup::create refuses a device node before writing anything (restore could not put it back)") {
  if (::geteuid() != 0) return; // mknod needs root
  testutil::TempDir tmp;
  make_site(tmp / "app");
  const std::string dev = tmp / "app/data/db/null";
  if (::mknod(dev.c_str(), S_IFCHR | 0600, makedev(1, 3)) != 0) return; // no CAP_MKNOD here
  try {
    backup::create(tmp / "app", tmp / "b.tar.gz", 6);
    FAIL("backup::create accepted a device node");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::bad_input);
    CHECK(std::string(e.what()).find(dev + " is a device node") == 0);
  }
  CHECK(!fs::exists(tmp / "b.tar.gz"));
  fs::remove(dev);
  CHECK_NOTHROW(backup::create(tmp / "app", tmp / "b.tar.gz", 6));
}

TEST_CASE("backup::restore reproduces the site from our archive and from a GNU tar archive") {
  testutil::TempDir tmp;
  make_site(tmp / "app");
  const auto want = snapshot(tmp / "app");
  auto r = backup::create(tmp / "app", tmp / "b.tar.gz", 1);
  sh("tar -czf '" + tmp / "g.tar.gz" + "' -C '" + tmp / "app" + "' data site current");

  SUBCASE("ours") {
    make_other_site(tmp / "app2");
    backup::restore(tmp / "app2", tmp / "b.tar.gz", lower(r.sha256));
    CHECK(snapshot(tmp / "app2") == want);
    CHECK(!has_leftovers(tmp / "app2"));
  }
  SUBCASE("GNU tar's") {
    make_other_site(tmp / "app3");
    backup::restore(tmp / "app3", tmp / "g.tar.gz", airlock::util::sha256_file_hex(tmp / "g.tar.gz"));
    CHECK(snapshot(tmp / "app3") == want);
    CHECK(!has_leftovers(tmp / "app3"));
  }
  SUBCASE("into an app dir without data, site or current") {
    fs::create_directories(tmp / "app4");
    backup::restore(tmp / "app4", tmp / "b.tar.gz", r.sha256);
    CHECK(snapshot(tmp / "app4") == want);
  }
}

TEST_CASE("backup::verify and restore refuse a damaged archive and leave the live site untouched") {
  testutil::TempDir tmp;
  make_site(tmp / "app");
  auto r = backup::create(tmp / "app", tmp / "b.tar.gz", 6);
  std::string bytes = testutil::read_file(tmp / "b.tar.gz");
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
  testutil::write_file(tmp / "b.tar.gz", bytes);
  try {
    backup::verify(tmp / "b.tar.gz", r.sha256);
    FAIL("verify accepted a damaged archive");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::verify_failed);
    CHECK(std::string(e.what()).find("backup " + tmp / "b.tar.gz" + " is damaged") == 0);
    CHECK(std::string(e.what()).find("do not restore it") != std::string::npos);
  }
  make_other_site(tmp / "live");
  const auto before = snapshot(tmp / "live");
  try {
    backup::restore(tmp / "live", tmp / "b.tar.gz", r.sha256);
    FAIL("restore accepted a damaged archive");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::verify_failed);
  }
  CHECK(snapshot(tmp / "live") == before);
  CHECK(testutil::read_file(tmp / "live/data/live.txt") == "live data");
  CHECK(!has_leftovers(tmp / "live"));
  CHECK_THROWS_AS(backup::verify(tmp / "missing.tar.gz", r.sha256), Error);
}

TEST_CASE("backup::restore refuses entries outside data/ and site/") {
  testutil::TempDir tmp;
  using T = Entry::Type;
  const Entry data = entry("data/", T::directory), site = entry("site/", T::directory);
  struct Case {
    const char* name;
    std::vector<Entry> entries;
  };
  Entry dev = entry("data/null", T::char_device);
  dev.dev_major = 1;
  dev.dev_minor = 3;
  const std::vector<Case> cases = {
      {"dot-dot", {data, site, entry("../x", T::file)}},
      {"dot-dot inside", {data, site, entry("data/../../x", T::file)}},
      {"absolute", {data, site, entry(tmp / "x", T::file)}},
      {"outside", {data, site, entry("etc/x", T::file)}},
      {"current as a file", {data, site, entry("current", T::file)}},
      {"device", {data, site, dev}},
      {"through a symlink", {data, site, entry("data/l", T::symlink, tmp.path().string()), entry("data/l/x", T::file)}},
      {"hard link outside", {data, site, entry("data/h", T::hardlink, "../x")}},
      {"no site", {data, entry("data/f", T::file)}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string app = tmp / (std::string("app-") + c.name);
    make_other_site(app);
    const auto before = snapshot(app);
    const std::string arch = tmp / "evil.tar.gz";
    std::string sha = write_archive(arch, c.entries);
    try {
      backup::restore(app, arch, sha);
      FAIL("restore accepted it");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::bad_input);
    }
    CHECK(snapshot(app) == before);
    CHECK(!has_leftovers(app));
    CHECK(!fs::exists(tmp / "x"));
    CHECK(!fs::exists(tmp.path().parent_path() / "x"));
  }
}

TEST_CASE("backup::restore refuses to switch a live current that is a directory") {
  testutil::TempDir tmp;
  make_site(tmp / "app");
  auto r = backup::create(tmp / "app", tmp / "b.tar.gz", 1);
  fs::create_directories(tmp / "live/data");
  fs::create_directories(tmp / "live/site");
  fs::create_directories(tmp / "live/current");
  testutil::write_file(tmp / "live/data/live.txt", "live data");
  try {
    backup::restore(tmp / "live", tmp / "b.tar.gz", r.sha256);
    FAIL("restore replaced a directory");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::failure);
    CHECK(std::string(e.what()).find(tmp / "live/current") == 0);
  }
  CHECK(testutil::read_file(tmp / "live/data/live.txt") == "live data");
  CHECK(fs::is_directory(tmp / "live/current"));
  CHECK(!has_leftovers(tmp / "live"));
}

TEST_CASE("backup::create twice in the same second to different paths") {
  testutil::TempDir tmp;
  make_site(tmp / "app");
  auto a = backup::create(tmp / "app", tmp / "a.tar.gz", 1);
  auto b = backup::create(tmp / "app", tmp / "b.tar.gz", 1);
  CHECK(a.sha256 == b.sha256); // the same tree gives the same bytes
  CHECK_NOTHROW(backup::verify(tmp / "a.tar.gz", a.sha256));
  CHECK_NOTHROW(backup::verify(tmp / "b.tar.gz", b.sha256));
  CHECK(fs::directory_iterator(tmp.path()) != fs::directory_iterator());
  for (auto& e : fs::directory_iterator(tmp.path())) CHECK(e.path().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("backup::create refuses when the free space is below the tree size") {
  testutil::TempDir tmp;
  make_site(tmp / "app");
  // Fault injector: the disk probe says 1 MiB is free.
  auto fault = [](const std::string&) -> std::uint64_t { return 1 << 20; };
  try {
    backup::create(tmp / "app", tmp / "b.tar.gz", 6, fault);
    FAIL("create ignored the free space");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::failure);
    CHECK(std::string(e.what()) == "backup " + tmp / "b.tar.gz" + " needs about 3 MiB in " + tmp.path().string() +
                                       ", 1 MiB free; free space or lower retention");
  }
  CHECK(!fs::exists(tmp / "b.tar.gz"));
}

TEST_CASE("backup::create on a full disk fails naming the file and leaves nothing behind") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root to mount a tmpfs");
    return;
  }
  testutil::TempDir tmp;
  fs::create_directories(tmp / "app/data");
  fs::create_directories(tmp / "app/site");
  testutil::write_file(tmp / "app/data/random.bin", random_bytes(3 << 20, 2));
  fs::create_directories(tmp / "mnt");
  if (::mount("tmpfs", (tmp / "mnt").c_str(), "tmpfs", 0, "size=1m") != 0) {
    MESSAGE("skipped: cannot mount a tmpfs here");
    return;
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount(dir.c_str()); }
  } unmount{tmp / "mnt"};
  // Fault injector: the disk probe says 1 TiB is free, so the real ENOSPC is met while writing.
  auto fault = [](const std::string&) -> std::uint64_t { return std::uint64_t{1} << 40; };
  try {
    backup::create(tmp / "app", tmp / "mnt/b.tar.gz", 1, fault);
    FAIL("create succeeded on a full disk");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::failure);
    CHECK(lower(e.what()).find("no space") != std::string::npos);
    CHECK(std::string(e.what()).find(tmp / "mnt/b.tar.gz") != std::string::npos);
  }
  CHECK(fs::is_empty(tmp / "mnt"));
}

TEST_CASE("backup::recover finishes or undoes an interrupted swap") {
  testutil::TempDir tmp;
  const std::string app = tmp / "app";
  // Each case builds the state a crash would leave; "new" must win once .complete is written.
  auto live = [&](const std::string& dir, const std::string& v) {
    fs::create_directories(dir);
    testutil::write_file(dir + "/v", v);
  };
  auto v = [&](const char* name) { return testutil::read_file(app + "/" + name + "/v"); };
  struct Case {
    const char* name;
    std::function<void()> build;
    const char* data;
    const char* site;
  };
  const std::string r = app + "/.restore-42";
  const std::vector<Case> cases = {
      {"extraction cut short",
       [&] { live(app + "/data", "old"), live(app + "/site", "old"), live(r + "/data", "new"); }, "old", "old"},
      {"complete, swap not begun",
       [&] {
         live(app + "/data", "old"), live(app + "/site", "old"), live(r + "/data", "new"), live(r + "/site", "new");
         testutil::write_file(r + "/.complete", "");
       },
       "new", "new"},
      {"data moved aside",
       [&] {
         live(app + "/data.old-42", "old"), live(app + "/site", "old"), live(r + "/data", "new"),
             live(r + "/site", "new");
         testutil::write_file(r + "/.complete", "");
       },
       "new", "new"},
      {"data swapped, site not",
       [&] {
         live(app + "/data.old-42", "old"), live(app + "/data", "new"), live(app + "/site", "old"),
             live(r + "/site", "new");
         testutil::write_file(r + "/.complete", "");
       },
       "new", "new"},
      {"both swapped, old not removed",
       [&] {
         live(app + "/data.old-42", "old"), live(app + "/data", "new"), live(app + "/site.old-42", "old");
         live(app + "/site", "new");
       },
       "new", "new"},
      {"live missing, one old", [&] { live(app + "/data.old-7", "old"), live(app + "/site", "old"); }, "old", "old"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    fs::remove_all(app);
    fs::create_directories(app);
    c.build();
    backup::recover(app);
    CHECK(v("data") == c.data);
    CHECK(v("site") == c.site);
    CHECK(!has_leftovers(app));
    CHECK_NOTHROW(backup::recover(app)); // idempotent
  }
  fs::remove_all(app);
  live(app + "/data.old-1", "a"), live(app + "/data.old-2", "b"), live(app + "/site", "s");
  CHECK_THROWS_AS(backup::recover(app), Error);
}
