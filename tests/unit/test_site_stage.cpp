#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "release/manifest.hpp"
#include "site/identity.hpp"
#include "site/stage.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using airlock::Error;
using airlock::ExitCode;
using airlock::archive::Entry;
using airlock::release::FileEntry;
using airlock::release::Manifest;
namespace site = airlock::site;

namespace {

class StringSink : public airlock::util::Sink {
public:
  void write(const void* data, std::size_t size) override { s.append(static_cast<const char*>(data), size); }
  using Sink::write;
  std::string s;
};

class StringSource : public airlock::util::Source {
public:
  explicit StringSource(std::string s) : s_(std::move(s)) {}
  std::size_t read(void* buf, std::size_t size) override {
    std::size_t n = std::min(size, s_.size() - pos_);
    std::memcpy(buf, s_.data() + pos_, n);
    pos_ += n;
    return n;
  }

private:
  std::string s_;
  std::size_t pos_ = 0;
};

// Proves that a call did not read its archive.
class UnreadSource : public airlock::util::Source {
public:
  std::size_t read(void*, std::size_t) override { throw std::logic_error("the archive was read"); }
};

// One entry of a test tree: 'f' file (data = content), 'd' directory, 'l' symlink (data = target).
struct Item {
  std::string path;
  char kind;
  std::string data;
  std::uint32_t mode;
};

Entry to_entry(const Item& it) {
  Entry e;
  e.path = it.path;
  e.mode = it.mode;
  e.mtime = 1700000000;
  if (it.kind == 'd') e.type = Entry::Type::directory;
  if (it.kind == 'l') {
    e.type = Entry::Type::symlink;
    e.link_target = it.data;
    e.mode = 0777;
  }
  if (it.kind == 'f') e.size = it.data.size();
  return e;
}

// A tar.gz of raw entries with their file contents.
std::string targz(const std::vector<std::pair<Entry, std::string>>& entries) {
  StringSink out;
  airlock::archive::GzipSink gz(out, 6);
  airlock::archive::TarWriter tar(gz);
  for (const auto& [e, data] : entries) {
    StringSource content(data);
    tar.add(e, e.type == Entry::Type::file ? &content : nullptr);
  }
  tar.finish();
  gz.finish();
  return out.s;
}

std::string targz(const std::vector<Item>& items) {
  std::vector<std::pair<Entry, std::string>> entries;
  for (const auto& it : items) entries.emplace_back(to_entry(it), it.kind == 'f' ? it.data : "");
  return targz(entries);
}

FileEntry to_file_entry(const Item& it) {
  FileEntry f;
  f.path = it.path;
  f.mode = it.mode;
  if (it.kind == 'f') {
    f.size = it.data.size();
    f.sha256 = airlock::util::sha256_hex(it.data);
  } else if (it.kind == 'd') {
    f.type = FileEntry::Type::dir;
  } else {
    f.type = FileEntry::Type::symlink;
    f.target = it.data;
  }
  return f;
}

Manifest manifest(const std::string& version, const std::vector<Item>& items) {
  Manifest m;
  m.app = "demo";
  m.version = version;
  m.arch = "x86_64";
  for (const auto& it : items) m.files.push_back(to_file_entry(it));
  return m;
}

const std::vector<Item> v1_items = {
    {"app", 'd', "", 0755},
    {"app/main.py", 'f', "print(1)\n", 0644},
    {"app/run.sh", 'f', "#!/bin/sh\nexec python3 main.py\n", 0755},
    {"app/latest", 'l', "main.py", 0},
    {"conf", 'd', "", 0750},
    {"conf/a.ini", 'f', "a=1\n", 0600},
    {"docker-compose.yml", 'f', "services: {}\n", 0644},
    {"old.txt", 'f', "old\n", 0644},
    {"olddir", 'd', "", 0755},
    {"olddir/x", 'f', "x\n", 0644},
};

// The tree v2 = v1 - old.txt - olddir + changes; the patch ships only what changed.
const std::vector<Item> v2_items = {
    {"app", 'd', "", 0755},
    {"app/main.py", 'f', "print(2)\n", 0644},
    {"app/run.sh", 'f', "#!/bin/sh\nexec python3 main.py\n", 0755},
    {"app/latest", 'l', "run.sh", 0},
    {"app/new.txt", 'f', "new\n", 0640},
    {"conf", 'd', "", 0750},
    {"conf/a.ini", 'f', "a=1\n", 0600},
    {"conf/d", 'd', "", 0700},
    {"conf/d/b.ini", 'f', "b=2\n", 0600},
    {"docker-compose.yml", 'f', "services: {web: {}}\n", 0644},
};
const std::vector<Item> patch_items = {
    {"app/main.py", 'f', "print(2)\n", 0644}, {"app/latest", 'l', "run.sh", 0},
    {"app/new.txt", 'f', "new\n", 0640},      {"conf/d", 'd', "", 0700},
    {"conf/d/b.ini", 'f', "b=2\n", 0600},     {"docker-compose.yml", 'f', "services: {web: {}}\n", 0644},
};

Manifest v2_patch_manifest() {
  Manifest m = manifest("2.0", v2_items);
  m.is_patch = true;
  m.base_version = "1.0";
  m.deletes = {"olddir", "old.txt", "olddir/x"};
  return m;
}

struct Site {
  testutil::TempDir tmp;
  std::string app = tmp / "app", releases = tmp / "app/releases";
  Site() { fs::create_directories(releases); }
  void stage_v1() {
    StringSource src(targz(v1_items));
    site::stage_full(releases, manifest("1.0", v1_items), src);
  }
  void stage_v2() {
    StringSource src(targz(patch_items));
    site::stage_patch(releases, "1.0", v2_patch_manifest(), src);
  }
};

std::uint32_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return static_cast<std::uint32_t>(st.st_mode) & 07777;
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_ino;
}

// Checks that calling `f` throws Error(code) whose message contains `needle`.
template <typename F> void check_throws(F f, ExitCode code, const std::string& needle) {
  try {
    f();
    FAIL("no exception; expected one containing: " << needle);
  } catch (const Error& e) {
    CHECK(e.code() == code);
    CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
  }
}

// Stages raw archive entries against a manifest of `listed` and expects a bad_input refusal with `needle`,
// leaving neither releases/9.9 nor releases/9.9.partial.
void check_refused(const std::vector<std::pair<Entry, std::string>>& entries, const std::vector<Item>& listed,
                   const std::string& needle) {
  Site s;
  StringSource src(targz(entries));
  check_throws([&] { site::stage_full(s.releases, manifest("9.9", listed), src); }, ExitCode::bad_input, needle);
  CHECK_FALSE(fs::exists(fs::symlink_status(s.releases + "/9.9")));
  CHECK_FALSE(fs::exists(fs::symlink_status(s.releases + "/9.9.partial")));
}

std::pair<Entry, std::string> raw(const Item& it) { return {to_entry(it), it.kind == 'f' ? it.data : ""}; }

} // namespace

TEST_CASE("site::stage_full extracts a release tree that verifies") {
  Site s;
  s.stage_v1();
  std::string r = s.releases + "/1.0";
  CHECK(testutil::read_file(r + "/app/main.py") == "print(1)\n");
  CHECK(mode_of(r + "/app/run.sh") == 0755);
  CHECK(mode_of(r + "/conf") == 0750);
  CHECK(mode_of(r + "/conf/a.ini") == 0600);
  CHECK(fs::read_symlink(r + "/app/latest") == "main.py");
  CHECK_FALSE(fs::exists(s.releases + "/1.0.partial"));
  site::verify_tree(r, manifest("1.0", v1_items));
}

TEST_CASE("site::stage_full is a no-op when the release is already staged, and refuses a damaged one") {
  Site s;
  s.stage_v1();
  ino_t before = inode_of(s.releases + "/1.0/app/main.py");
  UnreadSource unread;
  site::stage_full(s.releases, manifest("1.0", v1_items), unread);
  CHECK(inode_of(s.releases + "/1.0/app/main.py") == before);

  testutil::write_file(s.releases + "/1.0/app/main.py", "print(6)\n");
  check_throws([&] { site::stage_full(s.releases, manifest("1.0", v1_items), unread); }, ExitCode::failure,
               "1.0 already exists but does not match");
}

TEST_CASE("site::stage_full removes a leftover .partial from a crash") {
  Site s;
  fs::create_directories(s.releases + "/1.0.partial/app");
  testutil::write_file(s.releases + "/1.0.partial/app/junk", "half");
  s.stage_v1();
  CHECK_FALSE(fs::exists(s.releases + "/1.0.partial"));
  CHECK_FALSE(fs::exists(s.releases + "/1.0/app/junk"));
  site::verify_tree(s.releases + "/1.0", manifest("1.0", v1_items));
}

TEST_CASE("site::stage_full accepts an archive written by GNU tar") {
  Site s;
  std::string src = s.tmp / "src";
  fs::create_directories(src + "/app/sub");
  testutil::write_file(src + "/app/sub/f.txt", "hello\n");
  testutil::write_file(src + "/compose.yml", "services: {}\n");
  fs::create_symlink("sub/f.txt", src + "/app/link");
  REQUIRE(::chmod((src + "/app").c_str(), 0755) == 0);
  REQUIRE(::chmod((src + "/app/sub").c_str(), 0700) == 0);
  REQUIRE(::chmod((src + "/app/sub/f.txt").c_str(), 0640) == 0);
  REQUIRE(::chmod((src + "/compose.yml").c_str(), 0644) == 0);
  std::string archive = s.tmp / "app.tar.gz";
  REQUIRE(std::system(("tar -czf '" + archive + "' -C '" + src + "' .").c_str()) == 0);

  std::vector<Item> items = {{"app", 'd', "", 0755},
                             {"app/sub", 'd', "", 0700},
                             {"app/sub/f.txt", 'f', "hello\n", 0640},
                             {"app/link", 'l', "sub/f.txt", 0},
                             {"compose.yml", 'f', "services: {}\n", 0644}};
  airlock::util::FileSource in(archive);
  site::stage_full(s.releases, manifest("3.1", items), in);
  CHECK(testutil::read_file(s.releases + "/3.1/app/link") == "hello\n");
  CHECK(mode_of(s.releases + "/3.1/app/sub") == 0700);
}

TEST_CASE("site::stage_patch builds exactly the new tree and leaves the base untouched") {
  Site s;
  s.stage_v1();
  s.stage_v2();
  std::string b = s.releases + "/1.0", r = s.releases + "/2.0";
  site::verify_tree(r, v2_patch_manifest());
  CHECK(testutil::read_file(r + "/app/main.py") == "print(2)\n");
  CHECK(testutil::read_file(r + "/app/new.txt") == "new\n");
  CHECK(mode_of(r + "/app/new.txt") == 0640);
  CHECK(mode_of(r + "/conf/d") == 0700);
  CHECK(fs::read_symlink(r + "/app/latest") == "run.sh");
  CHECK_FALSE(fs::exists(r + "/old.txt"));
  CHECK_FALSE(fs::exists(r + "/olddir"));
  CHECK_FALSE(fs::exists(s.releases + "/2.0.partial"));

  // unchanged files are shared, changed ones are new files; the base still verifies
  CHECK(inode_of(r + "/app/run.sh") == inode_of(b + "/app/run.sh"));
  CHECK(inode_of(r + "/conf/a.ini") == inode_of(b + "/conf/a.ini"));
  CHECK(inode_of(r + "/app/main.py") != inode_of(b + "/app/main.py"));
  CHECK(testutil::read_file(b + "/app/main.py") == "print(1)\n");
  CHECK(testutil::read_file(b + "/docker-compose.yml") == "services: {}\n");
  CHECK(fs::read_symlink(b + "/app/latest") == "main.py");
  site::verify_tree(b, manifest("1.0", v1_items));

  UnreadSource unread; // idempotent
  site::stage_patch(s.releases, "1.0", v2_patch_manifest(), unread);
}

TEST_CASE("site::stage_patch refuses a patch for another base, and a missing base") {
  Site s;
  s.stage_v1();
  UnreadSource unread;
  Manifest m = v2_patch_manifest();
  m.base_version = "0.9";
  check_throws([&] { site::stage_patch(s.releases, "1.0", m, unread); }, ExitCode::usage,
               "is a patch from 0.9 but the installed version is 1.0");
  check_throws([&] { site::stage_patch(s.releases, "1.0", manifest("2.0", v2_items), unread); }, ExitCode::usage,
               "is not a patch");
  m.base_version = "0.9";
  check_throws([&] { site::stage_patch(s.releases, "0.9", m, unread); }, ExitCode::not_found, "is not staged");
  CHECK_FALSE(fs::exists(s.releases + "/2.0"));
}

TEST_CASE("site::stage_patch refuses an entry that goes through a symlink of the base tree") {
  Site s;
  s.stage_v1();
  Manifest m = v2_patch_manifest();
  m.files.push_back(to_file_entry({"app/latest/evil", 'f', "x", 0644}));
  StringSource src(targz({{"app/latest/evil", 'f', "x", 0644}}));
  check_throws([&] { site::stage_patch(s.releases, "1.0", m, src); }, ExitCode::bad_input,
               "goes through the symlink 'app/latest'");
  CHECK_FALSE(fs::exists(s.releases + "/2.0"));
  CHECK_FALSE(fs::exists(s.releases + "/2.0.partial"));
  site::verify_tree(s.releases + "/1.0", manifest("1.0", v1_items));
}

TEST_CASE("site::stage_full refuses unsafe entries with bad_input and leaves nothing behind") {
  std::vector<Item> ok = {{"a", 'f', "a", 0644}};
  SUBCASE("..") { check_refused({raw({"../evil", 'f', "x", 0644})}, ok, "'../evil' has a '..' component"); }
  SUBCASE("absolute path") { check_refused({raw({"/etc/evil", 'f', "x", 0644})}, ok, "is an absolute path"); }
  SUBCASE("empty component") { check_refused({raw({"a//b", 'f', "x", 0644})}, ok, "not a safe relative path"); }
  SUBCASE("symlink escaping with ../..") {
    check_refused({raw({"d", 'd', "", 0755}), raw({"d/l", 'l', "../../etc", 0})},
                  {{"d", 'd', "", 0755}, {"d/l", 'l', "../../etc", 0}},
                  "'d/l' is a symlink to '../../etc', which leaves");
  }
  SUBCASE("absolute symlink") {
    check_refused({raw({"l", 'l', "/etc/passwd", 0})}, {{"l", 'l', "/etc/passwd", 0}},
                  "symlink to the absolute path '/etc/passwd'");
  }
  SUBCASE("fifo") {
    Entry e = to_entry({"p", 'f', "", 0644});
    e.type = Entry::Type::fifo;
    check_refused({{e, ""}}, {{"p", 'f', "", 0644}}, "'p' is a FIFO");
  }
  SUBCASE("character device") {
    Entry e = to_entry({"null", 'f', "", 0644});
    e.type = Entry::Type::char_device;
    e.dev_major = 1;
    e.dev_minor = 3;
    check_refused({{e, ""}}, {{"null", 'f', "", 0644}}, "'null' is a character device");
  }
  SUBCASE("hard link") {
    Entry e = to_entry({"b", 'f', "", 0644});
    e.type = Entry::Type::hardlink;
    e.link_target = "a";
    check_refused({raw({"a", 'f', "a", 0644}), {e, ""}}, {{"a", 'f', "a", 0644}, {"b", 'f', "a", 0644}},
                  "'b' is a hard link");
  }
  SUBCASE("setuid not declared") {
    check_refused({raw({"su", 'f', "x", 04755})}, {{"su", 'f', "x", 0755}},
                  "has setuid/setgid bits (mode 04755) that release.json does not declare");
  }
  SUBCASE("mode differs") {
    check_refused({raw({"a", 'f', "a", 0666})}, ok, "has mode 0666 but release.json says 0644");
  }
  SUBCASE("symlink target differs from release.json") {
    check_refused({raw({"l", 'l', "a", 0})}, {{"l", 'l', "b", 0}}, "'l' points to 'a' but release.json says 'b'");
  }
  SUBCASE("type differs from release.json") {
    check_refused({raw({"a", 'd', "", 0644})}, ok, "'a' is a directory in the archive but a file in release.json");
  }
  SUBCASE("unlisted entry") {
    check_refused({raw({"a", 'f', "a", 0644}), raw({"extra", 'f', "x", 0644})}, ok,
                  "'extra' is not listed in release.json");
  }
  SUBCASE("listed twice") {
    check_refused({raw({"a", 'f', "a", 0644}), raw({"a", 'f', "a", 0644})}, ok, "'a' appears twice");
  }
  SUBCASE("a file written through an absolute symlink the archive created") {
    testutil::TempDir outside;
    check_refused({raw({"x", 'l', outside.path().string(), 0}), raw({"x/evil", 'f', "x", 0644})},
                  {{"x", 'l', outside.path().string(), 0}, {"x/evil", 'f', "x", 0644}}, "symlink to the absolute path");
    CHECK(fs::is_empty(outside.path()));
  }
  SUBCASE("a file written through an in-tree symlink the archive created") {
    std::vector<Item> items = {{"sub", 'd', "", 0755}, {"x", 'l', "sub", 0}, {"x/evil", 'f', "x", 0644}};
    check_refused({raw(items[0]), raw(items[1]), raw(items[2])}, items, "'x/evil' goes through the symlink 'x'");
  }
}

TEST_CASE("site::stage_full and stage_patch refuse a signed release.json whose tree would grant something, before "
          "writing anything") {
  // Each listing is v1's plus the case's entries, and its archive holds exactly what it lists: only the policy of
  // release.json itself can refuse it.
  struct Case {
    const char* name;
    std::vector<Item> extra;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"a setuid file",
       {{"bin", 'd', "", 0755}, {"bin/tool", 'f', "#!/bin/sh\n", 04755}},
       "entry 'bin/tool' is setuid or setgid (mode 04755)"},
      {"a setgid file",
       {{"bin", 'd', "", 0755}, {"bin/tool", 'f', "#!/bin/sh\n", 02711}},
       "entry 'bin/tool' is setuid or setgid (mode 02711)"},
      {"a world-writable compose file",
       {{"compose.yml", 'f', "services: {}\n", 0666}},
       "entry 'compose.yml' is writable by others (mode 0666)"},
      {"a world-writable directory", {{"spool", 'd', "", 01777}}, "entry 'spool' is writable by others (mode 01777)"},
      // Lexically inside (up, then two '..': the root), but conf/up is the root itself, so the second '..' leaves.
      {"a link escaping through a directory link",
       {{"conf/up", 'l', "..", 0}, {"escape", 'l', "conf/up/../../etc/passwd", 0}},
       "entry 'escape' is a symlink to 'conf/up/../../etc/passwd', which leaves the tree when resolved through the "
       "tree's links"},
      // b -> a/.. is the root; c -> b/.. is then above it.
      {"a chain of links",
       {{"a", 'd', "", 0755}, {"b", 'l', "a/..", 0}, {"c", 'l', "b/../x", 0}},
       "entry 'c' is a symlink to 'b/../x', which leaves the tree"},
      {"a link loop", {{"l1", 'l', "l2/x", 0}, {"l2", 'l', "l1", 0}}, "passes through more than 40 symlinks"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Site s;
    s.stage_v1();
    std::vector<Item> items = v1_items;
    items.insert(items.end(), c.extra.begin(), c.extra.end());
    StringSource src(targz(items));
    check_throws([&] { site::stage_full(s.releases, manifest("9.9", items), src); }, ExitCode::bad_input, c.message);
    check_throws([&] { site::check_tree_policy(manifest("9.9", items)); }, ExitCode::bad_input, "Nothing was changed.");
    // As a patch from 1.0 too: the same policy, the base untouched.
    Manifest p = manifest("9.9", items);
    p.is_patch = true;
    p.base_version = "1.0";
    StringSource patch(targz(c.extra));
    check_throws([&] { site::stage_patch(s.releases, "1.0", p, patch); }, ExitCode::bad_input, c.message);
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(s.releases)) left.push_back(e.path().filename().string());
    CHECK(left == std::vector<std::string>{"1.0"});
    site::verify_tree(s.releases + "/1.0", manifest("1.0", v1_items));
    CHECK(!fs::exists(fs::symlink_status(s.tmp / "etc")));
  }
}

TEST_CASE("site::check_tree_policy accepts links that stay inside when resolved, and setgid directories") {
  std::vector<Item> items = v1_items;
  for (const Item& it : std::vector<Item>{{"conf/up", 'l', "..", 0},
                                          {"conf/self", 'l', "up/conf/a.ini", 0},
                                          {"shared", 'd', "", 02755},
                                          {"via", 'l', "conf/up/app/../app/main.py", 0},
                                          {"dangling", 'l', "no/such/file", 0}})
    items.push_back(it);
  site::check_tree_policy(manifest("9.9", items));
  Site s;
  StringSource src(targz(items));
  site::stage_full(s.releases, manifest("9.9", items), src);
  CHECK(testutil::read_file(s.releases + "/9.9/conf/self") == "a=1\n");
  CHECK(mode_of(s.releases + "/9.9/shared") == 02755);
}

TEST_CASE("site::stage_full makes releases/ and the tree 0755 and gives each entry its listed mode, under umask 0") {
  const mode_t old_umask = ::umask(0);
  struct Restore {
    mode_t m;
    ~Restore() { ::umask(m); }
  } restore{old_umask};
  Site s;
  REQUIRE(::chmod(s.releases.c_str(), 0777) == 0); // as fs::create_directories makes it under umask 0
  s.stage_v1();
  CHECK(mode_of(s.releases) == 0755);
  const std::string r = s.releases + "/1.0";
  CHECK(mode_of(r) == 0755);
  CHECK(mode_of(r + "/conf") == 0750);
  CHECK(mode_of(r + "/conf/a.ini") == 0600);
  CHECK(mode_of(r + "/app/main.py") == 0644);
  REQUIRE(::chmod(s.releases.c_str(), 0775) == 0);
  s.stage_v2();
  CHECK(mode_of(s.releases) == 0755);
  CHECK(mode_of(s.releases + "/2.0") == 0755);
  CHECK(mode_of(s.releases + "/2.0/conf/d") == 0700);
}

TEST_CASE("site::verify_tree reports a changed byte, an extra file and a wrong mode") {
  Site s;
  s.stage_v1();
  std::string r = s.releases + "/1.0";
  Manifest m = manifest("1.0", v1_items);
  SUBCASE("changed byte") {
    testutil::write_file(r + "/app/main.py", "print(7)\n");
    check_throws([&] { site::verify_tree(r, m); }, ExitCode::verify_failed,
                 "app/main.py has the wrong SHA-256 (1 mismatch)");
  }
  SUBCASE("extra file") {
    testutil::write_file(r + "/conf/extra", "");
    check_throws([&] { site::verify_tree(r, m); }, ExitCode::verify_failed, "conf/extra is not listed (1 mismatch)");
  }
  SUBCASE("wrong mode, and a second mismatch counted") {
    REQUIRE(::chmod((r + "/app/run.sh").c_str(), 0775) == 0);
    fs::remove(r + "/old.txt");
    check_throws([&] { site::verify_tree(r, m); }, ExitCode::verify_failed,
                 "app/run.sh has mode 0775, not 0755 (2 mismatches)");
  }
  SUBCASE("symlink retargeted") {
    fs::remove(r + "/app/latest");
    fs::create_symlink("run.sh", r + "/app/latest");
    check_throws([&] { site::verify_tree(r, m); }, ExitCode::verify_failed, "app/latest points to 'run.sh'");
  }
}

TEST_CASE("site::switch_current switches atomically and reads back") {
  Site s;
  CHECK_FALSE(site::current_version(s.app).has_value());
  s.stage_v1();
  s.stage_v2();
  site::switch_current(s.app, "1.0");
  CHECK(site::current_version(s.app) == "1.0");
  CHECK(testutil::read_file(s.app + "/current/app/main.py") == "print(1)\n");
  site::switch_current(s.app, "2.0");
  CHECK(site::current_version(s.app) == "2.0");
  CHECK(fs::read_symlink(s.app + "/current") == "releases/2.0");
  site::verify_tree(s.releases + "/1.0", manifest("1.0", v1_items));
  for (const auto& e : fs::directory_iterator(s.app))
    CHECK_MESSAGE(e.path().filename().string().find(".tmp-") == std::string::npos, e.path());
  check_throws([&] { site::switch_current(s.app, "7.0"); }, ExitCode::not_found, "release 7.0 is not staged");
  CHECK(site::current_version(s.app) == "2.0");
}

TEST_CASE("site::ensure_site_id makes one random ID and keeps it; a damaged file is refused") {
  testutil::TempDir tmp;
  const site::Layout l(tmp / "app", tmp.path().string());
  CHECK(!site::read_site_id(l));
  const std::string id = site::ensure_site_id(l);
  CHECK(site::is_site_id(id));
  CHECK(testutil::read_file(l.site_id_file()) == id + "\n");
  CHECK(site::ensure_site_id(l) == id);
  CHECK(site::read_site_id(l) == id);
  testutil::TempDir other;
  CHECK(site::ensure_site_id(site::Layout(other / "app", other.path().string())) != id);
  testutil::write_file(l.site_id_file(), "not-an-id\x1b[2J\n");
  auto e = testutil::error_of([&] { site::read_site_id(l); });
  CHECK(e.code() == ExitCode::bad_input);
  CHECK(std::string(e.what()).find("\\x1b[2J") != std::string::npos);
}
