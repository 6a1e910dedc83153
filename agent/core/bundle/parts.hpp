// Part sets: one bundle split into "FILE.part-001", "FILE.part-002", ... so that it fits media with a file size
// limit (FAT32: 4 GiB - 1 byte). The parts are the bundle's bytes in order, cut at fixed offsets, nothing
// added: `cat FILE.part-* > FILE` gives the bundle back (three-digit numbers keep the shell's glob order), as
// GNU split/cat and 7z's .001 volumes do. ZipWriter writes them (`airlock-bundle bundle export
// --max-part-size`); PartSet reads them back as one util::ReadAt, under an unchanged ZipReader.
//
// Nothing in a part set is signed as a set: the checks here only give clear messages for sets that are
// incomplete or mixed up. Every target byte is still verified against its signed SHA-256 (trust::verify_target),
// which is what finally catches equal-size parts in the wrong order.
// Thread-safety: pread() may be called from several threads at once (each part is opened once, on its first read);
// everything else is used by one thread at a time.
#pragma once

#include "util/io.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace airlock::bundle {

inline constexpr unsigned kMaxParts = 999;                            // three digits
inline constexpr std::uint64_t kFat32MaxFileBytes = (4ull << 30) - 1; // 4 GiB - 1
inline constexpr std::uint64_t kMinPartBytes = 64ull << 10;           // what --max-part-size accepts at least

// "<base>.part-NNN" for number 1..kMaxParts.
std::string part_path(const std::string& base, unsigned number);

struct PartName {
  std::string base; // the path without ".part-NNN"
  unsigned number;  // 1..kMaxParts
};
// `path` as a part's name: it ends in ".part-" and three digits, 001 to 999, after a non-empty base. nullopt
// otherwise.
std::optional<PartName> parse_part_name(const std::string& path);

// The part size that `--max-part-size SIZE` means: SIZE, except that exactly 4 GiB (4G, 4GiB, 4096M) means
// kFat32MaxFileBytes, so that the obvious spelling for a FAT32 stick makes parts FAT32 can hold.
std::uint64_t part_size_for(std::uint64_t max_part_size);

// The parts beside `first_part` (a "<base>.part-001"), read as one byte range of their joined bytes.
// open() lists the directory and checks, before anything is read, with Error(bad_input) naming the part and
// saying to copy the whole set again:
// - a gap in the numbering (the first missing part is named), or a part that is not a regular file;
// - a part other than the last whose size differs from the first part's (short: an incomplete copy, or the
//   parts after it belong to another export), an empty part, a last part larger than the first;
// - no zip end record at the end of the last part (later parts missing, or the last part damaged).
// `first_part` naming a later part is Error(usage) naming the first part; a missing first part is
// Error(not_found). A part that gets shorter after open() makes pread() return short (ZipReader then refuses
// the bundle). Parts are opened one at a time as reads reach them, so a set of kMaxParts parts needs one file
// descriptor.
class PartSet : public util::ReadAt {
public:
  static std::shared_ptr<PartSet> open(const std::string& first_part);

  std::size_t pread(void* buf, std::size_t size, std::uint64_t offset) override;
  std::uint64_t size() const override { return total_; }

  const std::string& first() const { return parts_.front().path; }
  std::size_t count() const { return parts_.size(); }
  // What to tell the operator when this set's bytes fail a check: the set, and to copy all of it again.
  std::string damage_hint() const;

private:
  struct Part {
    std::string path;
    std::uint64_t size;
  };
  PartSet(std::string base, std::vector<Part> parts);
  util::FileSource& file(std::size_t index);

  std::string base_;
  std::vector<Part> parts_;
  std::uint64_t part_size_ = 0, total_ = 0;
  std::mutex open_mutex_;                                 // guards opened_ (pread itself is thread-safe)
  std::vector<std::unique_ptr<util::FileSource>> opened_; // one per part, opened on first read
};

} // namespace airlock::bundle
