#include "archive/tar.hpp"

#include "util/error.hpp"
#include "util/text.hpp"
#include "util/users.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <limits>
#include <set>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace airlock::archive {
namespace {

constexpr std::size_t kBlock = 512;
constexpr std::size_t kBufferSize = 256 * 1024;
constexpr std::uint64_t kMaxEntrySize = std::uint64_t{1} << 50; // larger sizes are taken as corruption
constexpr std::uint64_t kMaxMetaSize = 1 << 20;                 // pax / GNU long-name data
constexpr std::int64_t kMaxOctal7 = 07777777;                   // 8-byte octal fields
constexpr std::uint64_t kMaxOctal11 = 077777777777;             // 12-byte octal fields

// ustar header layout (offset, length).
constexpr std::size_t kName = 0, kNameLen = 100;
constexpr std::size_t kMode = 100, kUid = 108, kGid = 116, kSmall = 8;
constexpr std::size_t kSize = 124, kMtime = 136, kLarge = 12;
constexpr std::size_t kChksum = 148, kType = 156, kLink = 157, kLinkLen = 100;
constexpr std::size_t kMagic = 257, kVersion = 263;
constexpr std::size_t kUname = 265, kGname = 297, kOwnerLen = 32;
constexpr std::size_t kDevMajor = 329, kDevMinor = 337;
constexpr std::size_t kPrefix = 345, kPrefixLen = 155;

using Block = std::array<char, kBlock>;

std::uint64_t padding_for(std::uint64_t size) { return (kBlock - size % kBlock) % kBlock; }

bool is_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0; });
}

// A printable rendering of a name for messages (names come from untrusted archives).

// ------------------------------------------------------------------------------------------ writer side

// Best effort for readers without pax support: non-ASCII bytes become '_', long strings keep their tail.
std::string ustar_fallback(const std::string& s, std::size_t len) {
  std::string out = s.size() > len ? s.substr(s.size() - len) : s;
  for (char& c : out)
    if (c <= 0) c = '_';
  return out;
}

void put_string(Block& h, std::size_t off, std::size_t len, const std::string& s) {
  std::memcpy(h.data() + off, s.data(), std::min(len, s.size()));
}

// Writes `v` as zero-padded octal digits plus a NUL; returns false when it does not fit.
bool put_octal(Block& h, std::size_t off, std::size_t len, std::uint64_t v) {
  std::size_t digits = len - 1;
  if (digits < 22 && v >> (3 * digits) != 0) return false;
  for (std::size_t i = digits; i-- > 0; v >>= 3) h[off + i] = static_cast<char>('0' + (v & 7));
  h[off + digits] = '\0';
  return true;
}

// Splits `path` into ustar prefix and name (prefix may be empty). False when it does not fit.
bool split_ustar(const std::string& path, std::string& prefix, std::string& name) {
  if (path.size() <= kNameLen) {
    prefix.clear();
    name = path;
    return true;
  }
  std::size_t last = std::min(kPrefixLen, path.size() - 2);
  for (std::size_t i = last + 1; i-- > 0;) {
    if (path[i] != '/') continue;
    if (path.size() - i - 1 > kNameLen) return false; // earlier slashes leave an even longer name
    prefix = path.substr(0, i);
    name = path.substr(i + 1);
    return true;
  }
  return false;
}

void add_record(std::string& pax, const std::string& key, const std::string& value) {
  std::size_t body = key.size() + value.size() + 3; // ' ', '=', '\n'
  std::size_t len = body + 1;
  while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
  pax += std::to_string(len) + ' ' + key + '=' + value + '\n';
}

char type_flag(Entry::Type t) {
  switch (t) {
  case Entry::Type::file:
    return '0';
  case Entry::Type::hardlink:
    return '1';
  case Entry::Type::symlink:
    return '2';
  case Entry::Type::char_device:
    return '3';
  case Entry::Type::block_device:
    return '4';
  case Entry::Type::directory:
    return '5';
  case Entry::Type::fifo:
    return '6';
  }
  return '0';
}

void set_checksum(Block& h) {
  std::memset(h.data() + kChksum, ' ', kSmall);
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  put_octal(h, kChksum, 7, sum); // six digits, NUL, then the space already there
}

Block make_header(const std::string& name, const std::string& prefix, char type) {
  Block h{};
  put_string(h, kName, kNameLen, name);
  put_string(h, kPrefix, kPrefixLen, prefix);
  h[kType] = type;
  std::memcpy(h.data() + kMagic, "ustar", 6);
  std::memcpy(h.data() + kVersion, "00", 2);
  return h;
}

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// The metadata of an inode; the caller sets the type and what belongs to it.
Entry stat_entry(const struct stat& st, const std::string& archive_path, const std::string& uname,
                 const std::string& gname) {
  Entry e;
  e.path = archive_path;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.uname = uname;
  e.gname = gname;
  e.mtime = st.st_mtim.tv_sec;
  return e;
}

class FdSource : public util::Source {
public:
  FdSource(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  std::size_t read(void* buf, std::size_t size) override {
    for (;;) {
      ssize_t n = ::read(fd_, buf, size);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) fail(ExitCode::failure, sys_error("cannot read", path_));
    }
  }

private:
  int fd_;
  std::string path_;
};

// ------------------------------------------------------------------------------------------ reader side

std::string field_string(const Block& h, std::size_t off, std::size_t len) {
  const char* p = h.data() + off;
  return std::string(p, strnlen(p, len));
}

bool is_zero(const char* p, std::size_t n) {
  return std::all_of(p, p + n, [](char c) { return c == 0; });
}

// Parses an octal field (leading spaces, then digits, then only spaces/NULs; blank means 0) or a GNU
// base-256 field (high bit of the first byte set; 0xff starts a negative number). False if malformed.
bool parse_number(const Block& h, std::size_t off, std::size_t len, std::int64_t& out) {
  const auto* f = reinterpret_cast<const unsigned char*>(h.data() + off);
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 62;
  if (f[0] & 0x80) {
    bool negative = f[0] == 0xff;
    std::uint64_t v = negative ? 0 : (f[0] & 0x7fu);
    for (std::size_t i = 1; i < len; ++i) {
      if (v >= kLimit >> 7) return false;
      v = v << 8 | (negative ? 0xffu - f[i] : f[i]);
    }
    out = negative ? -static_cast<std::int64_t>(v) - 1 : static_cast<std::int64_t>(v);
    return true;
  }
  std::size_t i = 0;
  while (i < len && f[i] == ' ') ++i;
  std::uint64_t v = 0;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; ++i) {
    if (v >= kLimit) return false;
    v = v * 8 + (f[i] - '0');
  }
  for (; i < len; ++i)
    if (f[i] != ' ' && f[i] != '\0') return false;
  out = static_cast<std::int64_t>(v);
  return true;
}

// Decimal pax value: optional '-' (only if allowed), digits, and for mtime an optional fraction (dropped).
bool parse_decimal(const std::string& s, bool allow_negative, bool allow_fraction, std::int64_t& out) {
  std::size_t i = 0;
  bool negative = allow_negative && !s.empty() && s[0] == '-';
  if (negative) ++i;
  std::size_t digits_start = i;
  std::int64_t v = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (v > (std::numeric_limits<std::int64_t>::max() - 9) / 10) return false;
    v = v * 10 + (s[i] - '0');
  }
  if (i == digits_start) return false;
  if (allow_fraction && i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    }
  }
  if (i != s.size()) return false;
  out = negative ? -v : v;
  return true;
}

} // namespace

// =============================================================================================== TarWriter

TarWriter::TarWriter(util::Sink& out) : out_(out), buf_(kBufferSize) {}

void TarWriter::write_header(const Entry& e) {
  std::string pax, prefix, name;
  if (!is_ascii(e.path) || !split_ustar(e.path, prefix, name)) {
    add_record(pax, "path", e.path);
    prefix.clear();
    name = ustar_fallback(e.path, kNameLen);
  }
  Block h = make_header(name, prefix, type_flag(e.type));
  bool is_link = e.type == Entry::Type::symlink || e.type == Entry::Type::hardlink;
  if (is_link) {
    if (!is_ascii(e.link_target) || e.link_target.size() > kLinkLen) add_record(pax, "linkpath", e.link_target);
    put_string(h, kLink, kLinkLen, ustar_fallback(e.link_target, kLinkLen));
  }
  put_octal(h, kMode, kSmall, e.mode);
  // A number too large for its octal field goes into a pax record, and the field holds 0.
  auto number = [&](const char* key, std::size_t off, std::size_t len, std::uint64_t v) {
    if (put_octal(h, off, len, v)) return;
    add_record(pax, key, std::to_string(v));
    put_octal(h, off, len, 0);
  };
  number("uid", kUid, kSmall, e.uid);
  number("gid", kGid, kSmall, e.gid);
  number("size", kSize, kLarge, e.size);
  if (e.mtime < 0 || !put_octal(h, kMtime, kLarge, static_cast<std::uint64_t>(e.mtime))) {
    add_record(pax, "mtime", std::to_string(e.mtime));
    put_octal(h, kMtime, kLarge, e.mtime < 0 ? 0 : kMaxOctal11);
  }
  if (!is_ascii(e.uname) || e.uname.size() > kOwnerLen) add_record(pax, "uname", e.uname);
  if (!is_ascii(e.gname) || e.gname.size() > kOwnerLen) add_record(pax, "gname", e.gname);
  put_string(h, kUname, kOwnerLen, ustar_fallback(e.uname, kOwnerLen));
  put_string(h, kGname, kOwnerLen, ustar_fallback(e.gname, kOwnerLen));
  put_octal(h, kDevMajor, kSmall, e.dev_major);
  put_octal(h, kDevMinor, kSmall, e.dev_minor);
  set_checksum(h);

  if (!pax.empty()) {
    std::string base = e.path.substr(0, e.path.find_last_not_of('/') + 1);
    base = base.substr(base.rfind('/') + 1);
    Block x = make_header("PaxHeaders/" + ustar_fallback(base, kNameLen - 11), "", 'x');
    put_octal(x, kMode, kSmall, 0644);
    put_octal(x, kUid, kSmall, 0);
    put_octal(x, kGid, kSmall, 0);
    put_octal(x, kSize, kLarge, pax.size());
    put_octal(x, kMtime, kLarge,
              e.mtime < 0 ? 0 : std::min<std::uint64_t>(static_cast<std::uint64_t>(e.mtime), kMaxOctal11));
    set_checksum(x);
    out_.write(x.data(), x.size());
    pax.resize(pax.size() + padding_for(pax.size()), '\0');
    out_.write(pax);
  }
  out_.write(h.data(), h.size());
}

void TarWriter::check_usable(const char* call) const {
  if (finished_) fail(ExitCode::failure, std::string("tar: ") + call + " after finish() (a bug in the caller)");
  if (broken_)
    fail(ExitCode::failure, std::string("tar: ") + call + " after an earlier error; the archive is incomplete");
}

void TarWriter::add(const Entry& e, util::Source* content) {
  check_usable("add()");
  broken_ = true;
  add_entry(e, content);
  broken_ = false;
}

void TarWriter::add_entry(const Entry& e, util::Source* content) {
  const std::string where = "tar: entry " + util::quoted(e.path) + ": ";
  auto has_nul = [](const std::string& s) { return s.find('\0') != std::string::npos; };
  if (e.path.empty()) fail(ExitCode::failure, "tar: an entry has an empty path");
  if (has_nul(e.path) || has_nul(e.link_target) || has_nul(e.uname) || has_nul(e.gname))
    fail(ExitCode::failure, where + "a name contains a NUL byte");
  if (e.mode & ~07777u) fail(ExitCode::failure, where + "mode has bits outside 07777");
  if (e.dev_major > kMaxOctal7 || e.dev_minor > kMaxOctal7)
    fail(ExitCode::failure, where + "device number too large for a tar header");
  bool is_file = e.type == Entry::Type::file;
  if (is_file != (content != nullptr))
    fail(ExitCode::failure, where + (is_file ? "a file needs a content source" : "only files have content"));
  if (!is_file && e.size != 0) fail(ExitCode::failure, where + "only files have a size");
  bool is_link = e.type == Entry::Type::symlink || e.type == Entry::Type::hardlink;
  if (is_link && e.link_target.empty()) fail(ExitCode::failure, where + "a link needs a target");

  write_header(e);
  if (is_file) {
    std::uint64_t left = e.size;
    while (left > 0) {
      std::size_t n = content->read(buf_.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, buf_.size())));
      if (n == 0)
        fail(ExitCode::failure, where + "content ended after " + std::to_string(e.size - left) + " of " +
                                    std::to_string(e.size) +
                                    " bytes: the file changed while it was archived; run again when it is not "
                                    "being written");
      out_.write(buf_.data(), n);
      left -= n;
    }
    char extra = 0;
    if (content->read(&extra, 1) != 0)
      fail(ExitCode::failure, where + "content has more than the expected " + std::to_string(e.size) +
                                  " bytes: the file changed while it was archived; run again when it is not "
                                  "being written");
    std::memset(buf_.data(), 0, kBlock);
    out_.write(buf_.data(), static_cast<std::size_t>(padding_for(e.size)));
  }
}

void TarWriter::add_tree(const std::string& dir, const std::string& prefix) {
  check_usable("add_tree()");
  broken_ = true;
  std::string root = prefix;
  while (!root.empty() && root.back() == '/') root.pop_back();
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.fd < 0)
    fail(errno == ENOENT ? ExitCode::not_found : ExitCode::failure, sys_error("cannot open directory", dir));
  if (!root.empty()) {
    struct stat st {};
    if (::fstat(fd.fd, &st) != 0) fail(ExitCode::failure, sys_error("cannot stat", dir));
    Entry e = stat_entry(st, root + "/", user_name(st.st_uid), group_name(st.st_gid));
    e.type = Entry::Type::directory;
    add_entry(e, nullptr);
    root += '/';
  }
  walk(fd.fd, dir, root);
  broken_ = false;
}

void TarWriter::walk(int dir_fd, const std::string& fs_path, const std::string& archive_path) {
  int dup_fd = ::dup(dir_fd);
  if (dup_fd < 0) fail(ExitCode::failure, sys_error("cannot read directory", fs_path));
  DIR* d = ::fdopendir(dup_fd);
  if (!d) {
    ::close(dup_fd);
    fail(ExitCode::failure, sys_error("cannot read directory", fs_path));
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* ent = ::readdir(d)) {
    std::string n = ent->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) {
    errno = err;
    fail(ExitCode::failure, sys_error("cannot read directory", fs_path));
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) add_node(dir_fd, n, fs_path + "/" + n, archive_path + n);
}

void TarWriter::add_node(int dir_fd, const std::string& name, const std::string& fs_path,
                         const std::string& archive_path) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    fail(ExitCode::failure, sys_error("cannot stat", fs_path));
  Entry e = stat_entry(st, archive_path, user_name(st.st_uid), group_name(st.st_gid));
  if (S_ISDIR(st.st_mode)) {
    e.type = Entry::Type::directory;
    e.path += '/';
    add_entry(e, nullptr);
    Fd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (sub.fd < 0) fail(ExitCode::failure, sys_error("cannot open directory", fs_path));
    walk(sub.fd, fs_path, e.path);
    return;
  }
  if (S_ISSOCK(st.st_mode)) {
    skipped_sockets_.push_back(fs_path);
    return;
  }
  if (st.st_nlink > 1) {
    auto [it, first] = links_.try_emplace({st.st_dev, st.st_ino}, archive_path);
    if (!first) {
      e.type = Entry::Type::hardlink;
      e.link_target = it->second;
      add_entry(e, nullptr);
      return;
    }
  }
  if (S_ISREG(st.st_mode)) {
    // O_NONBLOCK: should the name have been replaced by a fifo since fstatat, open must not hang.
    Fd f(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (f.fd < 0) fail(ExitCode::failure, sys_error("cannot open", fs_path));
    struct stat fst {};
    if (::fstat(f.fd, &fst) != 0) fail(ExitCode::failure, sys_error("cannot stat", fs_path));
    if (fst.st_dev != st.st_dev || fst.st_ino != st.st_ino || !S_ISREG(fst.st_mode))
      fail(ExitCode::failure, fs_path + " was replaced while it was archived; run again when it is not being written");
    e.type = Entry::Type::file;
    e.size = static_cast<std::uint64_t>(fst.st_size);
    FdSource src(f.fd, fs_path);
    add_entry(e, &src);
  } else if (S_ISLNK(st.st_mode)) {
    e.type = Entry::Type::symlink;
    std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
    for (;;) {
      ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
      if (n < 0) fail(ExitCode::failure, sys_error("cannot read symlink", fs_path));
      if (static_cast<std::size_t>(n) < target.size()) {
        target.resize(static_cast<std::size_t>(n));
        break;
      }
      target.resize(target.size() * 2);
    }
    e.link_target = target;
    add_entry(e, nullptr);
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    e.type = S_ISCHR(st.st_mode) ? Entry::Type::char_device : Entry::Type::block_device;
    e.dev_major = major(st.st_rdev);
    e.dev_minor = minor(st.st_rdev);
    add_entry(e, nullptr);
  } else if (S_ISFIFO(st.st_mode)) {
    e.type = Entry::Type::fifo;
    add_entry(e, nullptr);
  } else {
    fail(ExitCode::bad_input, fs_path + " has an unknown file type that a tar archive cannot hold");
  }
}

const std::string& TarWriter::user_name(std::uint32_t uid) {
  auto [it, fresh] = users_.try_emplace(uid);
  if (fresh) {
    it->second = util::user_name(uid); // never NSS in a static binary (util/users.hpp)
  }
  return it->second;
}

const std::string& TarWriter::group_name(std::uint32_t gid) {
  auto [it, fresh] = groups_.try_emplace(gid);
  if (fresh) {
    it->second = util::group_name(gid);
  }
  return it->second;
}

void TarWriter::finish() {
  check_usable("finish()");
  finished_ = true;
  std::memset(buf_.data(), 0, 2 * kBlock);
  out_.write(buf_.data(), 2 * kBlock);
}

// =============================================================================================== TarReader

TarReader::TarReader(util::Source& in, std::string what) : in_(in), what_(std::move(what)), buf_(kBufferSize) {}

void TarReader::bad(const std::string& why) const { fail(ExitCode::bad_input, what_ + ": " + why); }

void TarReader::read_exact(void* buf, std::size_t n, const char* while_doing) {
  auto* p = static_cast<char*>(buf);
  std::size_t done = 0;
  while (done < n) {
    std::size_t got = in_.read(p + done, n - done);
    if (got == 0)
      bad(std::string("truncated tar archive: it ends at byte ") + std::to_string(offset_) + " " + while_doing);
    done += got;
    offset_ += got;
  }
}

std::string TarReader::read_meta(std::uint64_t size, const std::string& kind) {
  if (size > kMaxMetaSize)
    bad(kind + " at byte " + std::to_string(offset_ - kBlock) + " claims " + std::to_string(size) +
        " bytes, more than the " + std::to_string(kMaxMetaSize) + " allowed");
  std::string data(static_cast<std::size_t>(size + padding_for(size)), '\0');
  read_exact(data.data(), data.size(), ("inside a " + kind).c_str());
  data.resize(static_cast<std::size_t>(size));
  return data;
}

void TarReader::skip() {
  while (remaining_ + padding_ > 0) {
    std::uint64_t want = std::min<std::uint64_t>(remaining_ + padding_, buf_.size());
    std::string doing = "inside the data of entry " + util::quoted(current_);
    read_exact(buf_.data(), static_cast<std::size_t>(want), doing.c_str());
    std::uint64_t from_data = std::min(want, remaining_);
    remaining_ -= from_data;
    padding_ -= want - from_data;
  }
}

std::size_t TarReader::read(void* buf, std::size_t n) {
  if (remaining_ == 0 || n == 0) return 0;
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, remaining_));
  std::size_t got = in_.read(buf, want);
  if (got == 0)
    bad("truncated tar archive: entry " + util::quoted(current_) + " ends " + std::to_string(remaining_) +
        " bytes early, at byte " + std::to_string(offset_));
  offset_ += got;
  remaining_ -= got;
  return got;
}

void TarReader::drain_end() {
  for (;;) {
    std::size_t got = in_.read(buf_.data(), buf_.size());
    if (got == 0) return;
    if (!is_zero(buf_.data(), got))
      bad("unexpected data after the end-of-archive marker, near byte " + std::to_string(offset_));
    offset_ += got;
  }
}

bool TarReader::next(Entry& e) {
  if (ended_) return false;
  skip();
  std::map<std::string, std::string> local; // pax 'x' records for the next entry ("" = use the header)
  std::string long_name, long_link;
  bool have_long_name = false, have_long_link = false, pending = false;
  for (;;) {
    Block h{};
    std::uint64_t at = offset_;
    const std::string after = current_.empty() ? "" : " (after entry " + util::quoted(current_) + ")";
    {
      std::size_t got = 0;
      while (got < kBlock) {
        std::size_t n = in_.read(h.data() + got, kBlock - got);
        if (n == 0) break;
        got += n;
        offset_ += n;
      }
      if (got < kBlock)
        bad("truncated tar archive: it ends at byte " + std::to_string(offset_) + " where a header or the " +
            "end-of-archive marker should be" + after);
    }
    if (is_zero(h.data(), kBlock)) {
      if (pending) bad("extended header at byte " + std::to_string(at) + " is not followed by an entry");
      drain_end();
      ended_ = true;
      current_.clear();
      remaining_ = padding_ = 0;
      return false;
    }
    const std::string where = "header at byte " + std::to_string(at) + after;
    if (std::memcmp(h.data() + kMagic, "ustar", 5) != 0 || (h[kMagic + 5] != '\0' && h[kMagic + 5] != ' '))
      bad("no tar header at byte " + std::to_string(at) + after +
          ": the data is corrupt or not a ustar/pax/GNU tar archive");
    std::int64_t stored = 0;
    if (!parse_number(h, kChksum, kSmall, stored)) bad(where + ": malformed checksum field");
    std::int64_t usum = 0, ssum = 0;
    for (std::size_t i = 0; i < kBlock; ++i) {
      bool in_field = i >= kChksum && i < kChksum + kSmall;
      usum += in_field ? ' ' : static_cast<unsigned char>(h[i]);
      ssum += in_field ? ' ' : static_cast<signed char>(h[i]);
    }
    if (stored != usum && stored != ssum)
      bad(where + " (name " + util::quoted(field_string(h, kName, kNameLen)) +
          "): header checksum mismatch, the archive is corrupt");

    char type = h[kType];
    std::int64_t raw_size = 0;
    if (!parse_number(h, kSize, kLarge, raw_size)) bad(where + ": malformed size field");
    if (raw_size < 0) bad(where + ": negative size " + std::to_string(raw_size));
    auto size = static_cast<std::uint64_t>(raw_size);

    if (type == 'x' || type == 'g') {
      std::string data = read_meta(size, "pax header");
      std::size_t pos = 0;
      while (pos < data.size()) {
        if (data[pos] == '\0' && is_zero(data.data() + pos, data.size() - pos)) break;
        std::size_t sp = data.find(' ', pos);
        std::int64_t len = 0;
        if (sp == std::string::npos || !parse_decimal(data.substr(pos, sp - pos), false, false, len) ||
            static_cast<std::uint64_t>(len) > data.size() - pos || static_cast<std::size_t>(len) < sp - pos + 3 ||
            data[pos + static_cast<std::size_t>(len) - 1] != '\n')
          bad("malformed pax record in the pax header at byte " + std::to_string(at) + after);
        std::string rec = data.substr(sp + 1, pos + static_cast<std::size_t>(len) - 1 - (sp + 1));
        std::size_t eq = rec.find('=');
        if (eq == std::string::npos || eq == 0)
          bad("malformed pax record in the pax header at byte " + std::to_string(at) + after);
        std::string key = rec.substr(0, eq), value = rec.substr(eq + 1);
        if (key.rfind("GNU.sparse.", 0) == 0)
          bad("the pax header at byte " + std::to_string(at) + after +
              " describes a sparse file, which is not supported");
        static const std::set<std::string> kKeys = {"path", "linkpath", "size",  "uid",
                                                    "gid",  "uname",    "gname", "mtime"};
        if (kKeys.count(key) == 0) {
          // Other keys (atime, ctime, comment, SCHILY.*, ...) do not change what we report.
        } else if (type == 'x') {
          local[key] = value;
        } else if (value.empty()) {
          global_.erase(key);
        } else {
          global_[key] = value;
        }
        pos += static_cast<std::size_t>(len);
      }
      pending = pending || type == 'x';
      continue;
    }
    if (type == 'L' || type == 'K') {
      std::string data = read_meta(size, "GNU long name");
      data.resize(strnlen(data.data(), data.size()));
      (type == 'L' ? long_name : long_link) = data;
      (type == 'L' ? have_long_name : have_long_link) = true;
      pending = true;
      continue;
    }

    // The value of pax key `key`: the entry's own record wins, then GNU long names, then global records.
    auto pick = [&](const std::string& key, std::string header_value, const std::string* gnu) {
      auto l = local.find(key);
      if (l != local.end()) return l->second.empty() ? header_value : l->second;
      if (gnu) return *gnu;
      auto g = global_.find(key);
      return g != global_.end() ? g->second : header_value;
    };
    std::string path = field_string(h, kName, kNameLen);
    std::string ustar_prefix = h[kMagic + 5] == '\0' ? field_string(h, kPrefix, kPrefixLen) : "";
    if (!ustar_prefix.empty()) path = ustar_prefix + "/" + path;
    e = Entry{};
    e.path = pick("path", path, have_long_name ? &long_name : nullptr);
    if (e.path.empty()) bad(where + ": entry with an empty name");
    current_ = e.path;
    const std::string ewhere = "entry " + util::quoted(e.path) + " (header at byte " + std::to_string(at) + ")";
    e.link_target = pick("linkpath", field_string(h, kLink, kLinkLen), have_long_link ? &long_link : nullptr);
    e.uname = pick("uname", field_string(h, kUname, kOwnerLen), nullptr);
    e.gname = pick("gname", field_string(h, kGname, kOwnerLen), nullptr);

    std::int64_t mode = 0, uid = 0, gid = 0, mtime = 0, major_no = 0, minor_no = 0;
    if (!parse_number(h, kMode, kSmall, mode) || mode < 0) bad(ewhere + ": malformed mode field");
    e.mode = static_cast<std::uint32_t>(mode & 07777);
    auto number = [&](const std::string& key, std::size_t off, std::size_t len, bool negative_ok, std::int64_t& out) {
      std::string v = pick(key, "", nullptr);
      bool ok = v.empty() ? parse_number(h, off, len, out) : parse_decimal(v, negative_ok, key == "mtime", out);
      if (!ok || (!negative_ok && out < 0)) bad(ewhere + ": malformed " + key + " value");
    };
    number("uid", kUid, kSmall, false, uid);
    number("gid", kGid, kSmall, false, gid);
    number("mtime", kMtime, kLarge, true, mtime);
    number("size", kSize, kLarge, false, raw_size);
    if (uid > std::numeric_limits<std::uint32_t>::max() || gid > std::numeric_limits<std::uint32_t>::max())
      bad(ewhere + ": uid or gid out of range");
    e.uid = static_cast<std::uint32_t>(uid);
    e.gid = static_cast<std::uint32_t>(gid);
    e.mtime = mtime;
    size = static_cast<std::uint64_t>(raw_size);
    if (size > kMaxEntrySize) bad(ewhere + ": absurd size " + std::to_string(size) + " (corrupt archive)");

    switch (type) {
    case '0':
    case '\0':
    case '7':
      e.type = Entry::Type::file;
      break;
    case '1':
      e.type = Entry::Type::hardlink;
      break;
    case '2':
      e.type = Entry::Type::symlink;
      break;
    case '3':
      e.type = Entry::Type::char_device;
      break;
    case '4':
      e.type = Entry::Type::block_device;
      break;
    case '5':
      e.type = Entry::Type::directory;
      break;
    case '6':
      e.type = Entry::Type::fifo;
      break;
    default:
      bad(ewhere + ": unsupported entry type " + util::quoted(std::string(1, type)) +
          " (sparse files, multi-volume archives and volume labels are not supported)");
    }
    if (e.type == Entry::Type::char_device || e.type == Entry::Type::block_device) {
      if (!parse_number(h, kDevMajor, kSmall, major_no) || !parse_number(h, kDevMinor, kSmall, minor_no) ||
          major_no < 0 || minor_no < 0 || major_no > kMaxOctal7 || minor_no > kMaxOctal7)
        bad(ewhere + ": malformed device number");
      e.dev_major = static_cast<std::uint32_t>(major_no);
      e.dev_minor = static_cast<std::uint32_t>(minor_no);
    }
    if ((e.type == Entry::Type::symlink || e.type == Entry::Type::hardlink) && e.link_target.empty())
      bad(ewhere + ": link without a target");
    // POSIX: only regular files carry data records; the size of other types is ignored.
    if (e.type == Entry::Type::file) {
      e.size = size;
      remaining_ = size;
      padding_ = padding_for(size);
    } else {
      remaining_ = padding_ = 0;
    }
    return true;
  }
}

} // namespace airlock::archive
