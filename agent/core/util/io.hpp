// Byte streams and durable files. Sources and sinks are small interfaces so that a gzip stream, a file, a
// hashing tee or a fault injector can be stacked without copying whole files into memory.
// Durability rule (STYLE.md): write to a temp file, fsync, rename, fsync the directory. A destructor never
// commits: an AtomicFile that is destroyed without commit() removes its temp file.
// Thread-safety: objects are used by one thread at a time, except FileSource::pread (a positioned read, safe to call
// from several threads at once).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace airlock::util {

class Source {
public:
  virtual ~Source() = default;
  // Reads up to `size` bytes into `buf`; returns 0 only at end of stream. Throws Error on I/O failure.
  virtual std::size_t read(void* buf, std::size_t size) = 0;
};

// Positioned reads over bytes of a fixed size: a file, or several files read as one (bundle::PartSet).
class ReadAt {
public:
  virtual ~ReadAt() = default;
  // Reads up to `size` bytes at `offset` into `buf` without moving any stream position. Returns the bytes read:
  // short only at the end (or where the bytes got shorter since they were opened). Throws Error on I/O failure.
  virtual std::size_t pread(void* buf, std::size_t size, std::uint64_t offset) = 0;
  virtual std::uint64_t size() const = 0;
};

class Sink {
public:
  virtual ~Sink() = default;
  // Writes all `size` bytes or throws Error (a full disk names the file and says "no space left").
  virtual void write(const void* data, std::size_t size) = 0;
  void write(std::string_view s) { write(s.data(), s.size()); }
};

// Owns a file descriptor: closes it when destroyed (-1: none).
class Fd {
public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

private:
  int fd_;
};

// Reads a string it owns, from the start.
class StringSource : public Source {
public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  std::size_t read(void* buf, std::size_t size) override;

private:
  std::string data_;
  std::size_t pos_ = 0;
};

// Appends everything written to `data`.
struct StringSink : Sink {
  std::string data;
  void write(const void* d, std::size_t n) override { data.append(static_cast<const char*>(d), n); }
  using Sink::write;
};

// A file opened for reading. Throws Error(not_found) when it does not exist, Error(failure) otherwise.
class FileSource : public Source, public ReadAt {
public:
  explicit FileSource(const std::string& path);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  std::size_t read(void* buf, std::size_t size) override;
  // Positioned read that does not move the stream position. Returns bytes read (short only at end of file).
  std::size_t pread(void* buf, std::size_t size, std::uint64_t offset) override;
  std::uint64_t size() const override;
  const std::string& path() const { return path_; }

private:
  std::string path_;
  int fd_ = -1;
};

// Creates a new file at `path` for writing (O_CREAT|O_EXCL|O_NOFOLLOW, mode exactly `mode` whatever the umask)
// and returns its descriptor, or -1 with errno set. Nothing that is already at `path` is ever opened, so a
// symlink or hard link planted there cannot redirect the write: a leftover (a stale temp file of a killed run, or
// a planted link) is unlinked, which never touches what a link points at, and the create is tried once more.
int create_new_file(const std::string& path, unsigned mode);

// Writes `path` atomically: data goes to "<path>.tmp-<pid>" (made by create_new_file), commit() fsyncs it,
// renames it over `path` and fsyncs the directory. Without commit() the temp file is removed and `path` is
// untouched. commit(Sync::no) renames without the fsyncs: for files whose content is checked again before any
// later run uses them (a download named by its SHA-256), where a crash may lose or truncate the file but never
// passes it off as good.
class AtomicFile : public Sink {
public:
  explicit AtomicFile(const std::string& path, unsigned mode = 0644);
  ~AtomicFile() override;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(const void* data, std::size_t size) override;
  using Sink::write;
  enum class Sync { yes, no };
  void commit(Sync sync = Sync::yes);
  const std::string& path() const { return path_; }

private:
  std::string path_, tmp_;
  int fd_ = -1;
};

// Reads a whole small file, refusing files larger than `max_bytes` with Error(bad_input) naming the file.
std::string read_file(const std::string& path, std::size_t max_bytes);
// Writes a whole file atomically (AtomicFile + commit).
void write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644);
// write_file_atomic, unless `path` already is a regular file holding exactly `data`: then nothing is written (no
// rename, no fsync). Returns whether it wrote.
bool write_file_if_changed(const std::string& path, std::string_view data, unsigned mode = 0644);
// fsync a directory so that a rename inside it is durable.
void fsync_dir(const std::string& dir);

} // namespace airlock::util
