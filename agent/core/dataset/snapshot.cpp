#include "dataset/snapshot.hpp"

#include "log/log.hpp"
#include "util/error.hpp"
#include "util/io.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <linux/fs.h>
#include <set>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace airlock::dataset {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void io_fail(const std::string& what, const std::string& path, int err = errno) {
  fail(ExitCode::failure,
       fmt::format("cannot {} {}: {}{}", what, path, std::strerror(err),
                   err == ENOSPC ? " (no space left: free space on that filesystem and run again)" : ""));
}

std::int64_t ns(const timespec& t) { return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

std::string parent_of(const std::string& dir) { return fs::path(dir).parent_path().string(); }
std::string name_of(const std::string& dir) { return fs::path(dir).filename().string(); }

bool lstat_ok(const std::string& p, struct stat& st) { return ::lstat(p.c_str(), &st) == 0; }
bool exists_nofollow(const std::string& p) {
  struct stat st {};
  return lstat_ok(p, st);
}

using util::Fd;

// Copies file bytes: a clone when the filesystem can, else copy_file_range, else read/write.
bool copy_bytes(int in, int out, std::uint64_t size, const std::string& dst) {
  if (::ioctl(out, FICLONE, in) == 0) return true;
  std::uint64_t done = 0;
  bool plain = false;
  while (done < size) {
    ssize_t n = -1;
    if (!plain) {
      n = ::copy_file_range(in, nullptr, out, nullptr, size - done, 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
        plain = true;
        continue;
      }
    } else {
      char buf[1 << 16];
      n = ::read(in, buf, sizeof buf);
      if (n > 0) {
        for (ssize_t off = 0; off < n;) {
          const ssize_t w = ::write(out, buf + off, static_cast<std::size_t>(n - off));
          if (w < 0) io_fail("write", dst);
          off += w;
        }
      }
    }
    if (n < 0) io_fail("copy into", dst);
    if (n == 0) break; // the file shrank while it was read: the update pass sees the new size
    done += static_cast<std::uint64_t>(n);
  }
  return false;
}

// Copies one entry (not a directory's children); directories get their metadata later (apply_dir_meta).
class Copier {
public:
  explicit Copier(CopyStats& st) : st_(st) {}
  void reset_links() { links_.clear(); }

  void entry(const std::string& src, const std::string& dst, const struct stat& s) {
    switch (s.st_mode & S_IFMT) {
    case S_IFDIR:
      if (::mkdir(dst.c_str(), 0700) != 0 && errno != EEXIST) io_fail("create directory", dst);
      break;
    case S_IFREG:
      file(src, dst, s);
      break;
    case S_IFLNK: {
      std::vector<char> target(static_cast<std::size_t>(s.st_size) + 2);
      const ssize_t n = ::readlink(src.c_str(), target.data(), target.size());
      if (n < 0) io_fail("read symlink", src);
      if (::symlink(std::string(target.data(), static_cast<std::size_t>(n)).c_str(), dst.c_str()) != 0)
        io_fail("create symlink", dst);
      meta_link(dst, s);
      break;
    }
    case S_IFIFO:
      if (::mkfifo(dst.c_str(), 0600) != 0) io_fail("create fifo", dst);
      meta_path(dst, s);
      break;
    case S_IFSOCK:
      log::event(log::Level::warning, "snapshot", "socket-skipped",
                 src + ": socket not copied (its server makes a new one when it starts)");
      return;
    default:
      fail(ExitCode::bad_input, src + " is a device node; the data set may not hold devices (they could not be "
                                      "restored on a hardened host): move it out of the data set");
    }
    ++st_.entries;
  }

private:
  void file(const std::string& src, const std::string& dst, const struct stat& s) {
    if (s.st_nlink > 1) {
      const auto key = std::make_pair(static_cast<std::uint64_t>(s.st_dev), static_cast<std::uint64_t>(s.st_ino));
      if (auto it = links_.find(key); it != links_.end()) {
        if (::link(it->second.c_str(), dst.c_str()) != 0) io_fail("link", dst);
        return;
      }
      links_[key] = dst;
    }
    Fd in(::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (in.get() < 0) io_fail("open", src);
    Fd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (out.get() < 0) io_fail("create", dst);
    if (copy_bytes(in.get(), out.get(), static_cast<std::uint64_t>(s.st_size), dst)) st_.reflinked = true;
    st_.bytes += static_cast<std::uint64_t>(s.st_size);
    if (::fchown(out.get(), s.st_uid, s.st_gid) != 0 && errno != EPERM) io_fail("chown", dst);
    if (::fchmod(out.get(), s.st_mode & 07777) != 0) io_fail("chmod", dst);
    const timespec times[2] = {s.st_atim, s.st_mtim};
    if (::futimens(out.get(), times) != 0) io_fail("set times of", dst);
  }
  static void meta_link(const std::string& dst, const struct stat& s) {
    if (::lchown(dst.c_str(), s.st_uid, s.st_gid) != 0 && errno != EPERM) io_fail("chown", dst);
    const timespec times[2] = {s.st_atim, s.st_mtim};
    ::utimensat(AT_FDCWD, dst.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  static void meta_path(const std::string& dst, const struct stat& s) {
    meta_link(dst, s);
    if (::chmod(dst.c_str(), s.st_mode & 07777) != 0) io_fail("chmod", dst);
  }

  CopyStats& st_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> links_; // source inode -> first copy
};

// Sets mode, owner and times of each directory, deepest first (setting them changes no parent's mtime).
void apply_dir_meta(const std::string& src_root, const std::string& dst_root, std::vector<std::string> dirs) {
  std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& rel : dirs) {
    const std::string src = rel.empty() ? src_root : src_root + "/" + rel;
    const std::string dst = rel.empty() ? dst_root : dst_root + "/" + rel;
    struct stat s {};
    if (!lstat_ok(src, s)) continue; // gone meanwhile: the next update removes it
    if (::lchown(dst.c_str(), s.st_uid, s.st_gid) != 0 && errno != EPERM) io_fail("chown", dst);
    if (::chmod(dst.c_str(), s.st_mode & 07777) != 0) io_fail("chmod", dst);
    const timespec times[2] = {s.st_atim, s.st_mtim};
    if (::utimensat(AT_FDCWD, dst.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) io_fail("set times of", dst);
  }
}

void sync_tree(const std::string& path) {
  Fd d(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.get() < 0 || ::syncfs(d.get()) != 0) io_fail("sync", path);
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) fail(ExitCode::failure, "cannot remove " + path + ": " + ec.message());
}

} // namespace

std::string snapshot_path(const std::string& dir, const std::string& tag) {
  return parent_of(dir) + "/.airlock-snapshot-" + tag + "-" + name_of(dir);
}

bool snapshot_exists(const std::string& dir, const std::string& tag) {
  return exists_nofollow(snapshot_path(dir, tag));
}

bool supports_reflink(const std::string& dir) {
  const std::string base = parent_of(dir) + "/.airlock-reflink-probe-" + std::to_string(::getpid());
  bool ok = false;
  {
    // New files only (a leftover, or a link planted at the name, is unlinked first): nothing else is written.
    ::unlink((base + "-a").c_str());
    ::unlink((base + "-b").c_str());
    Fd a(::open((base + "-a").c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    Fd b(::open((base + "-b").c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (a.get() >= 0 && b.get() >= 0) {
      const std::string block(4096, 'x');
      ok = ::write(a.get(), block.data(), block.size()) == static_cast<ssize_t>(block.size()) &&
           ::ioctl(b.get(), FICLONE, a.get()) == 0;
    }
  }
  ::unlink((base + "-a").c_str());
  ::unlink((base + "-b").c_str());
  return ok;
}

Snapshot::Snapshot(std::string dir, std::string tag) : dir_(std::move(dir)), path_(snapshot_path(dir_, tag)) {}

CopyStats Snapshot::copy() {
  struct stat root {};
  if (!lstat_ok(dir_, root) || !S_ISDIR(root.st_mode)) fail(ExitCode::not_found, dir_ + " is not a directory");
  if (exists_nofollow(path_)) fail(ExitCode::failure, path_ + " exists already; remove it and run again");
  CopyStats st;
  Copier c(st);
  seen_.clear();
  c.entry(dir_, path_, root);
  std::vector<std::string> dirs{""};
  for (auto it = fs::recursive_directory_iterator(dir_); it != fs::recursive_directory_iterator(); ++it) {
    const std::string rel = it->path().lexically_relative(dir_).string();
    struct stat s {};
    if (!lstat_ok(it->path().string(), s)) continue; // removed while we walk: the update pass sees it
    c.entry(it->path().string(), path_ + "/" + rel, s);
    if (S_ISDIR(s.st_mode)) dirs.push_back(rel);
    seen_[rel] = {static_cast<unsigned>(s.st_mode & S_IFMT), s.st_size, ns(s.st_mtim), ns(s.st_ctim), s.st_ino};
  }
  apply_dir_meta(dir_, path_, dirs);
  sync_tree(path_);
  return st;
}

CopyStats Snapshot::update() {
  CopyStats st;
  Copier c(st);
  std::set<std::string> now;
  std::vector<std::string> dirs{""};
  for (auto it = fs::recursive_directory_iterator(dir_); it != fs::recursive_directory_iterator(); ++it) {
    const std::string rel = it->path().lexically_relative(dir_).string();
    struct stat s {};
    if (!lstat_ok(it->path().string(), s)) continue;
    now.insert(rel);
    const Seen cur{static_cast<unsigned>(s.st_mode & S_IFMT), s.st_size, ns(s.st_mtim), ns(s.st_ctim), s.st_ino};
    if (S_ISDIR(s.st_mode)) dirs.push_back(rel);
    const auto old = seen_.find(rel);
    const bool same = old != seen_.end() && old->second.type == cur.type && old->second.size == cur.size &&
                      old->second.mtime_ns == cur.mtime_ns && old->second.ctime_ns == cur.ctime_ns &&
                      old->second.ino == cur.ino;
    if (same) continue;
    const std::string dst = path_ + "/" + rel;
    struct stat d {};
    const bool keep_dir = S_ISDIR(s.st_mode) && lstat_ok(dst, d) && S_ISDIR(d.st_mode);
    if (!keep_dir) {
      remove_tree(dst);
      c.entry(it->path().string(), dst, s);
    }
    seen_[rel] = cur;
  }
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (now.count(it->first)) {
      ++it;
      continue;
    }
    if (exists_nofollow(path_ + "/" + it->first)) {
      remove_tree(path_ + "/" + it->first);
      ++st.removed;
    }
    it = seen_.erase(it);
  }
  apply_dir_meta(dir_, path_, dirs);
  sync_tree(path_);
  return st;
}

void Snapshot::discard() { remove_tree(path_); }

CopyStats copy_tree(const std::string& src, const std::string& dst) {
  Snapshot s(src, "copy");
  s.path_ = dst;
  return s.copy();
}

void swap_in(const std::string& dir, const std::string& tag) {
  const std::string snap = snapshot_path(dir, tag);
  const std::string old = parent_of(dir) + "/.airlock-old-" + tag + "-" + name_of(dir);
  if (exists_nofollow(snap)) {
    if (exists_nofollow(dir)) {
      remove_tree(old);
      if (::rename(dir.c_str(), old.c_str()) != 0) io_fail("move aside", dir);
    }
    if (::rename(snap.c_str(), dir.c_str()) != 0) io_fail("move the snapshot into", dir);
    util::fsync_dir(parent_of(dir));
  } else if (!exists_nofollow(dir)) {
    fail(ExitCode::failure, fmt::format("neither {} nor its snapshot {} exists{}; restore it from the backup", dir,
                                        snap, exists_nofollow(old) ? " (the tree it replaced is at " + old + ")" : ""));
  }
}

void remove_swapped_out(const std::string& dir, const std::string& tag) {
  remove_tree(parent_of(dir) + "/.airlock-old-" + tag + "-" + name_of(dir));
}

} // namespace airlock::dataset
