#include "bundle/zip.hpp"

#include "bundle/parts.hpp"
#include "util/error.hpp"
#include "util/io.hpp"
#include "util/text.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace airlock::bundle {
namespace {

// Record signatures and sizes, from PKWARE APPNOTE.TXT 6.3.
constexpr std::uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50, kEnd64Sig = 0x06064b50,
                        kLocatorSig = 0x07064b50, kDescriptorSig = 0x08074b50;
constexpr std::size_t kLocalSize = 30, kCentralSize = 46, kEndSize = 22, kEnd64Size = 56, kLocatorSize = 20;
constexpr std::uint16_t kZip64ExtraId = 0x0001;
constexpr std::uint32_t kMax32 = 0xFFFFFFFF; // "see the ZIP64 record" sentinels
constexpr std::uint16_t kMax16 = 0xFFFF;
constexpr std::uint16_t kFlagEncrypted = 0x0001, kFlagDescriptor = 0x0008, kFlagStrongEncryption = 0x0040,
                        kFlagUtf8 = 0x0800, kFlagMaskedHeaders = 0x2000;
constexpr std::uint16_t kDosDate1980 = (1 << 5) | 1; // 1980-01-01; the DOS time field is 0 (00:00:00)
constexpr std::uint16_t kMadeByUnix45 = (3 << 8) | 45;
constexpr std::size_t kBufSize = 1 << 20;

void put16(std::string& s, std::uint16_t v) {
  for (int i = 0; i < 2; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
std::uint16_t u16(std::size_t v) { return static_cast<std::uint16_t>(v); }
std::uint32_t u32(std::uint64_t v) { return static_cast<std::uint32_t>(v); }

// Little-endian reader over bytes whose length the caller has already checked.
class Cursor {
public:
  explicit Cursor(std::string_view b, std::size_t at = 0) : b_(b), at_(at) {}
  std::uint16_t get16() { return static_cast<std::uint16_t>(get(2)); }
  std::uint32_t get32() { return static_cast<std::uint32_t>(get(4)); }
  std::uint64_t get64() { return get(8); }
  void skip(std::size_t n) { take(n); }
  std::string_view take(std::size_t n) {
    if (n > b_.size() - at_) fail(ExitCode::failure, "internal error: zip record read out of bounds");
    at_ += n;
    return b_.substr(at_ - n, n);
  }
  std::size_t left() const { return b_.size() - at_; }

private:
  std::uint64_t get(std::size_t n) {
    std::string_view s = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
  }
  std::string_view b_;
  std::size_t at_;
};

std::uint32_t crc_update(std::uint32_t crc, const void* data, std::size_t size) {
  const auto* p = static_cast<const Bytef*>(data);
  uLong c = crc;
  while (size > 0) {
    auto n = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    c = ::crc32(c, p, n);
    p += n;
    size -= n;
  }
  return static_cast<std::uint32_t>(c);
}

std::string sys_error(const std::string& what, const std::string& path, int err) {
  std::string msg = what + " " + path + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) msg += " (the filesystem is full: free space there and run again)";
  return msg;
}

std::string hex32(std::uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "%08x", v);
  return b;
}

// Why `name` is not a safe entry name (rules in zip.hpp), or "" when it is.
std::string name_problem(std::string_view name) {
  if (name.empty()) return "has an empty name";
  if (name.size() > kMaxZipNameBytes)
    return "has a name of " + std::to_string(name.size()) + " bytes, more than the " +
           std::to_string(kMaxZipNameBytes) + " allowed";
  if (name.find('\0') != std::string_view::npos) return "has a NUL byte in its name";
  if (name.find('\\') != std::string_view::npos) return "has a backslash in its name";
  if (name.front() == '/') return "has an absolute name (starts with '/')";
  if (name.back() == '/') return "is a directory entry (bundles hold files only)";
  for (std::size_t start = 0; start <= name.size();) {
    std::size_t end = std::min(name.find('/', start), name.size());
    std::string_view part = name.substr(start, end - start);
    if (part.empty()) return "has an empty path component (\"//\")";
    if (part == ".") return "has a \".\" path component";
    if (part == "..") return "has a \"..\" path component (a path escaping the bundle)";
    start = end + 1;
  }
  return {};
}

[[noreturn]] void refuse(const std::string& path, const std::string& what) {
  fail(ExitCode::bad_input, "bundle " + path + " is not a valid bundle: " + what +
                                " (copy the bundle again, or rebuild it with airlock-bundle)");
}

// Checks that `extra` is a well-formed list of (id, length, data) fields and returns the ZIP64 field's data.
std::optional<std::string_view> zip64_extra(std::string_view extra, const std::string& path, const std::string& who) {
  std::optional<std::string_view> found;
  Cursor c(extra);
  while (c.left() > 0) {
    if (c.left() < 4) refuse(path, who + " has a malformed extra field");
    std::uint16_t id = c.get16(), len = c.get16();
    if (len > c.left()) refuse(path, who + " has a malformed extra field");
    std::string_view data = c.take(len);
    if (id == kZip64ExtraId) {
      if (found) refuse(path, who + " has two ZIP64 extra fields");
      found = data;
    }
  }
  return found;
}

// Replaces each 32-bit field that holds the 0xFFFFFFFF sentinel by the next 64-bit value of the ZIP64 extra
// field, in the order of `fields` (APPNOTE 4.5.3).
void apply_zip64(std::initializer_list<std::uint64_t*> fields, std::optional<std::string_view> z64,
                 const std::string& path, const std::string& who) {
  std::size_t needed = 0;
  for (auto* f : fields) needed += *f == kMax32 ? 8 : 0;
  if (needed == 0) return;
  if (!z64) refuse(path, who + " has 0xFFFFFFFF size or offset fields but no ZIP64 extra field");
  if (z64->size() < needed) refuse(path, who + " has a ZIP64 extra field too short for its 0xFFFFFFFF fields");
  Cursor c(*z64);
  for (auto* f : fields)
    if (*f == kMax32) *f = c.get64();
}

// Where the end of central directory record starts in `tail` (the last bytes of an archive, at least kEndSize):
// the last one whose comment runs exactly to the end. npos when there is none.
std::size_t find_end_record(std::string_view tail) {
  for (std::size_t i = tail.size() - kEndSize + 1; i-- > 0;) {
    const std::size_t comment_len = Cursor(tail, i + kEndSize - 2).get16();
    if (Cursor(tail, i).get32() == kEndSig && i + kEndSize + comment_len == tail.size()) return i;
  }
  return std::string::npos;
}

// A stream over one stored entry: positioned reads, CRC-32 checked by the read that reaches the end.
class EntrySource : public util::Source {
public:
  EntrySource(std::shared_ptr<util::ReadAt> file, std::string archive, ZipEntry entry, bool check_crc)
      : file_(std::move(file)), archive_(std::move(archive)), entry_(std::move(entry)), check_crc_(check_crc) {}

  std::size_t read(void* buf, std::size_t size) override {
    const std::uint64_t left = entry_.size - pos_;
    if (left == 0 && checked_) return 0;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size, left));
    if (n > 0) {
      if (file_->pread(buf, n, entry_.data_offset + pos_) != n)
        refuse(archive_,
               "entry " + util::quoted(entry_.name) + " ends early: the file got shorter since it was opened");
      if (check_crc_) crc_ = crc_update(crc_, buf, n);
      pos_ += n;
    }
    if (pos_ == entry_.size && !checked_) {
      if (check_crc_ && crc_ != entry_.crc32)
        refuse(archive_, "entry " + util::quoted(entry_.name) + " is corrupt: its data has CRC-32 " + hex32(crc_) +
                             ", the archive declares " + hex32(entry_.crc32));
      checked_ = true;
    }
    return n;
  }

private:
  std::shared_ptr<util::ReadAt> file_;
  std::string archive_;
  ZipEntry entry_;
  std::uint64_t pos_ = 0;
  std::uint32_t crc_ = 0;
  bool check_crc_ = true;
  bool checked_ = false;
};

} // namespace

// ---------------------------------------------------------------------------------------------- ZipWriter

// AtomicFile is a forward-only Sink, but the CRC of a local header is known only after its payload has
// streamed through. So the writer keeps its own temp file (one per part) and pwrite()s the CRC back into the
// header: one pass over each payload and no data descriptors. It follows the same rule: temp file, fsync, rename,
// fsync the directory, and a destructor never commits.
ZipWriter::ZipWriter(const std::string& path, Zip64 zip64, std::optional<std::uint64_t> part_size)
    : path_(path), part_size_(part_size), zip64_(zip64) {
  if (part_size_ && *part_size_ == 0)
    fail(ExitCode::failure, "internal error: ZipWriter for " + path_ + " with a part size of 0");
  part(0);
}

ZipWriter::~ZipWriter() {
  for (auto& p : parts_) {
    if (p.fd < 0) continue;
    ::close(p.fd);
    ::unlink(p.tmp.c_str());
  }
}

ZipWriter::Part& ZipWriter::part(std::size_t index) {
  if (index >= kMaxParts)
    fail(ExitCode::usage, "bundle " + path_ + " does not fit in " + std::to_string(kMaxParts) + " parts of " +
                              std::to_string(*part_size_) +
                              " bytes; nothing was written: choose a larger part size (--max-part-size)");
  while (parts_.size() <= index) {
    Part p;
    p.path = part_size_ ? part_path(path_, static_cast<unsigned>(parts_.size() + 1)) : path_;
    p.tmp = p.path + ".tmp-" + std::to_string(::getpid());
    p.fd = util::create_new_file(p.tmp, 0644);
    if (p.fd < 0) fail(ExitCode::failure, sys_error("cannot create", p.tmp, errno));
    parts_.push_back(std::move(p));
  }
  return parts_[index];
}

void ZipWriter::put(const void* data, std::size_t size, std::uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    std::size_t index = 0, n = size;
    std::uint64_t at = offset;
    if (part_size_) {
      index = static_cast<std::size_t>(offset / *part_size_);
      at = offset % *part_size_;
      n = static_cast<std::size_t>(std::min<std::uint64_t>(size, *part_size_ - at));
    }
    Part& out = part(index);
    ssize_t w = ::pwrite(out.fd, p, n, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail(ExitCode::failure, sys_error("cannot write", out.tmp, w < 0 ? errno : ENOSPC));
    p += w;
    size -= static_cast<std::size_t>(w);
    offset += static_cast<std::uint64_t>(w);
  }
}

void ZipWriter::check_new_name(const std::string& name) const {
  if (finished_) fail(ExitCode::failure, "internal error: ZipWriter for " + path_ + " used after finish()");
  std::string problem = name_problem(name);
  if (!problem.empty())
    fail(ExitCode::bad_input, "cannot add to bundle " + path_ + ": entry " + util::quoted(name) + " " + problem);
  if (entries_.size() >= kMaxZipEntries)
    fail(ExitCode::bad_input, "cannot add " + util::quoted(name) + " to bundle " + path_ + ": a bundle holds at most " +
                                  std::to_string(kMaxZipEntries) + " entries");
  if (names_.count(name))
    fail(ExitCode::bad_input, "cannot add to bundle " + path_ + ": entry " + util::quoted(name) + " was already added");
}

void ZipWriter::add_file(const std::string& name, const std::string& src_path) {
  check_new_name(name);
  util::FileSource src(src_path);
  if (buf_.empty()) buf_.resize(kBufSize);
  add_entry(name, src.size(), &src, {});
}

void ZipWriter::add_bytes(const std::string& name, std::string_view data) {
  check_new_name(name);
  add_entry(name, data.size(), nullptr, data);
}

void ZipWriter::add_entry(const std::string& name, std::uint64_t size, util::FileSource* src, std::string_view data) {
  const bool z64 = zip64_ == Zip64::always || size >= kMax32;
  Entry e{name, size, pos_, 0};
  std::string h;
  put32(h, kLocalSig);
  put16(h, z64 ? 45 : 10); // version needed: 4.5 for ZIP64, 1.0 for a stored file
  put16(h, kFlagUtf8);
  put16(h, 0); // method: stored
  put16(h, 0); // DOS time 00:00:00
  put16(h, kDosDate1980);
  put32(h, 0); // CRC-32, patched once the payload has been written
  put32(h, z64 ? kMax32 : u32(size));
  put32(h, z64 ? kMax32 : u32(size));
  put16(h, u16(name.size()));
  put16(h, z64 ? 20 : 0);
  h += name;
  if (z64) {
    put16(h, kZip64ExtraId);
    put16(h, 16);
    put64(h, size);
    put64(h, size);
  }
  put(h);

  if (src) {
    std::uint64_t done = 0;
    for (;;) {
      std::size_t n = src->read(buf_.data(), buf_.size());
      if (n == 0 || (done += n) > size) break;
      e.crc32 = crc_update(e.crc32, buf_.data(), n);
      // An all-zero block is left as a hole: pwrite() at later offsets makes it read back as zeros.
      if (buf_[0] != 0 || std::memcmp(buf_.data(), buf_.data() + 1, n - 1) != 0) put(buf_.data(), n, pos_);
      pos_ += n;
    }
    if (done != size)
      fail(ExitCode::failure, src->path() + " changed size while it was being added to bundle " + path_ + " as " +
                                  util::quoted(name) + "; add it again when nothing is writing to it");
  } else {
    e.crc32 = crc_update(0, data.data(), data.size());
    put(data);
  }
  std::string crc;
  put32(crc, e.crc32);
  put(crc.data(), crc.size(), e.offset + 14);
  names_.insert(name);
  entries_.push_back(std::move(e));
}

std::vector<std::string> ZipWriter::finish() {
  if (finished_) fail(ExitCode::failure, "internal error: ZipWriter::finish() called twice for " + path_);
  const std::uint64_t cd_start = pos_;
  std::string cd;
  for (const auto& e : entries_) {
    const bool big = zip64_ == Zip64::always || e.size >= kMax32;
    const bool far = zip64_ == Zip64::always || e.offset >= kMax32;
    std::string z64;
    if (big) {
      put64(z64, e.size);
      put64(z64, e.size);
    }
    if (far) put64(z64, e.offset);
    put32(cd, kCentralSig);
    put16(cd, kMadeByUnix45);
    put16(cd, big || far ? 45 : 10);
    put16(cd, kFlagUtf8);
    put16(cd, 0); // stored
    put16(cd, 0);
    put16(cd, kDosDate1980);
    put32(cd, e.crc32);
    put32(cd, big ? kMax32 : u32(e.size));
    put32(cd, big ? kMax32 : u32(e.size));
    put16(cd, u16(e.name.size()));
    put16(cd, u16(z64.empty() ? 0 : 4 + z64.size()));
    put16(cd, 0);              // comment length
    put16(cd, 0);              // disk number
    put16(cd, 0);              // internal attributes
    put32(cd, 0100644u << 16); // external attributes: a regular file, mode 0644
    put32(cd, far ? kMax32 : u32(e.offset));
    cd += e.name;
    if (!z64.empty()) {
      put16(cd, kZip64ExtraId);
      put16(cd, u16(z64.size()));
      cd += z64;
    }
    if (cd.size() >= kBufSize) {
      put(cd);
      cd.clear();
    }
  }
  put(cd);
  const std::uint64_t cd_size = pos_ - cd_start, count = entries_.size();
  const bool z64 = zip64_ == Zip64::always || count >= kMax16 || cd_start >= kMax32 || cd_size >= kMax32;
  std::string end;
  if (z64) {
    const std::uint64_t record = pos_;
    put32(end, kEnd64Sig);
    put64(end, kEnd64Size - 12); // size of the rest of the record
    put16(end, kMadeByUnix45);
    put16(end, 45);
    put32(end, 0); // this disk
    put32(end, 0); // disk of the central directory
    put64(end, count);
    put64(end, count);
    put64(end, cd_size);
    put64(end, cd_start);
    put32(end, kLocatorSig);
    put32(end, 0); // disk of the ZIP64 end record
    put64(end, record);
    put32(end, 1); // total number of disks
  }
  put32(end, kEndSig);
  put16(end, 0);
  put16(end, 0);
  put16(end, z64 ? kMax16 : u16(count));
  put16(end, z64 ? kMax16 : u16(count));
  put32(end, z64 ? kMax32 : u32(cd_size));
  put32(end, z64 ? kMax32 : u32(cd_start));
  put16(end, 0); // comment length
  put(end);

  commit_parts();
  std::vector<std::string> out;
  for (const auto& p : parts_) out.push_back(p.path);
  return out;
}

void ZipWriter::commit_parts() {
  // Every part but the last is exactly part_size_ bytes: a part whose tail was a skipped all-zero block (or that
  // only holds such a block) is extended to its size here.
  const std::size_t count =
      part_size_ ? static_cast<std::size_t>(std::max<std::uint64_t>(1, (pos_ + *part_size_ - 1) / *part_size_)) : 1;
  part(count - 1);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t size = part_size_ ? std::min<std::uint64_t>(*part_size_, pos_ - i * *part_size_) : pos_;
    if (::ftruncate(parts_[i].fd, static_cast<off_t>(size)) != 0)
      fail(ExitCode::failure, sys_error("cannot extend", parts_[i].tmp, errno));
    if (::fsync(parts_[i].fd) != 0) fail(ExitCode::failure, sys_error("cannot fsync", parts_[i].tmp, errno));
  }
  finished_ = true;
  for (std::size_t i = 0; i < count; ++i) {
    Part& p = parts_[i];
    const int rc = ::close(p.fd);
    p.fd = -1;
    if (rc != 0 || ::rename(p.tmp.c_str(), p.path.c_str()) != 0) {
      const int err = errno;
      ::unlink(p.tmp.c_str());
      for (std::size_t j = 0; j < i; ++j) ::unlink(parts_[j].path.c_str()); // never leave half a new set
      fail(ExitCode::failure,
           sys_error(rc != 0 ? "cannot close" : "cannot rename into", rc != 0 ? p.tmp : p.path, err));
    }
  }
  auto slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
  // Parts beyond the new last one, from an earlier export into more parts, would make the set invalid.
  if (part_size_)
    for (auto n = static_cast<unsigned>(count) + 1; n <= kMaxParts; ++n) ::unlink(part_path(path_, n).c_str());
  util::fsync_dir(dir);
}

// ---------------------------------------------------------------------------------------------- ZipReader

ZipReader::ZipReader(const std::string& path) : ZipReader(path, std::make_shared<util::FileSource>(path)) {}

ZipReader::ZipReader(const std::string& path, std::shared_ptr<util::ReadAt> bytes)
    : path_(path), file_(std::move(bytes)) {
  const std::uint64_t file_size = file_->size();
  auto read_at = [&](std::uint64_t offset, std::uint64_t size) {
    std::string b(static_cast<std::size_t>(size), '\0');
    if (file_->pread(b.data(), b.size(), offset) != b.size())
      refuse(path_, "the file got shorter while it was being read");
    return b;
  };

  // End of central directory record: the last one whose comment runs exactly to the end of the file.
  if (file_size < kEndSize)
    refuse(path_, "the file is " + std::to_string(file_size) + " bytes, too short for a zip file");
  const std::size_t tail_size = static_cast<std::size_t>(std::min<std::uint64_t>(file_size, kEndSize + kMax16));
  const std::string tail = read_at(file_size - tail_size, tail_size);
  const std::size_t found = find_end_record(tail);
  if (found == std::string::npos)
    refuse(path_, "no end of central directory record (it is not a zip file, or it is truncated)");
  const std::uint64_t end_pos = file_size - tail_size + found;
  Cursor end(tail, found + 4);
  const std::uint16_t disk = end.get16(), cd_disk = end.get16(), disk_count = end.get16(), count16 = end.get16();
  const std::uint32_t cd_size32 = end.get32(), cd_offset32 = end.get32();
  const std::string multi_disk = "it is a multi-disk (split or spanned) archive";
  if (disk != 0 || cd_disk != 0 || disk_count != count16) refuse(path_, multi_disk);
  std::uint64_t count = count16, cd_size = cd_size32, cd_offset = cd_offset32, cd_end = end_pos;

  // ZIP64 end of central directory locator and record, when present.
  if (end_pos >= kLocatorSize && Cursor(read_at(end_pos - kLocatorSize, 4)).get32() == kLocatorSig) {
    const std::string loc = read_at(end_pos - kLocatorSize, kLocatorSize);
    Cursor l(loc, 4);
    const std::uint32_t record_disk = l.get32();
    const std::uint64_t record = l.get64();
    const std::uint32_t disks = l.get32();
    if (record_disk != 0 || disks > 1) refuse(path_, multi_disk);
    const std::uint64_t locator_pos = end_pos - kLocatorSize;
    if (record > locator_pos || locator_pos - record < kEnd64Size)
      refuse(path_, "the ZIP64 end of central directory locator points outside the archive");
    const std::string rec = read_at(record, kEnd64Size);
    Cursor r(rec);
    if (r.get32() != kEnd64Sig)
      refuse(path_, "there is no ZIP64 end of central directory record at byte " + std::to_string(record) +
                        ", where its locator points");
    const std::uint64_t rest = r.get64();
    r.skip(4); // version made by, version needed
    const std::uint32_t disk64 = r.get32(), cd_disk64 = r.get32();
    const std::uint64_t disk_count64 = r.get64(), count64 = r.get64(), cd_size64 = r.get64(), cd_offset64 = r.get64();
    if (rest < kEnd64Size - 12 || rest != locator_pos - record - 12)
      refuse(path_, "the ZIP64 end of central directory record has a wrong size field");
    if (disk64 != 0 || cd_disk64 != 0 || disk_count64 != count64) refuse(path_, multi_disk);
    if ((count16 != kMax16 && count16 != count64) || (cd_size32 != kMax32 && cd_size32 != cd_size64) ||
        (cd_offset32 != kMax32 && cd_offset32 != cd_offset64))
      refuse(path_, "the end of central directory record and its ZIP64 record disagree");
    count = count64;
    cd_size = cd_size64;
    cd_offset = cd_offset64;
    cd_end = record;
  }

  if (count > kMaxZipEntries)
    refuse(path_, "it declares " + std::to_string(count) + " entries, more than the " + std::to_string(kMaxZipEntries) +
                      " allowed");
  if (cd_offset > cd_end || cd_size > cd_end - cd_offset)
    refuse(path_, "its central directory (" + std::to_string(cd_size) + " bytes at byte " + std::to_string(cd_offset) +
                      ") lies beyond the end of the archive (" + std::to_string(cd_end) +
                      " bytes before the end records): the file is truncated or corrupt");
  if (cd_offset + cd_size != cd_end)
    refuse(path_, "there are " + std::to_string(cd_end - cd_offset - cd_size) +
                      " unexplained bytes between the central directory and the end records");
  if (cd_size > kMaxCentralDirectoryBytes)
    refuse(path_, "its central directory is " + std::to_string(cd_size) + " bytes, more than the " +
                      std::to_string(kMaxCentralDirectoryBytes) + " allowed");
  if (count > cd_size / kCentralSize)
    refuse(path_, "the end record declares " + std::to_string(count) + " entries, but the central directory (" +
                      std::to_string(cd_size) + " bytes) cannot hold that many (entry count mismatch)");
  data_end_ = cd_offset;

  // Central directory entries, each cross-checked against its local header.
  const std::string cd = read_at(cd_offset, cd_size);
  struct Span {
    std::uint64_t begin, end;
    std::size_t index;
  };
  std::vector<Span> spans;
  spans.reserve(static_cast<std::size_t>(count));
  entries_.reserve(static_cast<std::size_t>(count));
  std::size_t at = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (cd.size() - at < kCentralSize)
      refuse(path_, "the central directory ends after " + std::to_string(i) + " entries, but the end record declares " +
                        std::to_string(count) + " (entry count mismatch)");
    Cursor c(cd, at);
    if (c.get32() != kCentralSig)
      refuse(path_, "central directory entry #" + std::to_string(i + 1) +
                        " has no valid signature (entry count mismatch or corrupt central directory)");
    c.skip(4); // version made by, version needed
    const std::uint16_t flags = c.get16(), method = c.get16();
    c.skip(4); // DOS time and date
    const std::uint32_t crc = c.get32();
    std::uint64_t csize = c.get32(), usize = c.get32();
    const std::uint16_t name_len = c.get16(), extra_len = c.get16(), comment_len = c.get16();
    const std::uint16_t start_disk = c.get16();
    c.skip(6); // internal and external attributes
    std::uint64_t offset = c.get32();
    if (c.left() < std::size_t{name_len} + extra_len + comment_len)
      refuse(path_,
             "central directory entry #" + std::to_string(i + 1) + " runs past the end of the central directory");
    std::string name(c.take(name_len));
    const std::string_view extra = c.take(extra_len);
    c.skip(comment_len);
    at = cd.size() - c.left();

    const std::string who = "entry " + util::quoted(name);
    if (std::string problem = name_problem(name); !problem.empty()) refuse(path_, who + " " + problem);
    if (flags & (kFlagEncrypted | kFlagStrongEncryption | kFlagMaskedHeaders)) refuse(path_, who + " is encrypted");
    if (method != 0)
      refuse(path_, who + " is compressed (method " + std::to_string(method) +
                        "); bundle entries must be stored uncompressed (method 0)");
    apply_zip64({&usize, &csize, &offset}, zip64_extra(extra, path_, who), path_, who);
    if (start_disk != 0) refuse(path_, who + " is on another disk: " + multi_disk);
    if (csize != usize)
      refuse(path_, who + " is stored, but its compressed size (" + std::to_string(csize) +
                        ") differs from its size (" + std::to_string(usize) + ")");

    // The local header must lie before the central directory and agree with it.
    if (offset > data_end_ || data_end_ - offset < kLocalSize)
      refuse(path_, who + " has its local header at byte " + std::to_string(offset) +
                        ", beyond the start of the central directory at byte " + std::to_string(data_end_));
    const std::string lh = read_at(offset, kLocalSize);
    Cursor l(lh);
    if (l.get32() != kLocalSig) refuse(path_, who + " has no local header at byte " + std::to_string(offset));
    l.skip(2); // version needed
    const std::uint16_t local_flags = l.get16(), local_method = l.get16();
    l.skip(4); // DOS time and date
    const std::uint32_t local_crc = l.get32();
    std::uint64_t local_csize = l.get32(), local_usize = l.get32();
    const std::uint16_t local_name_len = l.get16(), local_extra_len = l.get16();
    if (data_end_ - offset - kLocalSize < std::size_t{local_name_len} + local_extra_len)
      refuse(path_, who + " has a local header that runs into the central directory");
    const std::uint64_t data_offset = offset + kLocalSize + local_name_len + local_extra_len;
    const std::string local_var = read_at(offset + kLocalSize, std::size_t{local_name_len} + local_extra_len);
    const std::string_view local_name = std::string_view(local_var).substr(0, local_name_len);
    if (local_name != name) refuse(path_, who + " is named " + util::quoted(local_name) + " in its local header");
    if (local_method != method)
      refuse(path_, who + " has compression method " + std::to_string(local_method) + " in its local header");
    if (local_flags != flags)
      refuse(path_, who + " has flags 0x" + hex32(local_flags) + " in its local header but 0x" + hex32(flags) +
                        " in the central directory");
    const auto local_z64 = zip64_extra(std::string_view(local_var).substr(local_name_len), path_, who);
    apply_zip64({&local_usize, &local_csize}, local_z64, path_, who);
    if (usize > data_end_ - data_offset)
      refuse(path_, who + " has " + std::to_string(usize) + " bytes of data at byte " + std::to_string(data_offset) +
                        ", beyond the start of the central directory at byte " + std::to_string(data_end_) +
                        ": the file is truncated or corrupt");
    std::uint64_t span_end = data_offset + usize;
    const std::string mismatch = who + ": its local header and the central directory disagree on its ";
    const bool descriptor = flags & kFlagDescriptor;
    // With a data descriptor the local header may hold zeros; the descriptor after the data holds the values.
    if (local_crc != crc && !(descriptor && local_crc == 0)) refuse(path_, mismatch + "CRC-32");
    if (local_usize != usize && !(descriptor && local_usize == 0)) refuse(path_, mismatch + "size");
    if (local_csize != csize && !(descriptor && local_csize == 0)) refuse(path_, mismatch + "compressed size");
    if (descriptor) {
      const std::size_t fields = local_z64 ? 20 : 12; // ZIP64 descriptors have 8-byte sizes
      const std::string d = read_at(span_end, std::min<std::uint64_t>(fields + 4, data_end_ - span_end));
      const std::size_t sig = d.size() >= 4 && Cursor(d).get32() == kDescriptorSig ? 4 : 0;
      if (d.size() < sig + fields) refuse(path_, who + " has a data descriptor that runs into the central directory");
      Cursor dc(d, sig);
      const std::uint32_t d_crc = dc.get32();
      const std::uint64_t d_csize = local_z64 ? dc.get64() : dc.get32(), d_usize = local_z64 ? dc.get64() : dc.get32();
      if (d_crc != crc || d_csize != csize || d_usize != usize)
        refuse(path_, who + " has a data descriptor that disagrees with the central directory");
      span_end += sig + fields;
    }
    spans.push_back({offset, span_end, entries_.size()});
    entries_.push_back({std::move(name), usize, data_offset, crc});
  }
  if (at != cd.size())
    refuse(path_, "the central directory has " + std::to_string(cd.size() - at) + " bytes left after the " +
                      std::to_string(count) + " entries the end record declares (entry count mismatch)");

  by_name_.resize(entries_.size());
  for (std::size_t i = 0; i < by_name_.size(); ++i) by_name_[i] = static_cast<std::uint32_t>(i);
  std::sort(by_name_.begin(), by_name_.end(),
            [&](std::uint32_t a, std::uint32_t b) { return entries_[a].name < entries_[b].name; });
  for (std::size_t i = 1; i < by_name_.size(); ++i)
    if (entries_[by_name_[i]].name == entries_[by_name_[i - 1]].name)
      refuse(path_, "entry " + util::quoted(entries_[by_name_[i]].name) + " appears twice (duplicate name)");

  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      refuse(path_, "entries " + util::quoted(entries_[spans[i - 1].index].name) + " and " +
                        util::quoted(entries_[spans[i].index].name) + " overlap");
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [&](std::uint32_t i, const std::string& n) { return entries_[i].name < n; });
  return it != by_name_.end() && entries_[*it].name == name ? &entries_[*it] : nullptr;
}

std::unique_ptr<util::Source> ZipReader::open(const ZipEntry& entry, Crc crc) const {
  if (entry.data_offset > data_end_ || entry.size > data_end_ - entry.data_offset)
    fail(ExitCode::failure, "internal error: entry " + util::quoted(entry.name) + " is not from bundle " + path_);
  return std::make_unique<EntrySource>(file_, path_, entry, crc == Crc::check);
}

std::string ZipReader::read_small(const ZipEntry& entry, std::size_t max_bytes) const {
  if (entry.size > max_bytes)
    refuse(path_, "entry " + util::quoted(entry.name) + " is " + std::to_string(entry.size) + " bytes, more than the " +
                      std::to_string(max_bytes) + " allowed for it");
  std::string out(static_cast<std::size_t>(entry.size), '\0');
  auto src = open(entry);
  std::size_t got = 0;
  while (std::size_t n = src->read(out.data() + got, out.size() - got)) got += n;
  return out;
}

bool ends_with_zip_end_record(util::ReadAt& bytes) {
  const std::uint64_t size = bytes.size();
  if (size < kEndSize) return false;
  std::string tail(static_cast<std::size_t>(std::min<std::uint64_t>(size, kEndSize + kMax16)), '\0');
  if (bytes.pread(tail.data(), tail.size(), size - tail.size()) != tail.size()) return false;
  return find_end_record(tail) != std::string::npos;
}

} // namespace airlock::bundle
