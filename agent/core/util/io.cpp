#include "util/io.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace airlock::util {

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t StringSource::read(void* buf, std::size_t size) {
  const std::size_t n = std::min(size, data_.size() - pos_);
  std::memcpy(buf, data_.data() + pos_, n);
  pos_ += n;
  return n;
}

namespace {

std::string sys_error(const std::string& what, const std::string& path, int err) {
  std::string msg = what + " " + path + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) msg += " (the filesystem is full: free space there and run again)";
  return msg;
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

FileSource::FileSource(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    int e = errno;
    fail(e == ENOENT ? ExitCode::not_found : ExitCode::failure, sys_error("cannot open", path, e));
  }
}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t FileSource::read(void* buf, std::size_t size) {
  for (;;) {
    ssize_t n = ::read(fd_, buf, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) fail(ExitCode::failure, sys_error("cannot read", path_, errno));
  }
}

std::size_t FileSource::pread(void* buf, std::size_t size, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd_, static_cast<char*>(buf) + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(ExitCode::failure, sys_error("cannot read", path_, errno));
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

std::uint64_t FileSource::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail(ExitCode::failure, sys_error("cannot stat", path_, errno));
  return static_cast<std::uint64_t>(st.st_size);
}

int create_new_file(const std::string& path, unsigned mode) {
  constexpr int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0 && errno == EEXIST && ::unlink(path.c_str()) == 0) fd = ::open(path.c_str(), flags, mode);
  if (fd >= 0) ::fchmod(fd, mode); // the umask must not widen or narrow what the caller asked for
  return fd;
}

AtomicFile::AtomicFile(const std::string& path, unsigned mode)
    : path_(path), tmp_(path + ".tmp-" + std::to_string(::getpid())) {
  fd_ = create_new_file(tmp_, mode);
  if (fd_ < 0) fail(ExitCode::failure, sys_error("cannot create", tmp_, errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFile::write(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(ExitCode::failure, sys_error("cannot write", tmp_, errno));
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit(Sync sync) {
  if (sync == Sync::yes && ::fsync(fd_) != 0) fail(ExitCode::failure, sys_error("cannot fsync", tmp_, errno));
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(tmp_.c_str());
    fail(ExitCode::failure, sys_error("cannot close", tmp_, errno));
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp_.c_str());
    fail(ExitCode::failure, sys_error("cannot rename into", path_, e));
  }
  if (sync == Sync::yes) fsync_dir(parent_dir(path_));
}

std::string read_file(const std::string& path, std::size_t max_bytes) {
  FileSource src(path);
  if (src.size() > max_bytes)
    fail(ExitCode::bad_input, path + " is " + std::to_string(src.size()) + " bytes, more than the " +
                                  std::to_string(max_bytes) + " allowed for it");
  std::string out(static_cast<std::size_t>(src.size()), '\0');
  std::size_t got = src.pread(out.data(), out.size(), 0);
  out.resize(got);
  return out;
}

void write_file_atomic(const std::string& path, std::string_view data, unsigned mode) {
  AtomicFile f(path, mode);
  f.write(data);
  f.commit();
}

bool write_file_if_changed(const std::string& path, std::string_view data, unsigned mode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) == data.size()) {
    FileSource old(path);
    std::string bytes(data.size(), '\0');
    if (old.pread(bytes.data(), bytes.size(), 0) == bytes.size() && bytes == data) return false;
  }
  write_file_atomic(path, data, mode);
  return true;
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(ExitCode::failure, sys_error("cannot open directory", dir, errno));
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0 && e != EINVAL) fail(ExitCode::failure, sys_error("cannot fsync directory", dir, e));
}

} // namespace airlock::util
