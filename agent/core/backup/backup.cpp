#include "backup/backup.hpp"

#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "dataset/snapshot.hpp"
#include "log/log.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"
#include "util/read_ahead.hpp"
#include "util/users.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace airlock::backup {
namespace {

namespace fs = std::filesystem;
using archive::Entry;

constexpr std::size_t kBlock = 1 << 20;
const char* const kTrees[] = {"data", "site"};
const char* const kMarker = ".complete";

std::string sys_error(const std::string& what, const std::string& path, int err = errno) {
  return what + " " + path + ": " + std::strerror(err);
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool exists_nofollow(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

using util::Fd;

// Passes bytes on to `out` and hashes and counts them on the way.
class HashSink : public util::Sink {
public:
  explicit HashSink(util::Sink& out) : out_(out) {}
  void write(const void* data, std::size_t size) override {
    out_.write(data, size);
    sha_.update(data, size);
    size_ += size;
  }
  using Sink::write;
  util::Sha256 sha_;
  std::uint64_t size_ = 0;

private:
  util::Sink& out_;
};

// Hashes the bytes read through it (and reports their count to `progress`).
class HashSource : public util::Source {
public:
  explicit HashSource(util::Source& in, log::Progress* progress = nullptr) : in_(in), progress_(progress) {}
  std::size_t read(void* buf, std::size_t size) override {
    std::size_t n = in_.read(buf, size);
    sha_.update(buf, n);
    if (progress_) progress_->update(done_ += n);
    return n;
  }
  util::Sha256 sha_;

private:
  util::Source& in_;
  log::Progress* progress_;
  std::uint64_t done_ = 0;
};

struct TreeSize {
  std::uint64_t bytes = 0, entries = 0;
};

void measure(const std::string& dir, TreeSize& t) {
  t.entries += 1;
  t.bytes += 1536;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end; !ec && it != end;
       it.increment(ec)) {
    t.entries += 1;
    // Header, pax header and its records (path and link target may each take a 512-byte-rounded record as long
    // as the path), file padding: the worst case.
    t.bytes += 1536 + 2 * (it->path().native().size() + 512);
    auto st = it->symlink_status(ec);
    if (!ec && fs::is_regular_file(st)) t.bytes += it->file_size(ec);
    // Refused before a byte is written: restore could not put a device back (it refuses them, and a hardened
    // service has no CAP_MKNOD), so a backup holding one would make a rollback fail.
    if (!ec && (fs::is_character_file(st) || fs::is_block_file(st)))
      fail(ExitCode::bad_input, it->path().string() + " is a device node, which a backup cannot restore; move it "
                                                      "out of the app's directories, then run again");
    ec.clear();
  }
  if (ec) fail(ExitCode::failure, "cannot scan " + dir + ": " + ec.message());
}

std::string mib(std::uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20); }

std::string hash_file(const std::string& path) {
  util::FileSource in(path);
  util::Sha256 sha;
  std::vector<char> buf(kBlock);
  while (std::size_t n = in.read(buf.data(), buf.size())) sha.update(buf.data(), n);
  return sha.hex_digest();
}

// ---- extraction ----

[[noreturn]] void refuse(const std::string& archive, const std::string& entry, const std::string& why) {
  fail(ExitCode::bad_input, "backup " + archive + " has an entry \"" + entry + "\" " + why +
                                "; it was not made by airlock from a site: do not restore it");
}

// Splits an archive path into checked components: "./" prefixes and trailing '/' are dropped; empty,
// "." and ".." components and absolute paths are refused. The first component must be data or site,
// or the whole path "current" (when allow_current).
std::vector<std::string> split_path(const std::string& archive, const std::string& raw, bool allow_current) {
  std::string p = raw;
  while (p.size() >= 2 && p.compare(0, 2, "./") == 0) p.erase(0, 2);
  while (!p.empty() && p.back() == '/') p.pop_back();
  if (!raw.empty() && raw[0] == '/') refuse(archive, raw, "with an absolute path");
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= p.size()) {
    auto slash = p.find('/', start);
    if (slash == std::string::npos) slash = p.size();
    std::string c = p.substr(start, slash - start);
    if (c.empty() || c == "." || c == "..") refuse(archive, raw, "with an empty, \".\" or \"..\" component");
    parts.push_back(std::move(c));
    start = slash + 1;
  }
  bool ok = parts[0] == "data" || parts[0] == "site" || (allow_current && parts.size() == 1 && parts[0] == "current") ||
            (parts[0] == "volumes" && parts.size() >= 2);
  if (!ok) refuse(archive, raw, "outside data/, site/ and volumes/");
  return parts;
}

struct DirAttrs {
  std::vector<std::string> parts;
  Entry e;
};

class Extractor {
public:
  Extractor(std::string root, std::string archive) : root_(std::move(root)), archive_(std::move(archive)) {
    root_fd_ = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root_fd_ < 0) fail(ExitCode::failure, sys_error("cannot open directory", root_));
  }
  ~Extractor() { ::close(root_fd_); }
  Extractor(const Extractor&) = delete;
  Extractor& operator=(const Extractor&) = delete;

  void extract(archive::TarReader& tar, const Entry& e) {
    if (e.type == Entry::Type::char_device || e.type == Entry::Type::block_device)
      refuse(archive_, e.path, "that is a device");
    auto parts = split_path(archive_, e.path, e.type == Entry::Type::symlink);
    const std::string rel = join(parts);
    Fd dir(open_parent(parts, e.path));
    const char* name = parts.back().c_str();
    if (e.type == Entry::Type::directory) {
      if (::mkdirat(dir.get(), name, 0700) != 0 && errno != EEXIST)
        fail(ExitCode::failure, sys_error("cannot create directory", root_ + "/" + rel));
      struct stat st {};
      if (::fstatat(dir.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
        refuse(archive_, e.path, "that replaces a non-directory");
      dirs_.push_back({parts, e});
      return;
    }
    remove_existing(dir.get(), name, e.path);
    switch (e.type) {
    case Entry::Type::file:
      write_file(tar, dir.get(), name, e, rel);
      return;
    case Entry::Type::symlink:
      if (::symlinkat(e.link_target.c_str(), dir.get(), name) != 0)
        fail(ExitCode::failure, sys_error("cannot create symlink", root_ + "/" + rel));
      set_owner(dir.get(), name, e, rel);
      set_mtime(dir.get(), name, e, rel);
      return;
    case Entry::Type::hardlink: {
      auto target = split_path(archive_, e.link_target, false);
      Fd tdir(open_parent(target, e.link_target));
      if (::linkat(tdir.get(), target.back().c_str(), dir.get(), name, 0) != 0)
        fail(ExitCode::bad_input, sys_error("backup " + archive_ + ": cannot link " + rel + " to", e.link_target));
      return;
    }
    case Entry::Type::fifo:
      if (::mkfifoat(dir.get(), name, 0600) != 0)
        fail(ExitCode::failure, sys_error("cannot create fifo", root_ + "/" + rel));
      set_owner(dir.get(), name, e, rel);
      set_mode(dir.get(), name, e, rel);
      set_mtime(dir.get(), name, e, rel);
      return;
    default:
      refuse(archive_, e.path, "of an unsupported type");
    }
  }

  // Directory modes and mtimes last, deepest first: adding children changes a directory's mtime, and a
  // 0500 directory could not take its children.
  void finish_dirs() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      Fd dir(open_parent(it->parts, it->e.path));
      const std::string rel = join(it->parts);
      const char* name = it->parts.back().c_str();
      set_owner(dir.get(), name, it->e, rel);
      set_mode(dir.get(), name, it->e, rel);
      set_mtime(dir.get(), name, it->e, rel);
    }
  }

private:
  static std::string join(const std::vector<std::string>& parts) {
    std::string s;
    for (const auto& p : parts) s += (s.empty() ? "" : "/") + p;
    return s;
  }

  // Opens the directory holding the last component, never following a symlink; creates missing
  // parents (an archive need not list them).
  int open_parent(const std::vector<std::string>& parts, const std::string& raw) {
    int fd = ::dup(root_fd_);
    if (fd < 0) fail(ExitCode::failure, sys_error("cannot open directory", root_));
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      const char* c = parts[i].c_str();
      int next = ::openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0 && errno == ENOENT) {
        ::mkdirat(fd, c, 0755);
        next = ::openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      int err = errno;
      ::close(fd);
      if (next < 0) {
        if (err == ELOOP || err == ENOTDIR) refuse(archive_, raw, "whose path goes through a symlink or a file");
        fail(ExitCode::failure, sys_error("cannot open directory in", root_ + " for " + raw, err));
      }
      fd = next;
    }
    return fd;
  }

  void remove_existing(int dir, const char* name, const std::string& raw) {
    struct stat st {};
    if (::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    if (S_ISDIR(st.st_mode)) refuse(archive_, raw, "that replaces a directory");
    if (::unlinkat(dir, name, 0) != 0) fail(ExitCode::failure, sys_error("cannot replace", root_ + "/" + raw));
  }

  void write_file(archive::TarReader& tar, int dir, const char* name, const Entry& e, const std::string& rel) {
    const std::string path = root_ + "/" + rel;
    Fd fd(::openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd.get() < 0) fail(ExitCode::failure, sys_error("cannot create", path));
    std::vector<char>& buf = buf_;
    buf.resize(kBlock);
    while (std::size_t n = tar.read(buf.data(), buf.size())) {
      const char* p = buf.data();
      while (n > 0) {
        ssize_t w = ::write(fd.get(), p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) fail(ExitCode::failure, sys_error("cannot write", path));
        p += w;
        n -= static_cast<std::size_t>(w);
      }
    }
    if (::geteuid() == 0 && ::fchown(fd.get(), e.uid, e.gid) != 0)
      fail(ExitCode::failure, sys_error("cannot set the owner of", path));
    if (::fchmod(fd.get(), e.mode) != 0) fail(ExitCode::failure, sys_error("cannot set the mode of", path));
    timespec ts[2] = {{e.mtime, 0}, {e.mtime, 0}};
    if (::futimens(fd.get(), ts) != 0) fail(ExitCode::failure, sys_error("cannot set the mtime of", path));
  }

  void set_owner(int dir, const char* name, const Entry& e, const std::string& rel) {
    if (::geteuid() == 0 && ::fchownat(dir, name, e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0)
      fail(ExitCode::failure, sys_error("cannot set the owner of", root_ + "/" + rel));
  }
  void set_mode(int dir, const char* name, const Entry& e, const std::string& rel) {
    if (::fchmodat(dir, name, e.mode, 0) != 0)
      fail(ExitCode::failure, sys_error("cannot set the mode of", root_ + "/" + rel));
  }
  void set_mtime(int dir, const char* name, const Entry& e, const std::string& rel) {
    timespec ts[2] = {{e.mtime, 0}, {e.mtime, 0}};
    if (::utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW) != 0)
      fail(ExitCode::failure, sys_error("cannot set the mtime of", root_ + "/" + rel));
  }

  std::string root_, archive_;
  int root_fd_ = -1;
  std::vector<DirAttrs> dirs_;
  std::vector<char> buf_;
};

void rename_or_fail(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    fail(ExitCode::failure,
         sys_error("cannot rename " + from + " to", to) + "; run the restore again (it recovers the site first)");
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) fail(ExitCode::failure, "cannot remove " + path + ": " + ec.message());
}

// Rolls a complete .restore-<pid> dir forward into app_dir (step 4 of restore()).
void roll_forward(const std::string& app_dir, const std::string& restore_dir, const std::string& pid) {
  for (const char* name : kTrees) {
    const std::string fresh = restore_dir + "/" + name, live = app_dir + "/" + name;
    if (!exists_nofollow(fresh)) continue;
    const std::string old = live + ".old-" + pid;
    if (exists_nofollow(live)) {
      if (exists_nofollow(old)) remove_tree(old);
      rename_or_fail(live, old);
    }
    rename_or_fail(fresh, live);
  }
  if (exists_nofollow(restore_dir + "/current")) rename_or_fail(restore_dir + "/current", app_dir + "/current");
  util::fsync_dir(app_dir);
  remove_tree(restore_dir);
  for (const char* name : kTrees) remove_tree(app_dir + "/" + name + ".old-" + pid);
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  if (ec) fail(ExitCode::failure, "cannot list " + dir + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace

namespace {

// The `current` entry of a backup: the link at `path` as it is (mode, owner, mtime, target).
std::optional<Entry> current_entry(const std::string& path) {
  struct stat cur {};
  if (::lstat(path.c_str(), &cur) != 0) {
    if (errno != ENOENT) fail(ExitCode::failure, sys_error("cannot stat", path));
    return std::nullopt;
  }
  if (!S_ISLNK(cur.st_mode))
    fail(ExitCode::bad_input, path + " is not a symlink; it must point at a release in releases/");
  Entry e;
  e.path = "current";
  e.type = Entry::Type::symlink;
  e.mode = static_cast<std::uint32_t>(cur.st_mode & 07777);
  e.uid = cur.st_uid;
  e.gid = cur.st_gid;
  e.uname = util::user_name(e.uid);
  e.gname = util::group_name(e.gid);
  e.mtime = cur.st_mtim.tv_sec;
  std::vector<char> target(static_cast<std::size_t>(cur.st_size) + 2);
  ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
  if (n < 0 || static_cast<std::size_t>(n) >= target.size())
    fail(ExitCode::failure, sys_error("cannot read symlink", path, n < 0 ? errno : EAGAIN));
  e.link_target.assign(target.data(), static_cast<std::size_t>(n));
  return e;
}

BackupResult write_backup(const std::vector<Tree>& trees, const std::optional<Entry>& current,
                          const std::string& out_path, Compression gz, const util::FreeBytes& free_bytes) {
  TreeSize t;
  for (const auto& tree : trees) {
    struct stat st {};
    if (::lstat(tree.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      fail(ExitCode::not_found, "cannot back up " + tree.name + ": " + tree.dir + " is not a directory");
    measure(tree.dir, t);
  }
  if (current) t.entries += 1;
  t.bytes += 1536 + 1024;
  const std::string out_dir = parent_dir(out_path);
  const std::uint64_t free = free_bytes(out_dir);
  if (free < t.bytes)
    fail(ExitCode::failure, "backup " + out_path + " needs about " + mib(t.bytes) + " MiB in " + out_dir + ", " +
                                std::to_string(free >> 20) + " MiB free; free space or lower retention");
  BackupResult r;
  r.path = out_path;
  r.file_count = t.entries;
  try {
    util::AtomicFile file(out_path, 0600);
    HashSink tee(file);
    auto zipped = archive::make_gzip_writer(tee, gz.level, gz.threads);
    log::Progress progress("backup " + (trees.empty() ? out_path : parent_dir(trees.front().dir)), t.bytes);
    log::ProgressSink counted(*zipped, progress);
    archive::TarWriter tar(counted);
    for (const auto& tree : trees) tar.add_tree(tree.dir, tree.name);
    for (const auto& sock : tar.skipped_sockets())
      log::event(log::Level::warning, "backup", "socket-skipped",
                 fmt::format("{}: socket not backed up (a tar archive cannot hold one; its server makes a new one "
                             "when it starts)",
                             sock));
    if (current) tar.add(*current, nullptr);
    tar.finish();
    progress.finish();
    zipped->finish();
    file.commit();
    r.size = tee.size_;
    r.sha256 = tee.sha_.hex_digest();
  } catch (const Error& e) {
    fail(e.code(), "backup " + out_path + " was not written: " + e.what());
  }
  return r;
}

} // namespace

BackupResult create(const std::string& app_dir, const std::string& out_path, Compression gz,
                    const util::FreeBytes& free_bytes) {
  std::vector<Tree> trees;
  for (const char* name : kTrees) trees.push_back({name, app_dir + "/" + name});
  return write_backup(trees, current_entry(app_dir + "/current"), out_path, gz, free_bytes);
}

BackupResult create(const std::vector<Tree>& trees, const std::string& current_target, const std::string& out_path,
                    Compression gz, const util::FreeBytes& free_bytes) {
  std::optional<Entry> current;
  if (!current_target.empty()) {
    Entry e;
    e.path = "current";
    e.type = Entry::Type::symlink;
    e.mode = 0777;
    e.uid = ::geteuid();
    e.gid = ::getegid();
    e.uname = util::user_name(e.uid);
    e.gname = util::group_name(e.gid);
    e.mtime = static_cast<std::int64_t>(std::time(nullptr));
    e.link_target = current_target;
    current = e;
  }
  return write_backup(trees, current, out_path, gz, free_bytes);
}

void verify(const std::string& path, const std::string& sha256) {
  std::string got = hash_file(path);
  if (got != lower(sha256))
    fail(ExitCode::verify_failed,
         "backup " + path + " is damaged: SHA-256 is " + got + ", recorded " + lower(sha256) + "; do not restore it");
}

namespace {

std::vector<std::string> stage_volumes(const std::string& rdir, const std::string& path, const std::string& pid,
                                       const std::map<std::string, std::string>& volume_dirs) {
  std::vector<std::string> staged;
  const std::string vdir = rdir + "/volumes";
  if (!exists_nofollow(vdir)) return staged;
  for (const auto& key : list_dir(vdir)) {
    auto it = volume_dirs.find(key);
    if (it == volume_dirs.end()) {
      log::event(log::Level::warning, "backup", "volume-skipped",
                 fmt::format("backup {} holds volume {}, which the project does not have now; it was left out "
                             "(restore it by hand: tar -xzf {} -C <mountpoint> --strip-components=2 volumes/{})",
                             path, key, path, key));
      continue;
    }
    dataset::copy_tree(vdir + "/" + key, dataset::snapshot_path(it->second, "restore-" + pid));
    staged.push_back(key);
  }
  remove_tree(vdir);
  return staged;
}

} // namespace

void restore(const std::string& app_dir, const std::string& path, const std::string& sha256,
             const std::map<std::string, std::string>& volume_dirs) {
  recover(app_dir);
  std::vector<std::string> volumes; // keys staged next to their mountpoints
  verify(path, sha256);
  const std::string pid = std::to_string(::getpid());
  const std::string rdir = app_dir + "/.restore-" + pid;
  if (::mkdir(rdir.c_str(), 0700) != 0) fail(ExitCode::failure, sys_error("cannot create directory", rdir));
  try {
    // Opened before the first file is written: syncfs(2) reports the filesystem's writeback errors since this
    // descriptor was opened (Linux 5.8+), so a page that failed to reach the disk during the extraction counts.
    Fd sync_fd(::open(rdir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (sync_fd.get() < 0) fail(ExitCode::failure, sys_error("cannot open directory", rdir));
    {
      util::FileSource file(path);
      log::Progress progress("restore " + path, file.size());
      HashSource hashed(file, &progress);
      archive::GzipSource gz(hashed, path);
      Extractor x(rdir, path);
      {
        // Reading, hashing and decompressing on a thread of their own, while this one writes the files.
        util::ReadAheadSource ahead(gz);
        archive::TarReader tar(ahead, path);
        Entry e;
        while (tar.next(e)) x.extract(tar, e);
      }
      std::vector<char> rest(64 * 1024);
      while (hashed.read(rest.data(), rest.size()) > 0) {
      }
      if (hashed.sha_.hex_digest() != lower(sha256))
        fail(ExitCode::verify_failed, "backup " + path + " changed while it was restored; do not restore it");
      for (const char* name : kTrees) {
        struct stat st {};
        const std::string d = rdir + "/" + name;
        if (::lstat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
          fail(ExitCode::bad_input, "backup " + path + " holds no " + name + "/ directory; it is not a site backup");
      }
      x.finish_dirs();
    }
    const std::string live_current = app_dir + "/current";
    struct stat lc {};
    if (exists_nofollow(rdir + "/current") && ::lstat(live_current.c_str(), &lc) == 0 && !S_ISLNK(lc.st_mode))
      fail(ExitCode::failure, live_current + " is not a symlink, so it cannot be switched; move it away and run again");
    // One syncfs instead of an fsync per file: every file, directory and attribute of the extraction is on disk
    // before the marker says so (data/ and site/ share app_dir's filesystem; see restore() in backup.hpp).
    if (::syncfs(sync_fd.get()) != 0)
      fail(ExitCode::failure, sys_error("cannot sync", rdir) + "; the site is unchanged: check the disk (dmesg)");
    volumes = stage_volumes(rdir, path, pid, volume_dirs);
    util::write_file_atomic(rdir + "/" + kMarker, "");
    util::fsync_dir(app_dir);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(rdir, ec);
    for (const auto& [key, dir] : volume_dirs) fs::remove_all(dataset::snapshot_path(dir, "restore-" + pid), ec);
    throw;
  }
  roll_forward(app_dir, rdir, pid);
  for (const auto& key : volumes) {
    dataset::swap_in(volume_dirs.at(key), "restore-" + pid);
    dataset::remove_swapped_out(volume_dirs.at(key), "restore-" + pid);
  }
}

void recover(const std::string& app_dir) {
  for (const auto& n : list_dir(app_dir)) {
    if (n.rfind(".restore-", 0) != 0) continue;
    const std::string rdir = app_dir + "/" + n;
    if (exists_nofollow(rdir + "/" + kMarker))
      roll_forward(app_dir, rdir, n.substr(std::strlen(".restore-")));
    else
      remove_tree(rdir);
  }
  const auto names = list_dir(app_dir);
  for (const char* name : kTrees) {
    const std::string prefix = std::string(name) + ".old-";
    std::vector<std::string> olds;
    for (const auto& n : names)
      if (n.rfind(prefix, 0) == 0) olds.push_back(app_dir + "/" + n);
    const std::string live = app_dir + "/" + name;
    if (olds.empty()) continue;
    if (exists_nofollow(live)) {
      for (const auto& o : olds) remove_tree(o);
    } else if (olds.size() == 1) {
      rename_or_fail(olds[0], live);
    } else {
      std::string list;
      for (const auto& o : olds) list += " " + o;
      fail(ExitCode::failure, live + " is missing and there are several earlier copies:" + list +
                                  "; rename the right one to " + live + " and remove the others");
    }
  }
  util::fsync_dir(app_dir);
}

} // namespace airlock::backup
