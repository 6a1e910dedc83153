// Point-in-time copies of the directories of a site's data set (data/, site/, the mountpoint of each named
// volume), made next to each directory so that a rollback swaps a copy back in with rename(2) whatever its size
// (DESIGN.md "What an upgrade protects").
//
// A snapshot of <parent>/<name> is <parent>/.airlock-snapshot-<tag>-<name>: same filesystem, so a reflink clone
// (FICLONE) shares the blocks and a swap is one rename. Two ways to make one:
//  - reflink (XFS, btrfs: supports_reflink() says so): one clone of the whole tree, after the services stopped;
//    every file is cloned, no data is copied, so the time does not grow with the data;
//  - two-phase copy (ext4 and others): copy() while the old release still runs (the pre-copy), then, after the
//    stop, update() passes over the tree again and copies only the entries whose type, size, mtime, ctime or inode
//    changed since the pre-copy saw them, and deletes what vanished. Its time grows with what changed, not with
//    the data.
// Both keep types, modes, numeric owners, mtimes, symlinks (never followed), hard links, empty directories and
// FIFOs; extended attributes and ACLs are not copied. A socket is skipped (as GNU tar does); a device node is
// refused with Error(bad_input) (restore could not recreate it on a hardened host). When copy() or update()
// returns, the snapshot is durable (syncfs).
//
// Errors: Error(failure) naming the path for I/O errors, with "no space left" for ENOSPC; a snapshot interrupted
// by an error is left for the caller to remove (discard()).
// Thread-safety: one thread per snapshot; the caller holds the run lock.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace airlock::dataset {

// <parent>/.airlock-snapshot-<tag>-<basename of dir>.
std::string snapshot_path(const std::string& dir, const std::string& tag);

// Whether the filesystem of `dir`'s parent can clone a file (FICLONE), tried on a probe file that is removed.
bool supports_reflink(const std::string& dir);

struct CopyStats {
  std::uint64_t entries = 0; // entries copied (all of them for copy(), the changed ones for update())
  std::uint64_t bytes = 0;   // bytes of the files copied or cloned
  std::uint64_t removed = 0; // update(): entries deleted from the snapshot
  bool reflinked = false;    // at least one file was cloned rather than copied
};

class Snapshot {
public:
  Snapshot(std::string dir, std::string tag);
  const std::string& dir() const { return dir_; }
  const std::string& path() const { return path_; }

  // Copies `dir` to path() (which must not exist), cloning files where the filesystem can, and remembers what it
  // saw of each entry for update(). Error(not_found) when `dir` is not a directory.
  CopyStats copy();
  // After copy() in this process: brings path() up to date with `dir`.
  CopyStats update();
  // Removes path() (a half-made or no longer needed snapshot). No error when it is gone already.
  void discard();

private:
  friend CopyStats copy_tree(const std::string& src, const std::string& dst);
  struct Seen {
    unsigned type = 0;
    std::int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
    std::uint64_t ino = 0;
  };
  std::string dir_, path_;
  std::map<std::string, Seen> seen_; // relative path -> what copy() saw
};

// Copies the tree `src` to `dst` (which must not exist) as Snapshot::copy() does, durable when it returns. For a
// tree on another filesystem than its destination (a restore staged elsewhere).
CopyStats copy_tree(const std::string& src, const std::string& dst);

// Puts the snapshot of `dir` made with `tag` in the place of `dir`: dir -> <parent>/.airlock-old-<tag>-<name>,
// snapshot -> dir, fsync of the parent. The replaced tree stays until remove_swapped_out() (its removal grows with
// its size, so a rollback does it once the old release runs again). Idempotent after a crash at any point: a run
// finds the snapshot gone and dir present (done), or dir gone and the old tree present (the second rename is done
// now). Error(failure) when neither the snapshot nor `dir` exists.
void swap_in(const std::string& dir, const std::string& tag);
// Removes the tree swap_in() replaced, if any.
void remove_swapped_out(const std::string& dir, const std::string& tag);

// Whether the snapshot of `dir` with `tag` exists.
bool snapshot_exists(const std::string& dir, const std::string& tag);

} // namespace airlock::dataset
