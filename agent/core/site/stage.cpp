#include "site/stage.hpp"

#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "site/layout.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <memory>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace airlock::site {
namespace {

namespace fs = std::filesystem;
using archive::Entry;
using release::FileEntry;
using release::Manifest;

std::string sys_error(const std::string& what, const std::string& path, int err) {
  std::string msg = fmt::format("cannot {} {}: {}", what, path, std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) msg += " (the filesystem is full: free space there and run again)";
  return msg;
}

[[noreturn]] void sys_fail(const std::string& what, const std::string& path, int err) {
  fail(ExitCode::failure, sys_error(what, path, err));
}

using util::Fd;

constexpr int dir_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

Fd open_dir(const std::string& path) {
  Fd fd(::open(path.c_str(), dir_flags));
  if (fd.get() < 0) sys_fail("open directory", path, errno);
  return fd;
}

void fsync_fd(int fd, const std::string& path) {
  if (::fsync(fd) != 0 && errno != EINVAL) sys_fail("fsync", path, errno);
}

bool exists_nofollow(const std::string& path, struct stat& st) {
  if (::lstat(path.c_str(), &st) == 0) return true;
  if (errno != ENOENT) sys_fail("stat", path, errno);
  return false;
}

std::vector<std::string> split(const std::string& p) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    parts.push_back(p.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string mode_str(std::uint32_t mode) { return fmt::format("0{:o}", mode); }

// The directory that holds `rel` inside the tree at `root`, opened without following any symlink.
// `leaf` receives the last component. An entry that would go through a symlink or a non-directory is refused.
Fd open_parent(int root, const std::string& tree, const std::string& rel, std::string& leaf) {
  std::vector<std::string> parts = split(rel);
  leaf = parts.back();
  Fd dir(::dup(root));
  if (dir.get() < 0) sys_fail("dup directory of", tree, errno);
  std::string walked;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    walked += (walked.empty() ? "" : "/") + parts[i];
    Fd next(::openat(dir.get(), parts[i].c_str(), dir_flags));
    if (next.get() < 0) {
      int e = errno;
      struct stat st {};
      if (::fstatat(dir.get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        fail(ExitCode::bad_input, fmt::format("entry '{}' goes through the symlink '{}'; refused", rel, walked));
      if (e == ENOENT || e == ENOTDIR)
        fail(ExitCode::bad_input,
             fmt::format("entry '{}': its parent '{}' is not a directory created before it", rel, walked));
      sys_fail("open directory", tree + "/" + walked, e);
    }
    dir = std::move(next);
  }
  return dir;
}

// Removes `<tree>` unless commit() was called: a refused or failed staging leaves no `.partial` behind.
class PartialGuard {
public:
  explicit PartialGuard(std::string path) : path_(std::move(path)) {}
  ~PartialGuard() {
    if (!committed_) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  PartialGuard(const PartialGuard&) = delete;
  PartialGuard& operator=(const PartialGuard&) = delete;
  void commit() { committed_ = true; }

private:
  std::string path_;
  bool committed_ = false;
};

// "./a/b/" -> "a/b"; "./" -> "".
std::string normalize(std::string p) {
  while (p.starts_with("./")) p.erase(0, 2);
  if (p == ".") p.clear();
  if (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

const char* type_name(FileEntry::Type t) {
  switch (t) {
  case FileEntry::Type::file:
    return "a file";
  case FileEntry::Type::dir:
    return "a directory";
  case FileEntry::Type::symlink:
    return "a symlink";
  }
  return "?";
}

[[noreturn]] void refuse_entry(const std::string& what, const std::string& path, const std::string& why) {
  fail(ExitCode::bad_input, fmt::format("{}: entry '{}' {}; refused", what, path, why));
}

// Applies the archive policy to one entry (path already normalized and non-empty); returns its listing.
const FileEntry& check_entry(const Entry& e, const std::string& path,
                             const std::map<std::string, const FileEntry*>& listed, const std::string& what) {
  auto refuse = [&](const std::string& why) { refuse_entry(what, e.path, why); };
  if (path.starts_with("/")) refuse("is an absolute path");
  for (const auto& part : split(path))
    if (part == "..") refuse("has a '..' component");
  if (!release::is_safe_relative_path(path)) refuse("is not a safe relative path (empty or '.' component)");

  FileEntry::Type type = FileEntry::Type::file;
  switch (e.type) {
  case Entry::Type::file:
    break;
  case Entry::Type::directory:
    type = FileEntry::Type::dir;
    break;
  case Entry::Type::symlink:
    type = FileEntry::Type::symlink;
    break;
  case Entry::Type::hardlink:
    refuse_entry(what, e.path, "is a hard link (to '" + e.link_target + "'); release trees may not contain hard links");
  case Entry::Type::char_device:
    refuse_entry(what, e.path, "is a character device");
  case Entry::Type::block_device:
    refuse_entry(what, e.path, "is a block device");
  case Entry::Type::fifo:
    refuse_entry(what, e.path, "is a FIFO");
  }

  if (type == FileEntry::Type::symlink) {
    const std::string& t = e.link_target;
    if (t.empty()) refuse("is a symlink with an empty target");
    if (t.starts_with("/")) refuse("is a symlink to the absolute path '" + t + "'");
    std::vector<std::string> parts = split(path);
    parts.pop_back(); // the link's own directory
    for (const auto& part : split(t)) {
      if (part.empty() || part == ".") continue;
      if (part != "..") {
        parts.push_back(part);
      } else if (parts.empty()) {
        refuse("is a symlink to '" + t + "', which leaves the tree");
      } else {
        parts.pop_back();
      }
    }
  }

  auto it = listed.find(path);
  if (it == listed.end()) refuse("is not listed in release.json");
  const FileEntry& fe = *it->second;
  if (fe.type != type)
    refuse(fmt::format("is {} in the archive but {} in release.json", type_name(type), type_name(fe.type)));
  if (type != FileEntry::Type::symlink && e.mode != fe.mode) {
    if ((e.mode & 06000) != 0)
      refuse(fmt::format("has setuid/setgid bits (mode {}) that release.json does not declare (mode {})",
                         mode_str(e.mode), mode_str(fe.mode)));
    refuse(fmt::format("has mode {} but release.json says {}", mode_str(e.mode), mode_str(fe.mode)));
  }
  if (type == FileEntry::Type::symlink && e.link_target != fe.target)
    refuse(fmt::format("points to '{}' but release.json says '{}'", e.link_target, fe.target));
  if (type == FileEntry::Type::file && e.size != fe.size)
    refuse(fmt::format("has {} bytes but release.json says {}", e.size, fe.size));
  return fe;
}

// How many symlinks one resolution may pass through (SYMLOOP_MAX on Linux is 40).
constexpr int max_link_hops = 40;

// Resolves the symlink `link` of the listing through the listing's own symlinks, as the kernel would resolve
// it in the finished tree; returns why it leaves the tree, or "" when it stays inside. `links`: path -> target.
std::string link_escape(const std::string& link, const std::map<std::string, std::string>& links) {
  std::vector<std::string> at = split(link); // the components resolved so far
  at.pop_back();                             // the link's own directory
  std::vector<std::string> todo = split(links.at(link));
  std::reverse(todo.begin(), todo.end()); // a stack: the next component at the back
  int hops = 0;
  while (!todo.empty()) {
    const std::string part = todo.back();
    todo.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (at.empty()) return "leaves the tree";
      at.pop_back();
      continue;
    }
    at.push_back(part);
    std::string path;
    for (const auto& a : at) path += (path.empty() ? "" : "/") + a;
    auto it = links.find(path);
    if (it == links.end()) continue;
    if (++hops > max_link_hops) return fmt::format("passes through more than {} symlinks", max_link_hops);
    if (it->second.empty() || it->second.starts_with("/"))
      return fmt::format("leads through the symlink '{}' to '{}'", path, it->second);
    at.pop_back(); // a link's target is relative to the link's directory
    std::vector<std::string> more = split(it->second);
    for (auto m = more.rbegin(); m != more.rend(); ++m) todo.push_back(*m);
  }
  return "";
}

void write_all(int fd, const char* data, std::size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      sys_fail("write", path, errno);
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Writes one entry below `root` (the tree at `tree`) without following any symlink. Files and symlinks
// go to a temp name in their directory and are renamed over whatever non-directory was there; files are
// fsynced first. Directories are created 0700; finish_dirs() gives them their listed modes.
void write_entry(int root, const std::string& tree, const std::string& path, const FileEntry& fe,
                 const std::string& target, archive::TarReader& tar) {
  std::string leaf;
  Fd dir = open_parent(root, tree, path, leaf);
  std::string full = tree + "/" + path;
  struct stat st {};
  bool exists = ::fstatat(dir.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;

  if (fe.type == FileEntry::Type::dir) {
    if (exists && S_ISDIR(st.st_mode)) return;
    if (exists && ::unlinkat(dir.get(), leaf.c_str(), 0) != 0) sys_fail("remove", full, errno);
    if (::mkdirat(dir.get(), leaf.c_str(), 0700) != 0) sys_fail("create directory", full, errno);
    return;
  }
  if (exists && S_ISDIR(st.st_mode))
    fail(ExitCode::bad_input,
         fmt::format("entry '{}' would replace a directory; the patch must delete it first; refused", path));

  std::string tmp = "." + leaf + ".airlock-tmp"; // the tree is fresh: O_EXCL / EEXIST catch a clash
  if (fe.type == FileEntry::Type::symlink) {
    if (::symlinkat(target.c_str(), dir.get(), tmp.c_str()) != 0) sys_fail("create symlink", full, errno);
  } else {
    Fd out(::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (out.get() < 0) sys_fail("create", full, errno);
    std::vector<char> buf(1 << 16);
    while (std::size_t n = tar.read(buf.data(), buf.size())) write_all(out.get(), buf.data(), n, full);
    if (::fchmod(out.get(), static_cast<mode_t>(fe.mode)) != 0) sys_fail("chmod", full, errno);
    fsync_fd(out.get(), full);
  }
  if (::renameat(dir.get(), tmp.c_str(), dir.get(), leaf.c_str()) != 0) sys_fail("rename into place", full, errno);
}

std::size_t depth(const std::string& p) { return static_cast<std::size_t>(std::count(p.begin(), p.end(), '/')); }

// Gives every listed directory its mode and fsyncs it, deepest first, then fsyncs the root.
void finish_dirs(int root, const std::string& tree, const Manifest& m) {
  std::vector<const FileEntry*> dirs;
  for (const auto& f : m.files)
    if (f.type == FileEntry::Type::dir) dirs.push_back(&f);
  std::stable_sort(dirs.begin(), dirs.end(),
                   [](const FileEntry* a, const FileEntry* b) { return depth(a->path) > depth(b->path); });
  for (const FileEntry* f : dirs) {
    std::string leaf;
    Fd parent = open_parent(root, tree, f->path, leaf);
    Fd d(::openat(parent.get(), leaf.c_str(), dir_flags));
    if (d.get() < 0) continue; // missing or not a directory: verify_tree() reports it
    if (::fchmod(d.get(), static_cast<mode_t>(f->mode)) != 0) sys_fail("chmod", tree + "/" + f->path, errno);
    fsync_fd(d.get(), tree + "/" + f->path);
  }
  if (::fchmod(root, 0755) != 0) sys_fail("chmod", tree, errno);
  fsync_fd(root, tree);
}

// Reads every entry of the archive and writes it into the tree, applying the policy.
void extract(util::Source& tar_gz, const std::string& what, int root, const std::string& tree, const Manifest& m) {
  std::map<std::string, const FileEntry*> listed;
  for (const auto& f : m.files) listed[f.path] = &f;
  archive::GzipSource gz(tar_gz, what);
  archive::TarReader tar(gz, what);
  std::set<std::string> seen;
  Entry e;
  while (tar.next(e)) {
    std::string path = normalize(e.path);
    if (path.empty() && e.type == Entry::Type::directory) continue; // "./": the root itself
    const FileEntry& fe = check_entry(e, path, listed, what);
    if (!seen.insert(path).second)
      fail(ExitCode::bad_input, fmt::format("{}: entry '{}' appears twice; refused", what, e.path));
    write_entry(root, tree, path, fe, e.link_target, tar);
  }
}

// True when `final_dir` is already staged and verifies; throws when it exists but does not verify.
bool already_staged(const std::string& final_dir, const Manifest& m) {
  struct stat st {};
  if (!exists_nofollow(final_dir, st)) return false;
  try {
    if (!S_ISDIR(st.st_mode)) fail(ExitCode::verify_failed, final_dir + " is not a directory");
    verify_tree(final_dir, m);
  } catch (const Error& err) {
    fail(ExitCode::failure, fmt::format("{} already exists but does not match release.json of {} {} ({}); remove it "
                                        "and run again",
                                        final_dir, m.app, m.version, err.what()));
  }
  return true;
}

// Removes a leftover `.partial` and creates it afresh.
void fresh_partial(const std::string& partial) {
  std::error_code ec;
  fs::remove_all(partial, ec);
  if (ec) fail(ExitCode::failure, fmt::format("cannot remove the leftover {}: {}", partial, ec.message()));
  if (::mkdir(partial.c_str(), 0700) != 0) sys_fail("create directory", partial, errno);
}

// releases/ is not writable by group or others, whatever the umask made it: whoever can write it can swap trees.
void secure_releases_dir(const std::string& releases_dir) {
  Fd d = open_dir(releases_dir);
  struct stat st {};
  if (::fstat(d.get(), &st) != 0) sys_fail("stat", releases_dir, errno);
  if ((st.st_mode & 022) != 0 && ::fchmod(d.get(), st.st_mode & 07755) != 0) sys_fail("chmod", releases_dir, errno);
}

// Verifies the partial tree, renames it to its final name and makes the rename durable.
void commit_partial(const std::string& releases_dir, const std::string& partial, const std::string& final_dir,
                    const Manifest& m, PartialGuard& guard) {
  verify_tree(partial, m);
  if (::rename(partial.c_str(), final_dir.c_str()) != 0) sys_fail("rename to " + final_dir, partial, errno);
  guard.commit();
  util::fsync_dir(releases_dir);
}

// Copies the tree below `src` into `dst` (both open directories): hard links for files, new directories
// (0700 until finish_dirs()) and symlinks. Anything else is not part of a release tree.
void link_copy(int src, int dst, const std::string& src_path, const std::string& dst_path) {
  std::vector<std::string> names;
  {
    int fd = ::dup(src);
    if (fd < 0) sys_fail("dup directory of", src_path, errno);
    std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd), ::closedir);
    if (!d) {
      int e = errno;
      ::close(fd);
      sys_fail("read directory", src_path, e);
    }
    while (dirent* de = ::readdir(d.get())) {
      std::string name = de->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
  }

  for (const auto& name : names) {
    std::string s = src_path + "/" + name, t = dst_path + "/" + name;
    struct stat st {};
    if (::fstatat(src, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) sys_fail("stat", s, errno);
    if (S_ISREG(st.st_mode)) {
      if (::linkat(src, name.c_str(), dst, name.c_str(), 0) != 0) sys_fail("hard link " + s + " as", t, errno);
    } else if (S_ISLNK(st.st_mode)) {
      std::vector<char> buf(static_cast<std::size_t>(st.st_size) + 2);
      ssize_t n = ::readlinkat(src, name.c_str(), buf.data(), buf.size());
      if (n < 0) sys_fail("read symlink", s, errno);
      std::string target(buf.data(), static_cast<std::size_t>(n));
      if (::symlinkat(target.c_str(), dst, name.c_str()) != 0) sys_fail("create symlink", t, errno);
    } else if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(dst, name.c_str(), 0700) != 0) sys_fail("create directory", t, errno);
      Fd s_fd(::openat(src, name.c_str(), dir_flags));
      if (s_fd.get() < 0) sys_fail("open directory", s, errno);
      Fd t_fd(::openat(dst, name.c_str(), dir_flags));
      if (t_fd.get() < 0) sys_fail("open directory", t, errno);
      link_copy(s_fd.get(), t_fd.get(), s, t);
    } else {
      fail(ExitCode::failure, fmt::format("{} is not a file, directory or symlink; the base tree is damaged", s));
    }
  }
}

// Removes m.deletes from the tree, deepest first, never following a symlink. Absent entries are fine.
void apply_deletes(int root, const std::string& tree, const Manifest& m) {
  std::vector<std::string> deletes = m.deletes;
  std::stable_sort(deletes.begin(), deletes.end(),
                   [](const std::string& a, const std::string& b) { return depth(a) > depth(b); });
  for (const auto& path : deletes) {
    if (!release::is_safe_relative_path(path))
      fail(ExitCode::bad_input, fmt::format("delete entry '{}' is not a safe relative path; refused", path));
    std::string leaf;
    Fd dir = open_parent(root, tree, path, leaf);
    struct stat st {};
    if (::fstatat(dir.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      sys_fail("stat", tree + "/" + path, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      std::error_code ec;
      fs::remove_all(tree + "/" + path, ec); // the parents were just checked to be real directories
      if (ec) fail(ExitCode::failure, fmt::format("cannot remove {}/{}: {}", tree, path, ec.message()));
    } else if (::unlinkat(dir.get(), leaf.c_str(), 0) != 0) {
      sys_fail("remove", tree + "/" + path, errno);
    }
  }
}

} // namespace

void check_tree_policy(const Manifest& m) {
  auto refuse = [&](const std::string& path, const std::string& why) {
    fail(ExitCode::bad_input, fmt::format("release.json of {} {}: entry '{}' {}; refused (a release tree grants no "
                                          "privileges and reaches nothing outside itself). Nothing was changed.",
                                          m.app, m.version, path, why));
  };
  std::map<std::string, std::string> links;
  for (const auto& f : m.files) {
    if (f.type == FileEntry::Type::symlink) {
      links[f.path] = f.target;
      continue;
    }
    if (f.type == FileEntry::Type::file && (f.mode & 06000) != 0)
      refuse(f.path, fmt::format("is setuid or setgid (mode {})", mode_str(f.mode)));
    if ((f.mode & 0002) != 0) refuse(f.path, fmt::format("is writable by others (mode {})", mode_str(f.mode)));
  }
  for (const auto& [path, target] : links) {
    if (target.empty()) refuse(path, "is a symlink with an empty target");
    if (target.starts_with("/")) refuse(path, "is a symlink to the absolute path '" + target + "'");
    if (const std::string why = link_escape(path, links); !why.empty())
      refuse(path, fmt::format("is a symlink to '{}', which {} when resolved through the tree's links", target, why));
  }
}

void stage_full(const std::string& releases_dir, const Manifest& m, util::Source& app_tar_gz) {
  check_release_version(m.version);
  check_tree_policy(m);
  secure_releases_dir(releases_dir);
  std::string final_dir = releases_dir + "/" + m.version, partial = final_dir + ".partial";
  if (already_staged(final_dir, m)) return;
  fresh_partial(partial);
  PartialGuard guard(partial);
  Fd root = open_dir(partial);
  extract(app_tar_gz, fmt::format("app tree archive of {} {}", m.app, m.version), root.get(), partial, m);
  finish_dirs(root.get(), partial, m);
  commit_partial(releases_dir, partial, final_dir, m, guard);
}

void stage_patch(const std::string& releases_dir, const std::string& current_version, const Manifest& m,
                 util::Source& patch_tar_gz) {
  if (!m.is_patch || m.base_version != current_version)
    fail(ExitCode::usage,
         fmt::format("release.json of {} {} is {} but the installed version is {}; use the full "
                     "release instead",
                     m.app, m.version, m.is_patch ? "a patch from " + m.base_version : std::string("not a patch"),
                     current_version));
  check_release_version(m.version);
  check_release_version(current_version);
  check_tree_policy(m);
  secure_releases_dir(releases_dir);
  std::string base = releases_dir + "/" + current_version;
  std::string final_dir = releases_dir + "/" + m.version, partial = final_dir + ".partial";
  if (already_staged(final_dir, m)) return;
  struct stat st {};
  if (!exists_nofollow(base, st) || !S_ISDIR(st.st_mode))
    fail(ExitCode::not_found,
         fmt::format("the base release {} of the patch to {} is not staged at {}", current_version, m.version, base));
  fresh_partial(partial);
  PartialGuard guard(partial);
  Fd root = open_dir(partial);
  {
    Fd base_fd = open_dir(base);
    link_copy(base_fd.get(), root.get(), base, partial);
  }
  apply_deletes(root.get(), partial, m);
  extract(patch_tar_gz, fmt::format("patch archive of {} {} from {}", m.app, m.version, current_version), root.get(),
          partial, m);
  finish_dirs(root.get(), partial, m);
  commit_partial(releases_dir, partial, final_dir, m, guard);
}

void verify_tree(const std::string& dir, const Manifest& m) {
  struct stat root_st {};
  if (!exists_nofollow(dir, root_st) || !S_ISDIR(root_st.st_mode))
    fail(ExitCode::not_found, fmt::format("release tree {} does not exist", dir));

  std::map<std::string, struct stat> actual; // relative path -> lstat, symlinks never followed
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string full = it->path().string();
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) sys_fail("stat", full, errno);
    actual[full.substr(dir.size() + 1)] = st;
  }
  if (ec) fail(ExitCode::failure, fmt::format("cannot read the tree {}: {}", dir, ec.message()));

  std::vector<std::string> bad;
  std::set<std::string> listed;
  for (const auto& f : m.files) {
    listed.insert(f.path);
    auto it = actual.find(f.path);
    if (it == actual.end()) {
      bad.push_back(fmt::format("{} is missing", f.path));
      continue;
    }
    const struct stat& st = it->second;
    bool type_ok = f.type == FileEntry::Type::file  ? S_ISREG(st.st_mode)
                   : f.type == FileEntry::Type::dir ? S_ISDIR(st.st_mode)
                                                    : S_ISLNK(st.st_mode);
    if (!type_ok) {
      bad.push_back(fmt::format("{} is not {}", f.path, type_name(f.type)));
      continue;
    }
    std::uint32_t mode = static_cast<std::uint32_t>(st.st_mode) & 07777;
    if (f.type != FileEntry::Type::symlink && mode != f.mode) {
      bad.push_back(fmt::format("{} has mode {}, not {}", f.path, mode_str(mode), mode_str(f.mode)));
      continue;
    }
    std::string full = dir + "/" + f.path;
    if (f.type == FileEntry::Type::file) {
      if (static_cast<std::uint64_t>(st.st_size) != f.size)
        bad.push_back(fmt::format("{} has {} bytes, not {}", f.path, st.st_size, f.size));
      else if (util::sha256_file_hex(full) != f.sha256)
        bad.push_back(fmt::format("{} has the wrong SHA-256", f.path));
    } else if (f.type == FileEntry::Type::symlink) {
      std::vector<char> buf(static_cast<std::size_t>(st.st_size) + 2);
      ssize_t n = ::readlink(full.c_str(), buf.data(), buf.size());
      if (n < 0) sys_fail("read symlink", full, errno);
      std::string target(buf.data(), static_cast<std::size_t>(n));
      if (target != f.target) bad.push_back(fmt::format("{} points to '{}', not '{}'", f.path, target, f.target));
    }
  }
  for (const auto& [path, st] : actual)
    if (!listed.contains(path)) bad.push_back(fmt::format("{} is not listed", path));

  if (!bad.empty())
    fail(ExitCode::verify_failed, fmt::format("{} does not match release.json of {} {}: {} ({} mismatch{})", dir, m.app,
                                              m.version, bad.front(), bad.size(), bad.size() == 1 ? "" : "es"));
}

void switch_current(const std::string& app_dir, const std::string& version) {
  check_release_version(version);
  std::string rel = "releases/" + version, target_dir = app_dir + "/" + rel;
  struct stat st {};
  if (!exists_nofollow(target_dir, st) || !S_ISDIR(st.st_mode))
    fail(ExitCode::not_found, fmt::format("release {} is not staged at {}", version, target_dir));
  std::string current = app_dir + "/current", tmp = fmt::format("{}.tmp-{}", current, ::getpid());
  ::unlink(tmp.c_str());
  if (::symlink(rel.c_str(), tmp.c_str()) != 0) sys_fail("create symlink", tmp, errno);
  if (::rename(tmp.c_str(), current.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    sys_fail("rename " + tmp + " over", current, e);
  }
  util::fsync_dir(app_dir);
}

std::optional<std::string> current_version(const std::string& app_dir) {
  std::string current = app_dir + "/current";
  struct stat st {};
  if (!exists_nofollow(current, st)) return std::nullopt;
  if (!S_ISLNK(st.st_mode))
    fail(ExitCode::bad_input, fmt::format("{} is not a symlink; move it away and switch again", current));
  std::vector<char> buf(static_cast<std::size_t>(st.st_size) + 2);
  ssize_t n = ::readlink(current.c_str(), buf.data(), buf.size());
  if (n < 0) sys_fail("read symlink", current, errno);
  std::string target(buf.data(), static_cast<std::size_t>(n));
  std::string version = target.starts_with("releases/") ? target.substr(9) : "";
  if (version.empty() || version == "." || version == ".." || version.find('/') != std::string::npos)
    fail(ExitCode::bad_input, fmt::format("{} points to '{}', not to releases/<version>", current, target));
  return version;
}

} // namespace airlock::site
