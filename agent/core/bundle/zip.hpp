// The bundle container: a plain zip whose entries are all STORED (method 0, no compression: the payloads are
// already compressed), with ZIP64 records where sizes or offsets need them, so `unzip -l bundle.zip` works.
//
// Why not Poco::Zip (DESIGN.md names it for bundles):
// - Writer: Poco::Zip::Compress needs a seekable std::ostream to patch each local header after the data, so it
//   cannot write through our fsync/rename temp file with its errno-bearing messages ("no space left"); in
//   non-seekable mode it emits data descriptors instead. It also inserts a directory entry for every parent of
//   a name with two or more folders, orders the central directory by name, and reparses names as Poco::Path.
//   (Its ZIP64 output itself was checked and is accepted by Info-ZIP and Python.) A stored-only writer is
//   small, so we write it here: one pass over each payload, CRC patched into the local header with pwrite().
// - Reader: Poco::Zip::ZipArchive walks the local headers from the start of the file and trusts what it finds.
//   A bundle comes from a USB stick and is attacker-controlled, so ZipReader parses the end records and the
//   central directory itself, bounds-checks every field and cross-checks every local header (see ZipReader).
//
// Thread-safety: a ZipWriter or ZipReader is used by one thread at a time. Sources returned by
// ZipReader::open() share the reader's file descriptor or util::ReadAt (positioned reads only) and may outlive
// the reader.
#pragma once

#include "util/io.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace airlock::bundle {

// Limits that the writer and the reader both enforce, so that the writer cannot make a bundle that the
// reader refuses.
inline constexpr std::size_t kMaxZipEntries = 100000;
inline constexpr std::size_t kMaxZipNameBytes = 4096;
// The central directory is held in memory while it is checked; it is refused above this size.
inline constexpr std::uint64_t kMaxCentralDirectoryBytes = 64ull << 20;

// Entry names are relative paths with '/' separators: not empty, no leading '/', no empty, "." or ".."
// component, no backslash, no NUL byte, at most kMaxZipNameBytes bytes. Directory entries ("dir/") are not
// allowed; a bundle holds files only. Names are written with the UTF-8 flag.

enum class Zip64 {
  when_needed, // ZIP64 records only for entries, offsets or counts beyond the 32/16-bit fields
  always,      // ZIP64 records for every entry and the end of the archive (used by tests; valid zip)
};

// Writes a bundle to "<path>.tmp-<pid>"; finish() writes the central directory, fsyncs, renames it over
// `path` and fsyncs the directory. Destroying a writer without finish() removes the temp file and leaves
// `path` untouched. Output is deterministic: entries in the order added, fixed timestamps (1980-01-01 00:00),
// mode 0644, no comments. Payloads stream through a fixed 1 MiB buffer; all-zero blocks are skipped with
// pwrite() offsets (they read back as zeros), so sparse payloads stay sparse.
// With a `part_size` the same bytes go to a part set instead (bundle/parts.hpp): "<path>.part-001",
// "<path>.part-002", ..., each exactly `part_size` bytes except the last (1 to part_size bytes), so that
// `cat <path>.part-*` is the bundle the writer would have written at `path`. A set is written even when the
// bundle fits in one part. Each part goes to "<part>.tmp-<pid>"; finish() fsyncs them all, renames them in
// order, removes "<path>.part-NNN" files beyond the new last part (left by an earlier export of more parts, they
// would break the set) and fsyncs the directory. If a rename fails, the parts already renamed are removed
// again. `path` itself is neither written nor removed.
// Errors: Error(bad_input) for an invalid or duplicate name or more than kMaxZipEntries entries (the archive
// so far stays usable); Error(not_found) for a missing source file; Error(usage) when a part set would need
// more than kMaxParts parts (nothing is committed); Error(failure) for I/O errors (naming the file), a source
// file that changes size while being added, or a call after finish().
class ZipWriter {
public:
  explicit ZipWriter(const std::string& path, Zip64 zip64 = Zip64::when_needed,
                     std::optional<std::uint64_t> part_size = std::nullopt);
  ~ZipWriter();
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  // Adds the regular file `src_path` as entry `name`.
  void add_file(const std::string& name, const std::string& src_path);
  void add_bytes(const std::string& name, std::string_view data);
  // Commits the archive at `path` (or its parts). The writer cannot be used afterwards. Returns the paths it
  // committed: `path`, or the parts in order.
  std::vector<std::string> finish();

private:
  struct Entry {
    std::string name;
    std::uint64_t size;
    std::uint64_t offset;
    std::uint32_t crc32;
  };
  // One output file: the whole archive, or one part of it.
  struct Part {
    std::string path, tmp;
    int fd = -1;
  };
  void check_new_name(const std::string& name) const;
  // Writes the local header, then the payload from `src` (or `data` when src is null), then patches the CRC.
  void add_entry(const std::string& name, std::uint64_t size, util::FileSource* src, std::string_view data);
  // Writes at an archive offset, into whichever parts it covers.
  void put(const void* data, std::size_t size, std::uint64_t offset);
  void put(std::string_view s) {
    put(s.data(), s.size(), pos_);
    pos_ += s.size();
  }
  // The output file at `index`, creating it (and any before it) when it does not exist yet.
  Part& part(std::size_t index);
  void commit_parts();

  std::string path_;
  std::optional<std::uint64_t> part_size_;
  std::vector<Part> parts_;
  bool finished_ = false;
  Zip64 zip64_;
  std::uint64_t pos_ = 0;
  std::vector<Entry> entries_;
  std::unordered_set<std::string> names_;
  std::vector<char> buf_;
};

struct ZipEntry {
  std::string name;
  std::uint64_t size = 0;        // bytes of data (stored: compressed size == uncompressed size)
  std::uint64_t data_offset = 0; // where the data starts in the archive file
  std::uint32_t crc32 = 0;       // as declared by the central directory; checked by open()
};

// Opens a bundle and checks its whole structure before returning; the data itself is checked (CRC-32) as it is
// read. Everything is Error(bad_input) naming the archive and, where there is one, the entry:
// - no end of central directory record (not a zip, or truncated), central directory or entry data beyond
//   the end of the file or overlapping, bytes between the central directory and the end records, a
//   multi-disk archive, an entry count that disagrees with the central directory, more than kMaxZipEntries
//   entries, a central directory over kMaxCentralDirectoryBytes;
// - unsafe names (rules above) and duplicate names;
// - compressed (method != 0) or encrypted entries, compressed size != uncompressed size;
// - a local header that disagrees with the central directory (name, method, flags, CRC, sizes), a data
//   descriptor that disagrees with it, entries whose headers or data overlap.
// A missing file is Error(not_found); I/O errors are Error(failure). Memory use is bounded by the central
// directory (at most kMaxCentralDirectoryBytes), never by entry sizes.
class ZipReader {
public:
  explicit ZipReader(const std::string& path);
  // Reads the archive from `bytes` (a bundle::PartSet, say); `path` names it in messages.
  ZipReader(const std::string& path, std::shared_ptr<util::ReadAt> bytes);

  const std::string& path() const { return path_; }
  // Entries in central directory order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry with exactly this name, or nullptr.
  const ZipEntry* find(const std::string& name) const;
  // A stream of exactly the entry's bytes (never reads past them). The read that reaches the end of the entry
  // checks the CRC-32 and throws Error(bad_input) on mismatch, as does a file that got shorter since opening.
  // With Crc::skip the CRC-32 is not computed: for callers that check the bytes against a signed SHA-256 anyway
  // (trust::verify_target), where the CRC would only cost time (a third of `airlock verify`'s CPU).
  enum class Crc { check, skip };
  std::unique_ptr<util::Source> open(const ZipEntry& entry, Crc crc = Crc::check) const;
  // The whole entry (CRC checked); Error(bad_input) naming the entry when it is larger than `max_bytes`.
  std::string read_small(const ZipEntry& entry, std::size_t max_bytes) const;

private:
  std::string path_;
  std::shared_ptr<util::ReadAt> file_;
  std::uint64_t data_end_ = 0; // start of the central directory: all entry data lies before it
  std::vector<ZipEntry> entries_;
  std::vector<std::uint32_t> by_name_; // indexes into entries_, sorted by name
};

// Whether `bytes` end with a zip end of central directory record whose comment runs exactly to the end (what
// ZipReader looks for first). Reads at most the last 64 KiB + 22 bytes: the cheap test that the last part of a
// part set is the end of the archive.
bool ends_with_zip_end_record(util::ReadAt& bytes);

} // namespace airlock::bundle
