// Backups of one site: a gzip-compressed POSIX pax tar of <app_dir>/data/, <app_dir>/site/ and the
// <app_dir>/current symlink (the link itself, never what it points to), with paths relative to app_dir:
//   data/ data/... site/ site/... current
// Modes, numeric owners (plus names), mtimes (whole seconds), symlinks, hard links (also between data/
// and site/) and empty directories are kept. The state DB is not touched here: create() returns what the
// caller records (path, size, SHA-256, entry count) and restore() takes the recorded SHA-256 back.
//
// Restoring by hand, without airlock (stop the site first; as root, to keep owners):
//   sha256sum backup.tar.gz                    # compare with the recorded value
//   cd /opt/<app> && mv data data.old && mv site site.old
//   tar -xzf backup.tar.gz -C /opt/<app> --numeric-owner
// GNU tar reproduces data/, site/ and current exactly. Conversely, an archive made with
//   tar -czf backup.tar.gz -C /opt/<app> data site current
// is accepted by restore().
//
// Thread-safety: the functions are thread-safe as long as two calls never work on the same app_dir or
// the same backup path.
#pragma once

#include "util/disk.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace airlock::backup {

// How a backup is compressed: gzip `level` 0..9 on `threads` threads (0: one per CPU; 1: one gzip stream in the
// calling thread; more: independent 1 MiB gzip members compressed in parallel, archive::ParallelGzipSink). The
// archive is a valid .tar.gz either way. An int converts to a level on every CPU.
struct Compression {
  Compression(int level_, unsigned threads_ = 0) : level(level_), threads(threads_) {} // NOLINT: implicit
  int level;
  unsigned threads;
};

struct BackupResult {
  std::string path;             // out_path as given
  std::uint64_t size = 0;       // bytes of the .tar.gz
  std::string sha256;           // lowercase hex SHA-256 of the .tar.gz
  std::uint64_t file_count = 0; // entries archived (directories, files, links, current), counted before writing
};

// Writes the backup of `app_dir` to `out_path` (mode 0600: site/ holds secrets), compressed as `gz` says.
// Streams (memory is flat for any size) and hashes while writing. The file appears at out_path only
// complete and fsynced (temp file "<out_path>.tmp-<pid>" + rename); on any error or a kill, out_path is
// untouched (an existing file there stays as it was).
// Errors: Error(not_found) when app_dir/data or app_dir/site is missing (current is optional: a site that
// never ran has none); Error(failure, "...needs about N MiB in <dir>, M MiB free; ...") when the free
// space is below the uncompressed size of the tree (the worst case for gzip), checked before writing;
// Error(failure) naming the file for I/O errors, including a disk that fills up while writing ("No space
// left on device"); Error(bad_input) for a socket in the tree or a `current` that is not a symlink.
// Files that change while they are read make it fail (Error(failure)): back up a stopped site.
// `free_bytes` is the disk probe (tests inject a nearly full disk through it).
BackupResult create(const std::string& app_dir, const std::string& out_path, Compression gz,
                    const util::FreeBytes& free_bytes = util::statvfs_free_bytes);

// One directory of a backup: archived as `name` ("data", "site", "volumes/<key>") from `dir` on disk (the live
// directory, or its snapshot).
struct Tree {
  std::string name;
  std::string dir;
};

// As create(app_dir, ...), from any trees (the pipeline passes the snapshots of its data set, named volumes
// under volumes/<compose key>), with a `current` symlink entry to `current_target` (empty: none). GNU tar restores
// it by hand the same way: `tar -xzf B -C <app> data site current` and `tar -xzf B -C <mountpoint>
// --strip-components=2 volumes/<key>` for a volume.
BackupResult create(const std::vector<Tree>& trees, const std::string& current_target, const std::string& out_path,
                    Compression gz, const util::FreeBytes& free_bytes = util::statvfs_free_bytes);

// Re-hashes `path` and compares with the recorded `sha256` (hex, any case).
// Error(verify_failed, "backup <path> is damaged: ...; do not restore it") on a mismatch,
// Error(not_found) when path does not exist, Error(failure) when it cannot be read.
void verify(const std::string& path, const std::string& sha256);

// Replaces app_dir's data/, site/ and current with the content of backup `path`.
// 1. recover(app_dir) cleans up after any earlier interrupted restore.
// 2. verify(path, sha256): a full pass; nothing is touched when it fails.
// 3. Extracts into app_dir/.restore-<pid>/{data,site,current}, hashing the bytes again as it reads (so a
//    file swapped after step 2 is caught), refusing with Error(bad_input) any entry outside data/ and
//    site/ other than a `current` symlink, any "..", ".", empty or absolute path component, any device,
//    any hard link to outside data/ or site/, and any path through a symlink. Keeps modes, owners (numeric
//    ids, only when running as root), mtimes, symlinks, hard links, empty directories. Reading, hashing and
//    decompressing run on a read-ahead thread (util::ReadAheadSource) while the calling thread writes the files.
//    No file is fsynced on its own: one syncfs(2) of app_dir's filesystem (on a descriptor opened before the
//    first file, so writeback errors during the extraction are reported: Linux 5.8+) makes all of it durable,
//    then the marker .restore-<pid>/.complete is written (temp file, fsync, rename, fsync). A syncfs error is
//    Error(failure, "cannot sync ..."). A live `current` that is not a symlink is refused here with
//    Error(failure). On any failure in this step the live site is untouched and .restore-<pid> is removed.
// 4. Swaps: data -> data.old-<pid>, .restore-<pid>/data -> data, the same for site, then
//    .restore-<pid>/current -> current (one rename: atomic), fsyncs app_dir, removes data.old-<pid>,
//    site.old-<pid> and .restore-<pid>. An archive without `current` leaves the live one alone.
// Limitation: data/ and site/ must be plain directories on the same filesystem as app_dir (not mount
// points), since the swap is rename(2).
// 5. Volumes (volumes/<key>/ in the archive): each whose key is in `volume_dirs` (compose key -> the volume's
//    mountpoint) is copied next to its mountpoint and swapped in by rename (dataset::swap_in) once data/ and
//    site/ are in place; a volume the map lacks is left out with a warning (restore it by hand, see create()).
void restore(const std::string& app_dir, const std::string& path, const std::string& sha256,
             const std::map<std::string, std::string>& volume_dirs = {});

// Finishes or undoes a restore that was interrupted (crash, kill, power loss). Idempotent; a no-op on a
// clean app_dir. The rule, for each app_dir/.restore-<pid>:
//   - holding the .complete marker (extraction was durable, the swap may have begun): roll forward, i.e.
//     for data and site still inside it, move the live one (if any) to <name>.old-<pid> and rename the
//     restored one in; rename its current over app_dir/current if still there; then remove it;
//   - without the marker (the extraction itself was cut short): remove it.
// Then, for data and site: if <name>.old-* exists and <name> exists -> remove the old ones; if <name> is
// missing and exactly one <name>.old-* exists -> rename it back. Several old dirs and no live one is an
// Error(failure) that names them (an operator must pick one).
void recover(const std::string& app_dir);

} // namespace airlock::backup
