#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using airlock::ExitCode;
using airlock::archive::Entry;
using airlock::archive::GzipSink;
using airlock::archive::GzipSource;
using airlock::archive::TarReader;
using airlock::archive::TarWriter;

namespace {

class StringSink : public airlock::util::Sink {
public:
  void write(const void* data, std::size_t size) override { s.append(static_cast<const char*>(data), size); }
  using Sink::write;
  std::string s;
};

// Serves a string, at most `chunk` bytes per read() (1 = a trickle that splits every header and record).
class StringSource : public airlock::util::Source {
public:
  explicit StringSource(std::string s, std::size_t chunk = SIZE_MAX) : s_(std::move(s)), chunk_(chunk) {}
  std::size_t read(void* buf, std::size_t size) override {
    std::size_t n = std::min({size, chunk_, s_.size() - pos_});
    std::memcpy(buf, s_.data() + pos_, n);
    pos_ += n;
    return n;
  }

private:
  std::string s_;
  std::size_t chunk_, pos_ = 0;
};

// Fails on the first read: stops TarWriter::add() right after it has written the headers.
class ThrowingSource : public airlock::util::Source {
public:
  std::size_t read(void*, std::size_t) override { throw std::runtime_error("stop"); }
};

int sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string sh_output(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::string pseudo_random(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Half random, half repetitive text, in 64 KiB stripes.
std::string mixed_data(std::size_t n) {
  std::string s;
  std::string text;
  while (text.size() < 65536) text += "services:\n  web:\n    image: nginx:1.27\n    restart: always\n";
  std::string noise = pseudo_random(65536, 7);
  for (std::size_t i = 0; s.size() < n; ++i) s += (i % 2 ? text : noise).substr(0, 65536 - i % 1000);
  s.resize(n);
  return s;
}

template <class F> void expect_error(ExitCode code, const std::string& needle, F&& f) {
  try {
    f();
    FAIL("no error; expected one containing: " << needle);
  } catch (const airlock::Error& e) {
    std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(static_cast<int>(e.code()) == static_cast<int>(code));
    CHECK(msg.find(needle) != std::string::npos);
  }
}

struct ReadEntry {
  Entry e;
  std::string data;
};

std::vector<ReadEntry> read_all(airlock::util::Source& src, const std::string& what) {
  TarReader r(src, what);
  std::vector<ReadEntry> out;
  Entry e;
  while (r.next(e)) {
    ReadEntry x{e, {}};
    char buf[7000];
    std::size_t n;
    while ((n = r.read(buf, sizeof buf)) > 0) x.data.append(buf, n);
    out.push_back(std::move(x));
  }
  CHECK_FALSE(r.next(e)); // stays at the end
  return out;
}

std::vector<ReadEntry> read_tar_string(const std::string& tar, std::size_t chunk = SIZE_MAX) {
  StringSource src(tar, chunk);
  return read_all(src, "test.tar");
}

std::vector<ReadEntry> read_tgz_file(const std::string& path) {
  airlock::util::FileSource file(path);
  GzipSource gz(file, path);
  return read_all(gz, path);
}

void set_mtime(const std::string& path, std::int64_t sec) {
  timespec ts[2] = {{sec, 123456789}, {sec, 123456789}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
}

const std::string kLongDir1(120, 'd'), kLongDir2(120, 'e'), kLongFile(58, 'f');
const std::string kLongPath = kLongDir1 + "/" + kLongDir2 + "/" + kLongFile; // 300 bytes
const std::string kSplitDir = "split/" + std::string(70, 's');
const std::string kSplitPath = kSplitDir + "/" + std::string(50, 'g');     // 127 bytes: fits ustar prefix + name
const std::string kLongTarget = "../" + std::string(150, 't') + "/target"; // dangling, > 100 bytes
const std::string kUtf8Name = "caf\xc3\xa9-\xc3\xb1.txt";                  // "café-ñ.txt"
const std::string kBinaryName = "bad\xff.bin";                             // not UTF-8

// The tree the compatibility tests archive, with every kind of entry they cover.
void make_tree(const std::string& root) {
  auto f = [&](const std::string& rel, const std::string& content, unsigned mode) {
    testutil::write_file(root + "/" + rel, content);
    REQUIRE(::chmod((root + "/" + rel).c_str(), mode) == 0);
  };
  fs::create_directories(root + "/a/b/c");
  fs::create_directories(root + "/empty");
  fs::create_directories(root + "/" + kLongDir1 + "/" + kLongDir2);
  fs::create_directories(root + "/" + kSplitDir);
  f("a/b/c/deep.txt", "deep\n", 0644);
  f("a/hard1", "one inode, two names\n", 0644);
  REQUIRE(::link((root + "/a/hard1").c_str(), (root + "/hard2").c_str()) == 0);
  f("big.bin", mixed_data(3 << 20), 0644);
  f(kUtf8Name, "non-ASCII name\n", 0644);
  f(kBinaryName, "non-UTF-8 name\n", 0644);
  f(kLongPath, "300-byte path\n", 0644);
  f(kSplitPath, "ustar prefix and name\n", 0644);
  f("empty.txt", "", 0644);
  f("private.txt", "secret\n", 0600);
  f("script.sh", "#!/bin/sh\necho hi\n", 0750);
  f("suid.bin", "setuid\n", 04755);
  REQUIRE(::chmod((root + "/empty").c_str(), 0700) == 0);
  REQUIRE(::symlink("a/b/c/deep.txt", (root + "/link").c_str()) == 0);
  REQUIRE(::symlink(kLongTarget.c_str(), (root + "/longlink").c_str()) == 0);
  if (::geteuid() == 0) {
    f("owned.txt", "someone else's\n", 0640);
    REQUIRE(::lchown((root + "/owned.txt").c_str(), 1234, 5678) == 0);
  }
  // Distinct mtimes, children before their directories.
  std::vector<std::string> all;
  for (const auto& de : fs::recursive_directory_iterator(root)) all.push_back(de.path().string());
  std::sort(all.rbegin(), all.rend());
  std::int64_t t = 1500000000;
  for (const auto& p : all) set_mtime(p, t += 1000);
}

struct Snapshot {
  std::map<std::string, std::string> nodes;       // relative path -> description
  std::set<std::vector<std::string>> link_groups; // paths sharing an inode
};

Snapshot snapshot(const std::string& root) {
  Snapshot s;
  std::map<ino_t, std::vector<std::string>> inodes;
  for (const auto& de : fs::recursive_directory_iterator(root)) {
    std::string p = de.path().string(), rel = p.substr(root.size() + 1);
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    std::string d;
    if (S_ISDIR(st.st_mode)) {
      d = "dir";
    } else if (S_ISREG(st.st_mode)) {
      d = "file size=" + std::to_string(st.st_size) + " sha256=" + airlock::util::sha256_file_hex(p);
    } else if (S_ISLNK(st.st_mode)) {
      d = "symlink -> " + fs::read_symlink(p).string();
    } else {
      d = "other";
    }
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    d += std::string(" mode=") + mode;
    if (!S_ISLNK(st.st_mode)) d += " mtime=" + std::to_string(st.st_mtime);
    if (::geteuid() == 0) d += " owner=" + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
    s.nodes[rel] = d;
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) inodes[st.st_ino].push_back(rel);
  }
  for (auto& [ino, paths] : inodes) {
    std::sort(paths.begin(), paths.end());
    s.link_groups.insert(paths);
  }
  return s;
}

std::string describe(const std::set<std::vector<std::string>>& groups) {
  std::string out;
  for (const auto& g : groups) {
    out += "{";
    for (const auto& p : g) out += p + " ";
    out += "}";
  }
  return out;
}

void check_same_tree(const std::string& a, const std::string& b) {
  Snapshot sa = snapshot(a), sb = snapshot(b);
  CHECK(sa.nodes.size() == sb.nodes.size());
  for (const auto& [path, desc] : sa.nodes) {
    INFO("path: " << path);
    auto it = sb.nodes.find(path);
    REQUIRE(it != sb.nodes.end());
    CHECK(it->second == desc);
  }
  CHECK(describe(sa.link_groups) == describe(sb.link_groups));
  CHECK(sa.link_groups.size() == 1);
}

// Checks entries read from an archive of `root` (paths starting with `strip`) against the tree itself.
void check_entries_match_tree(const std::vector<ReadEntry>& entries, const std::string& root,
                              const std::string& strip) {
  std::set<std::string> seen;
  std::size_t hardlinks = 0;
  for (const auto& r : entries) {
    std::string p = r.e.path;
    INFO("entry: " << p);
    REQUIRE(p.rfind(strip, 0) == 0);
    p = p.substr(strip.size());
    if (!p.empty() && p.back() == '/') p.pop_back();
    if (p.empty()) continue; // the root directory itself
    struct stat st {};
    REQUIRE(::lstat((root + "/" + p).c_str(), &st) == 0);
    CHECK(seen.insert(p).second);
    CHECK(r.e.mode == (st.st_mode & 07777));
    CHECK(r.e.uid == st.st_uid);
    CHECK(r.e.gid == st.st_gid);
    if (!S_ISLNK(st.st_mode)) CHECK(r.e.mtime == st.st_mtime);
    switch (r.e.type) {
    case Entry::Type::file:
      CHECK(S_ISREG(st.st_mode));
      CHECK(r.e.size == static_cast<std::uint64_t>(st.st_size));
      CHECK(r.data == testutil::read_file(root + "/" + p));
      break;
    case Entry::Type::directory:
      CHECK(S_ISDIR(st.st_mode));
      CHECK(r.e.size == 0);
      break;
    case Entry::Type::symlink:
      CHECK(S_ISLNK(st.st_mode));
      CHECK(r.e.link_target == fs::read_symlink(root + "/" + p).string());
      break;
    case Entry::Type::hardlink: {
      ++hardlinks;
      REQUIRE(r.e.link_target.rfind(strip, 0) == 0);
      struct stat target {};
      REQUIRE(::lstat((root + "/" + r.e.link_target.substr(strip.size())).c_str(), &target) == 0);
      CHECK(target.st_ino == st.st_ino);
      CHECK(r.data.empty());
      break;
    }
    default:
      FAIL("unexpected entry type");
    }
  }
  CHECK(hardlinks == 1);
  std::set<std::string> expected;
  for (const auto& [path, desc] : snapshot(root).nodes) expected.insert(path);
  CHECK(seen == expected);
}

std::string write_tgz(const std::string& dir, const std::string& prefix, const std::string& path, int level = 6) {
  airlock::util::AtomicFile file(path);
  GzipSink gz(file, level);
  TarWriter tw(gz);
  tw.add_tree(dir, prefix);
  tw.finish();
  gz.finish();
  file.commit();
  return path;
}

std::string tar_string(const std::function<void(TarWriter&)>& fill) {
  StringSink sink;
  TarWriter tw(sink);
  fill(tw);
  tw.finish();
  return sink.s;
}

// A small archive for the corruption tests: two files and a directory.
std::string small_tar() {
  return tar_string([](TarWriter& tw) {
    Entry d;
    d.path = "dir/";
    d.type = Entry::Type::directory;
    d.mode = 0755;
    tw.add(d, nullptr);
    for (const char* name : {"dir/one.txt", "dir/two.txt"}) {
      std::string content = std::string(name) + std::string(700, 'x');
      StringSource src(content);
      Entry f;
      f.path = name;
      f.mode = 0644;
      f.size = content.size();
      tw.add(f, &src);
    }
  });
}

std::string gzip_string(const std::string& data, int level = 6) {
  StringSink sink;
  GzipSink gz(sink, level);
  gz.write(data);
  gz.finish();
  return sink.s;
}

std::string gunzip_string(const std::string& gz, std::size_t chunk = SIZE_MAX) {
  StringSource src(gz, chunk);
  GzipSource g(src, "test.gz");
  std::string out;
  char buf[10007];
  std::size_t n;
  while ((n = g.read(buf, sizeof buf)) > 0) out.append(buf, n);
  return out;
}

void fix_checksum(std::string& tar, std::size_t header) {
  std::memset(&tar[header + 148], ' ', 8);
  unsigned sum = 0;
  for (std::size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(tar[header + i]);
  std::snprintf(&tar[header + 148], 8, "%06o", sum);
}

} // namespace

// ------------------------------------------------------------------------------------------ GNU tar interop

TEST_CASE("archive::TarWriter output is read back exactly by GNU tar") {
  testutil::TempDir t;
  std::string src = t / "src", dst = t / "dst";
  make_tree(src);
  std::string tgz = write_tgz(src, "", t / "out.tar.gz");
  fs::create_directories(dst);
  REQUIRE(sh("tar -xzf '" + tgz + "' -C '" + dst + "'") == 0);
  check_same_tree(src, dst);

  // GNU tar sees the long names whole, and our reader agrees with it entry for entry.
  std::string listing = sh_output("tar --quoting-style=literal -tzf '" + tgz + "'");
  CHECK(listing.find(kLongPath + "\n") != std::string::npos);
  CHECK(listing.find(kBinaryName + "\n") != std::string::npos);
  CHECK(listing.find(kSplitPath + "\n") != std::string::npos);
  CHECK(sh_output("tar -tvzf '" + tgz + "'").find("longlink -> " + kLongTarget) != std::string::npos);
  check_entries_match_tree(read_tgz_file(tgz), src, "");
}

TEST_CASE("archive::TarWriter::add_tree is deterministic and stores the root under a prefix") {
  testutil::TempDir t;
  std::string src = t / "src";
  make_tree(src);
  std::string a = write_tgz(src, "site/", t / "a.tar.gz"), b = write_tgz(src, "site", t / "b.tar.gz");
  CHECK(testutil::read_file(a) == testutil::read_file(b));

  auto entries = read_tgz_file(a);
  REQUIRE(!entries.empty());
  CHECK(entries[0].e.path == "site/");
  CHECK(entries[0].e.type == Entry::Type::directory);
  CHECK(entries[1].e.path == "site/a/"); // sorted, depth first
  CHECK(entries[2].e.path == "site/a/b/");
  check_entries_match_tree(entries, src, "site/");
  for (const auto& r : entries) {
    if (r.e.path == "site/hard2") {
      CHECK(r.e.type == Entry::Type::hardlink);
      CHECK(r.e.link_target == "site/a/hard1"); // the first path of the inode, in archive order
    }
    if (::geteuid() == 0 && r.e.path == "site/a/hard1") CHECK(r.e.uname == "root");
  }

  std::string dst = t / "dst";
  fs::create_directories(dst);
  REQUIRE(sh("tar -xzf '" + a + "' -C '" + dst + "'") == 0);
  check_same_tree(src, dst + "/site");
}

TEST_CASE("archive::TarReader reads GNU tar archives in pax and gnu formats") {
  testutil::TempDir t;
  std::string src = t / "src";
  make_tree(src);
  for (const char* format : {"pax", "gnu"}) {
    INFO("format: " << format);
    std::string tgz = t / (std::string(format) + ".tar.gz");
    REQUIRE(sh(std::string("tar --format=") + format + " -czf '" + tgz + "' -C '" + src + "' .") == 0);
    auto entries = read_tgz_file(tgz);
    CHECK(entries.size() == snapshot(src).nodes.size() + 1); // plus "./"
    check_entries_match_tree(entries, src, "./");
  }
}

TEST_CASE("archive::TarReader applies pax global and per-entry headers from GNU tar, dropping mtime fractions") {
  testutil::TempDir t;
  fs::create_directories(t / "src/sub");
  testutil::write_file(t / "src/sub/f.txt", "content\n");
  std::string tarball = t / "g.tar";
  REQUIRE(sh("tar --format=pax --pax-option='uname=globaluser,mtime:=1234567890.75' -cf '" + tarball + "' -C '" +
             t / "src" + "' .") == 0);
  REQUIRE(testutil::read_file(tarball)[156] == 'g');
  airlock::util::FileSource file(tarball);
  auto entries = read_all(file, tarball);
  REQUIRE(entries.size() == 3);
  for (const auto& r : entries) {
    INFO(r.e.path);
    CHECK(r.e.uname == "globaluser");
    CHECK(r.e.mtime == 1234567890);
  }
  CHECK(entries[2].e.path == "./sub/f.txt");
  CHECK(entries[2].data == "content\n");
}

TEST_CASE("archive::TarWriter uses pax headers for what ustar cannot hold, and both readers agree") {
  std::string long_name = std::string(180, 'n'); // no slash: cannot be split for ustar
  std::string long_owner = std::string(40, 'o');
  std::string tar = tar_string([&](TarWriter& tw) {
    Entry e;
    e.path = long_name;
    e.mode = 06755;
    e.uid = 3000000000u;
    e.gid = 5000000;
    e.uname = long_owner;
    e.gname = "gr\xc3\xbcppe";
    e.mtime = -1000;
    e.size = 3;
    StringSource abc("abc");
    tw.add(e, &abc);
    Entry l;
    l.path = "future-link";
    l.type = Entry::Type::symlink;
    l.mode = 0777;
    l.mtime = 100000000000; // year 5138: beyond 11 octal digits
    l.link_target = kLongTarget;
    tw.add(l, nullptr);
    Entry dev;
    dev.path = "null";
    dev.type = Entry::Type::char_device;
    dev.mode = 0666;
    dev.dev_major = 1;
    dev.dev_minor = 3;
    tw.add(dev, nullptr);
    Entry fifo;
    fifo.path = "pipe";
    fifo.type = Entry::Type::fifo;
    fifo.mode = 0600;
    tw.add(fifo, nullptr);
  });
  CHECK(tar.size() % 512 == 0);

  auto entries = read_tar_string(tar, 1); // one byte per read: headers and records arrive in pieces
  REQUIRE(entries.size() == 4);
  const Entry& f = entries[0].e;
  CHECK(f.path == long_name);
  CHECK(f.type == Entry::Type::file);
  CHECK(f.mode == 06755);
  CHECK(f.uid == 3000000000u);
  CHECK(f.gid == 5000000);
  CHECK(f.uname == long_owner);
  CHECK(f.gname == "gr\xc3\xbcppe");
  CHECK(f.mtime == -1000);
  CHECK(entries[0].data == "abc");
  CHECK(entries[1].e.type == Entry::Type::symlink);
  CHECK(entries[1].e.mtime == 100000000000);
  CHECK(entries[1].e.link_target == kLongTarget);
  CHECK(entries[2].e.type == Entry::Type::char_device);
  CHECK(entries[2].e.dev_major == 1);
  CHECK(entries[2].e.dev_minor == 3);
  CHECK(entries[3].e.type == Entry::Type::fifo);

  testutil::TempDir t;
  testutil::write_file(t / "x.tar", tar);
  std::string numeric = sh_output("tar --numeric-owner -tvf '" + t / "x.tar" + "'");
  INFO(numeric);
  CHECK(numeric.find("-rwsr-sr-x 3000000000/5000000 3 ") != std::string::npos);
  CHECK(numeric.find(" " + long_name + "\n") != std::string::npos);
  CHECK(numeric.find("future-link -> " + kLongTarget) != std::string::npos);
  CHECK(numeric.find("crw-rw-rw- 0/0") != std::string::npos);
  CHECK(numeric.find(" 1,3 ") != std::string::npos);
  CHECK(sh_output("tar -tvf '" + t / "x.tar" + "'").find(long_owner + "/gr\xc3\xbcppe") != std::string::npos);
}

TEST_CASE("archive::TarWriter writes a pax size for an 8 GiB file, which both readers accept") {
  const std::uint64_t size = (std::uint64_t{8} << 30) + 1;
  StringSink sink;
  TarWriter tw(sink);
  Entry e;
  e.path = "huge.img";
  e.mode = 0644;
  e.size = size;
  ThrowingSource never; // the header goes out before any content is read
  CHECK_THROWS_AS(tw.add(e, &never), std::runtime_error);
  CHECK(sink.s.find("size=8589934593\n") != std::string::npos);
  expect_error(ExitCode::failure, "earlier error", [&] { tw.finish(); });

  StringSource src(sink.s);
  TarReader r(src, "huge.tar");
  Entry got;
  REQUIRE(r.next(got));
  CHECK(got.path == "huge.img");
  CHECK(got.size == size);
  expect_error(ExitCode::bad_input, "huge.tar: truncated tar archive: entry \"huge.img\"", [&] {
    char buf[512];
    while (r.read(buf, sizeof buf) > 0) {
    }
  });

  testutil::TempDir t;
  testutil::write_file(t / "huge.tar", sink.s);
  CHECK(sh_output("tar -tvf '" + t / "huge.tar" + "' 2>/dev/null").find(" 8589934593 ") != std::string::npos);
}

// ------------------------------------------------------------------------------------------ writer refusals

TEST_CASE("archive::TarWriter refuses a file that changes size while it is read") {
  std::string data(1000, 'z');
  for (std::size_t claimed : {std::size_t{1500}, std::size_t{600}}) {
    StringSink sink;
    TarWriter tw(sink);
    Entry e;
    e.path = "log/app.log";
    e.mode = 0644;
    e.size = claimed;
    StringSource src(data);
    expect_error(ExitCode::failure, "\"log/app.log\"", [&] { tw.add(e, &src); });
    expect_error(ExitCode::failure, "earlier error", [&] { tw.finish(); });
    expect_error(ExitCode::failure, "earlier error", [&] {
      StringSource empty("");
      Entry ok;
      ok.path = "other";
      tw.add(ok, &empty);
    });
  }
}

TEST_CASE("archive::TarWriter::add_tree skips sockets (as GNU tar does) and lists them") {
  testutil::TempDir t;
  fs::create_directories(t / "tree");
  std::string sock_path = t / "tree/control.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(sock_path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
  testutil::write_file(t / "tree/kept", "x");
  std::string tgz = write_tgz(t / "tree", "", t / "out.tar.gz");
  std::string listing = sh_output("tar -tzf '" + tgz + "'");
  CHECK(listing == "kept\n");
  StringSink sink;
  TarWriter tw(sink);
  tw.add_tree(t / "tree", "");
  CHECK(tw.skipped_sockets() == std::vector<std::string>{sock_path});
  expect_error(ExitCode::not_found, "missing", [&] {
    TarWriter other(sink);
    other.add_tree(t / "missing", "");
  });
}

TEST_CASE("archive::TarWriter::add checks its arguments") {
  StringSink sink;
  TarWriter tw(sink);
  Entry dir;
  dir.path = "d/";
  dir.type = Entry::Type::directory;
  StringSource content("x");
  expect_error(ExitCode::failure, "only files have content", [&] { tw.add(dir, &content); });
  TarWriter tw2(sink);
  Entry link;
  link.path = "l";
  link.type = Entry::Type::symlink;
  expect_error(ExitCode::failure, "a link needs a target", [&] { tw2.add(link, nullptr); });
}

// ------------------------------------------------------------------------------------------ corrupt input

TEST_CASE("archive::TarReader rejects a truncated archive at every cut point") {
  std::string tar = small_tar();
  REQUIRE(read_tar_string(tar).size() == 3);
  // Without the end-of-archive marker, or anywhere before it, the archive is incomplete.
  for (std::size_t cut = 0; cut <= tar.size() - 1024; ++cut) {
    INFO("cut at " << cut);
    expect_error(ExitCode::bad_input, "test.tar: truncated", [&] { read_tar_string(tar.substr(0, cut)); });
  }
  // The lone first zero block already marks the end (as for GNU tar).
  CHECK(read_tar_string(tar.substr(0, tar.size() - 512)).size() == 3);
  expect_error(ExitCode::bad_input, "\"dir/one.txt\"", [&] { read_tar_string(tar.substr(0, 1024 + 100)); });
}

TEST_CASE("archive::TarReader rejects a bad checksum, garbage, bad sizes and odd types") {
  std::string tar = small_tar();
  std::string flipped = tar;
  flipped[512 + 150] ^= 1; // a checksum digit of the second header
  expect_error(ExitCode::bad_input, "checksum mismatch", [&] { read_tar_string(flipped); });
  flipped = tar;
  flipped[512 + 3] ^= 0x20; // the name, covered by the checksum
  expect_error(ExitCode::bad_input, "header at byte 512 (after entry \"dir/\")", [&] { read_tar_string(flipped); });

  expect_error(ExitCode::bad_input, "test.tar: no tar header at byte 0",
               [&] { read_tar_string(pseudo_random(4096, 1)); });
  expect_error(ExitCode::bad_input, "after the end-of-archive", [&] { read_tar_string(tar + "trailing junk"); });
  CHECK(read_tar_string(tar + std::string(10240, '\0')).size() == 3); // record padding is fine

  std::string negative = tar;
  std::memset(&negative[512 + 124], 0xff, 12); // base-256 -1
  fix_checksum(negative, 512);
  expect_error(ExitCode::bad_input, "negative size", [&] { read_tar_string(negative); });

  std::string sparse = tar;
  sparse[512 + 156] = 'S';
  fix_checksum(sparse, 512);
  expect_error(ExitCode::bad_input, "entry \"dir/one.txt\" (header at byte 512): unsupported entry type \"S\"",
               [&] { read_tar_string(sparse); });

  // A pax size far beyond any real file.
  StringSink sink;
  TarWriter tw(sink);
  Entry e;
  e.path = "absurd";
  e.size = std::uint64_t{1} << 60;
  ThrowingSource never;
  CHECK_THROWS_AS(tw.add(e, &never), std::runtime_error);
  expect_error(ExitCode::bad_input, "entry \"absurd\" (header at byte 1024): absurd size",
               [&] { read_tar_string(sink.s + std::string(1024, '\0')); });

  // A pax record whose length does not match, and a pax header with no entry after it.
  std::string pax = tar_string([](TarWriter& w) {
    Entry d;
    d.path = std::string(200, 'p') + "/";
    d.type = Entry::Type::directory;
    w.add(d, nullptr);
  });
  std::string bad_record = pax;
  std::size_t at = bad_record.find(" path=");
  REQUIRE(at != std::string::npos);
  bad_record[at - 3] = '9'; // "210 path=..." -> "910 path=..."
  expect_error(ExitCode::bad_input, "malformed pax record", [&] { read_tar_string(bad_record); });
  std::string orphan = pax.substr(0, 1024) + std::string(1024, '\0');
  expect_error(ExitCode::bad_input, "not followed by an entry", [&] { read_tar_string(orphan); });
}

TEST_CASE("archive::GzipSource rejects truncated, corrupt and garbage input with bad_input") {
  std::string tgz = gzip_string(small_tar());
  // Every proper prefix fails, whether read by the tar reader or directly.
  for (std::size_t cut = 0; cut < tgz.size(); ++cut) {
    INFO("cut at " << cut);
    expect_error(ExitCode::bad_input, "test.gz: ", [&] {
      StringSource src(tgz.substr(0, cut));
      GzipSource gz(src, "test.gz");
      read_all(gz, "test.tar");
    });
  }
  std::string bad_crc = tgz;
  bad_crc[bad_crc.size() - 6] ^= 0x55; // inside the CRC-32 of the trailer
  expect_error(ExitCode::bad_input, "test.gz: corrupt gzip data", [&] { gunzip_string(bad_crc); });
  std::string bad_data = tgz;
  bad_data[bad_data.size() / 2] = static_cast<char>(~bad_data[bad_data.size() / 2]);
  expect_error(ExitCode::bad_input, "test.gz: corrupt gzip data", [&] { gunzip_string(bad_data); });
  expect_error(ExitCode::bad_input, "test.gz: corrupt gzip data", [&] { gunzip_string(pseudo_random(4096, 2)); });
  expect_error(ExitCode::bad_input, "test.gz: empty input", [&] { gunzip_string(""); });
  expect_error(ExitCode::bad_input, "after the end of the gzip stream", [&] { gunzip_string(tgz + "junk"); });
}

// ------------------------------------------------------------------------------------------ gzip

TEST_CASE("archive::GzipSink and GzipSource round-trip 10 MB at levels 1 and 9, and gzip -dc agrees") {
  testutil::TempDir t;
  const std::string data = mixed_data(10'000'000);
  for (int level : {1, 9}) {
    INFO("level " << level);
    StringSink sink;
    GzipSink gz(sink, level);
    gz.write(data.data(), 7919); // odd sizes, then one large write
    gz.write(data.data() + 7919, 3'000'000 - 7919);
    gz.write(data.data() + 3'000'000, data.size() - 3'000'000);
    gz.finish();
    CHECK(sink.s.size() < data.size() * 3 / 4);
    CHECK(gunzip_string(sink.s) == data);

    std::string path = t / ("data" + std::to_string(level) + ".gz");
    testutil::write_file(path, sink.s);
    REQUIRE(sh("gzip -dc '" + path + "' > '" + path + ".out'") == 0);
    CHECK(testutil::read_file(path + ".out") == data);
  }
  CHECK(gunzip_string(gzip_string(data.substr(0, 300000)), 1) == data.substr(0, 300000)); // one byte per read

  // Long matches with a tiny output buffer: zlib holds output back while all input is already consumed.
  std::string zeros(200000, '\0');
  for (std::size_t chunk : {std::size_t{1}, SIZE_MAX}) {
    StringSource src(gzip_string(zeros, 9), chunk);
    GzipSource gz(src, "zeros.gz");
    std::string out;
    char buf[7];
    std::size_t n;
    while ((n = gz.read(buf, sizeof buf)) > 0) out.append(buf, n);
    CHECK(out == zeros);
  }
}

TEST_CASE("archive::GzipSource reads multi-member streams like GNU gzip") {
  testutil::TempDir t;
  testutil::write_file(t / "world", "world\n");
  REQUIRE(sh("gzip -c '" + t / "world" + "' > '" + t / "world.gz" + "'") == 0);
  std::string joined = gzip_string("hello ", 1) + testutil::read_file(t / "world.gz") + gzip_string("", 9);
  CHECK(gunzip_string(joined) == "hello world\n");
  CHECK(gunzip_string(joined + std::string(5000, '\0'), 3) == "hello world\n"); // trailing zeros ignored
  expect_error(ExitCode::bad_input, "after the end", [&] { gunzip_string(joined + std::string(10, '\0') + "x"); });

  testutil::write_file(t / "joined.gz", joined);
  CHECK(sh_output("gzip -dc '" + t / "joined.gz" + "'") == "hello world\n");
}

TEST_CASE("archive::GzipSink writes nothing without finish() and checks its use") {
  StringSink sink;
  {
    GzipSink gz(sink, 6);
    gz.write("some data that is never finished");
  }
  CHECK(sink.s.empty());
  expect_error(ExitCode::failure, "level 10", [&] { GzipSink bad(sink, 10); });
  GzipSink gz(sink, 0);
  gz.finish();
  CHECK(gunzip_string(sink.s).empty());
  expect_error(ExitCode::failure, "finish() called twice", [&] { gz.finish(); });
  expect_error(ExitCode::failure, "write after finish()", [&] { gz.write("x"); });
}
