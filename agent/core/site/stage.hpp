// Staging release trees on disk (DESIGN.md "Site layout", pipeline steps 6 and 10). No docker here.
//
//   <app_dir>/releases/<version>/   immutable app tree of one staged release
//   <app_dir>/releases/<version>.partial/   a tree being built; never used, removed by the next attempt
//   <app_dir>/current   symlink "releases/<version>", switched atomically with rename(2)
//
// These functions only touch `releases/` and `current`. They never write into `data/` or `site/` (only
// backup/restore write `data/`; updates never touch `site/`), and they take no path that could reach them.
//
// Release trees are immutable: a staged file is never modified in place. A patch builds the new tree from
// hard links to the unchanged files of the base tree and writes every changed file as a new file that is
// renamed into place, so the base tree stays byte-for-byte and mode-for-mode as it was.
//
// Archive policy (applied to every entry of a full or patch archive; the reader applies none). Each refusal
// throws Error(bad_input) naming the entry, and leaves neither `<version>` nor `<version>.partial` behind:
//  - paths: absolute, with ".." components, or otherwise unsafe (empty or "." components) are refused. A
//    leading "./" and a trailing "/" (as GNU tar writes them) are accepted, and "./" itself is skipped;
//  - types: hard links, character and block devices and FIFOs are refused (tar cannot carry sockets);
//  - symlinks whose target is empty, absolute, or leaves the tree when resolved lexically from the link's
//    own directory are refused. (The agent itself never follows links inside a tree while writing it: every
//    path is walked with openat(O_NOFOLLOW), so an entry that goes through a symlink, even one the same
//    archive created, is refused);
//  - every entry must be listed in release.json with the same type, and files and directories with exactly
//    the same mode (07777 bits); files must have the listed size. Entries listed twice in the archive are
//    refused.
// Before any of that, release.json itself must pass check_tree_policy(): a release tree grants nothing.
//
// Modes: files are created 0600 and directories 0700 and then given their listed modes with fchmod, so the
// umask plays no part; the root of each tree is 0755, and stage_full()/stage_patch() take group and other
// write permission away from `releases_dir` when it has them.
//
// Durability: when stage_full() or stage_patch() returns, the tree is durable: every file written was
// fsynced, every directory of the tree was fsynced, the tree was verified, renamed from `.partial` to
// `<version>`, and `releases_dir` was fsynced. switch_current() fsyncs `app_dir` after the rename.
// After a crash at any point, the next call of the same function with the same input finishes the job.
//
// Thread-safety: none; callers hold the airlock lock, so only one process stages at a time.
#pragma once

#include "release/manifest.hpp"
#include "util/io.hpp"

#include <optional>
#include <string>

namespace airlock::site {

// The tree policy of release.json, applied before anything is written (also by pipeline::read_manifest, so an
// import refuses before it fetches). Throws Error(bad_input) naming the entry, the release and why, and saying
// that nothing was changed, for:
//  - a file with the setuid or setgid bit (06000): the agent runs as root, so such a file would be a root
//    program for whoever can reach the tree (a setgid directory only passes its group on and is allowed);
//  - a file or directory writable by others (o+w, 0002): anyone on the host could change what runs;
//  - a symlink whose target is empty or absolute, or that leaves the tree when resolved as the kernel would in
//    the finished tree: through every symlink the listing holds (whatever the archive's order), at most 40 of
//    them, with ".." above the tree's root counted as leaving it.
void check_tree_policy(const release::Manifest& m);

// Extracts the gzip-compressed tar `app_tar_gz` (the full app tree of m.version) into
// `<releases_dir>/<m.version>`. A leftover `<m.version>.partial` is removed first. When `<m.version>` already
// exists and verifies against `m`, this is a no-op and `app_tar_gz` is not read; when it exists and does
// not verify, throws Error(failure) naming it (the operator removes it and runs again). A corrupt archive
// or a refused entry throws Error(bad_input), a tree that does not verify after extraction throws
// Error(verify_failed), I/O errors throw Error(failure). `releases_dir` must exist.
void stage_full(const std::string& releases_dir, const release::Manifest& m, util::Source& app_tar_gz);

// Builds `<releases_dir>/<m.version>` from the staged `<releases_dir>/<current_version>` plus the patch
// archive: hard links for regular files of the base, new directories and symlinks; then removes m.deletes
// (deepest first; entries already absent are fine), then writes each archive entry (a file goes to a temp
// name in its directory, is fsynced and renamed over the old one). The whole result is verified against
// m.files. Throws Error(usage) unless m.is_patch and m.base_version == current_version, and
// Error(not_found) when the base tree is not staged. Idempotence, leftovers, other errors: as stage_full().
// A file whose mode changes but whose content does not must still be shipped in the patch archive.
void stage_patch(const std::string& releases_dir, const std::string& current_version, const release::Manifest& m,
                 util::Source& patch_tar_gz);

// Checks that the tree at `dir` is exactly m.files: every listed entry exists with the listed type, mode
// (07777 bits; files and directories), size and SHA-256 (files) and target (symlinks), and nothing else
// exists. Symlinks are never followed. Returns normally on a match; otherwise throws
// Error(verify_failed) naming the first mismatch and the number of mismatches. Error(not_found) when
// `dir` does not exist.
void verify_tree(const std::string& dir, const release::Manifest& m);

// Points `<app_dir>/current` at "releases/<version>" (a relative symlink): creates
// `current.tmp-<pid>`, renames it over `current`, fsyncs `app_dir`. The previous target is not touched.
// Throws Error(not_found) when `<app_dir>/releases/<version>` is not a directory, Error(failure) on I/O errors.
void switch_current(const std::string& app_dir, const std::string& version);

// The version `<app_dir>/current` points at; std::nullopt when there is no `current`. Throws
// Error(bad_input) when `current` is not a symlink of the form "releases/<version>".
std::optional<std::string> current_version(const std::string& app_dir);

} // namespace airlock::site
