#include "dataset/snapshot.hpp"
#include "util/error.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace airlock;

namespace {

// Everything of a tree that a snapshot must keep: type, mode, owner, size, mtime, content, link target, links.
std::map<std::string, std::string> describe(const std::string& root) {
  std::map<std::string, std::string> out;
  std::map<ino_t, std::string> first;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const std::string p = it->path().string();
    struct stat s {};
    REQUIRE(::lstat(p.c_str(), &s) == 0);
    std::string d = std::to_string(s.st_mode) + " " + std::to_string(s.st_uid) + ":" + std::to_string(s.st_gid);
    if (!S_ISDIR(s.st_mode))
      d += " mtime " + std::to_string(s.st_mtim.tv_sec) + "." + std::to_string(s.st_mtim.tv_nsec);
    if (S_ISREG(s.st_mode)) {
      d += " " + testutil::read_file(p);
      if (s.st_nlink > 1) {
        auto [f, fresh] = first.emplace(s.st_ino, fs::path(p).lexically_relative(root).string());
        d += " link-group " + f->second;
      }
    }
    if (S_ISLNK(s.st_mode)) d += " -> " + fs::read_symlink(p).string();
    out[fs::path(p).lexically_relative(root).string()] = d;
  }
  return out;
}

void make_tree(const std::string& d) {
  fs::create_directories(d + "/db/base");
  fs::create_directories(d + "/empty");
  testutil::write_file(d + "/db/base/1", std::string(100000, 'a'));
  testutil::write_file(d + "/db/base/2", "rows");
  testutil::write_file(d + "/notes", "hello");
  ::chmod((d + "/notes").c_str(), 0640);
  ::chmod((d + "/db").c_str(), 0700);
  fs::create_symlink("db/base/2", d + "/link");
  fs::create_hard_link(d + "/notes", d + "/notes.hard");
  ::mkfifo((d + "/fifo").c_str(), 0600);
}

} // namespace

TEST_CASE("dataset::Snapshot copies a tree exactly, and update() brings it up to date with what changed") {
  testutil::TempDir tmp;
  const std::string data = tmp / "app/data";
  make_tree(data);
  dataset::Snapshot s(data, "u1");
  CHECK(s.path() == tmp / "app/.airlock-snapshot-u1-data");
  auto st = s.copy();
  CHECK(st.entries == 10);
  CHECK(describe(s.path()) == describe(data));

  // The running release keeps writing: a changed file, a new one, a deleted one, a type change, a new directory.
  testutil::write_file(data + "/db/base/2", "more rows");
  testutil::write_file(data + "/db/base/3", "new");
  fs::remove(data + "/db/base/1");
  fs::remove(data + "/link");
  fs::create_directories(data + "/link/sub");
  testutil::write_file(data + "/link/sub/x", "x");
  fs::remove_all(data + "/empty");
  auto up = s.update();
  CHECK(describe(s.path()) == describe(data));
  CHECK(up.removed == 2);         // db/base/1 and empty (link was replaced, not removed)
  CHECK(up.bytes < 100);          // the 100 kB file is not copied again
  CHECK(s.update().entries == 0); // nothing changed: nothing copied
  CHECK(describe(s.path()) == describe(data));
}

TEST_CASE("dataset::Snapshot refuses device nodes and an existing snapshot path") {
  testutil::TempDir tmp;
  const std::string data = tmp / "data";
  fs::create_directories(data);
  dataset::Snapshot s(data, "t");
  fs::create_directories(s.path());
  CHECK(testutil::error_of([&] { s.copy(); }).code() == ExitCode::failure);
  s.discard();
  CHECK(!fs::exists(s.path()));
  if (::geteuid() == 0 && ::mknod((data + "/null").c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0) {
    auto e = testutil::error_of([&] { s.copy(); });
    CHECK(e.code() == ExitCode::bad_input);
    CHECK(std::string(e.what()).find("device node") != std::string::npos);
  }
}

TEST_CASE("dataset::swap_in puts the snapshot in place and finishes after a crash at any point") {
  testutil::TempDir tmp;
  const std::string data = tmp / "data";
  auto fresh = [&] {
    fs::remove_all(tmp.path());
    fs::create_directories(data);
    testutil::write_file(data + "/f", "before");
    dataset::Snapshot(data, "u").copy();
    testutil::write_file(data + "/f", "after: damaged by the new release");
  };
  const std::string old = tmp / ".airlock-old-u-data", snap = dataset::snapshot_path(data, "u");
  fresh();
  dataset::swap_in(data, "u");
  CHECK(testutil::read_file(data + "/f") == "before");
  CHECK(!fs::exists(snap));
  CHECK(testutil::read_file(old + "/f") == "after: damaged by the new release"); // kept until removed
  dataset::remove_swapped_out(data, "u");
  CHECK(!fs::exists(old));
  // Crash after the first rename: data is gone, the old tree and the snapshot are there.
  fresh();
  fs::rename(data, old);
  dataset::swap_in(data, "u");
  CHECK(testutil::read_file(data + "/f") == "before");
  dataset::remove_swapped_out(data, "u");
  CHECK(!fs::exists(old));
  // Crash after the second rename: the old tree is still there.
  fresh();
  fs::rename(data, old);
  fs::rename(snap, data);
  dataset::swap_in(data, "u");
  CHECK(testutil::read_file(data + "/f") == "before");
  dataset::remove_swapped_out(data, "u");
  CHECK(!fs::exists(old));
  // Run again after it finished: nothing to do.
  dataset::swap_in(data, "u");
  CHECK(testutil::read_file(data + "/f") == "before");
  // Neither the tree nor the snapshot: an error that says what is left.
  fs::remove_all(data);
  CHECK(testutil::error_of([&] { dataset::swap_in(data, "u"); }).code() == ExitCode::failure);
}

TEST_CASE("dataset::Snapshot clones files on XFS (reflink) and copies on ext4") {
  if (::geteuid() != 0 || ::system("command -v mkfs.xfs >/dev/null 2>&1 && command -v mkfs.ext4 >/dev/null 2>&1")) {
    MESSAGE("skipped: needs root, mkfs.xfs and mkfs.ext4 for loop mounts");
    return;
  }
  testutil::TempDir tmp;
  for (const std::string fstype : {"xfs", "ext4"}) {
    CAPTURE(fstype);
    const std::string img = tmp / (fstype + ".img"), mnt = tmp / ("mnt-" + fstype);
    fs::create_directories(mnt);
    const std::string mk = fstype == "xfs" ? "mkfs.xfs -q -m reflink=1 " : "mkfs.ext4 -q -F ";
    REQUIRE(::system(("truncate -s 300M " + img + " && " + mk + img).c_str()) == 0);
    if (::system(("mount -o loop " + img + " " + mnt).c_str()) != 0) {
      MESSAGE("skipped: loop mounts do not work here");
      return;
    }
    struct Unmount {
      std::string dir;
      ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
    } unmount{mnt};
    const std::string data = mnt + "/data";
    fs::create_directories(data);
    testutil::write_file(data + "/big", std::string(8 << 20, 'z'));
    CHECK(dataset::supports_reflink(data) == (fstype == "xfs"));
    dataset::Snapshot s(data, "r");
    auto st = s.copy();
    CHECK(st.reflinked == (fstype == "xfs"));
    CHECK(describe(s.path()) == describe(data));
  }
}
