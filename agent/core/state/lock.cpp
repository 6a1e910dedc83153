#include "state/lock.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace airlock::state {
namespace {

std::string errno_text() { return std::strerror(errno); }

// The PID written by the current holder, or "unknown" while it is being rewritten or cannot be read.
std::string holder_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pid += buf[i];
  return pid.empty() ? "unknown" : pid;
}

} // namespace

RunLock::RunLock(const std::string& state_dir, int wait_seconds) : path_(state_dir + "/airlock.lock") {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(ExitCode::failure, "cannot open lock file " + path_ + ": " + errno_text());
  // The PID is written into it: never into a file that is also reachable under another name.
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
    ::close(fd_);
    fd_ = -1;
    fail(ExitCode::failure, "lock file " + path_ + " is not a plain file with one link; remove it and run again");
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EINTR) continue;
    if (err != EWOULDBLOCK || std::chrono::steady_clock::now() >= deadline) {
      std::string message = err == EWOULDBLOCK ? "another airlock (PID " + holder_pid(fd_) + ") is running on " +
                                                     state_dir + "; wait for it to finish"
                                               : "cannot lock " + path_ + ": " + std::strerror(err);
      ::close(fd_);
      fd_ = -1;
      fail(err == EWOULDBLOCK ? ExitCode::busy : ExitCode::failure, message);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string line = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
    std::string message = "cannot write PID to lock file " + path_ + ": " + errno_text();
    ::close(fd_);
    fd_ = -1;
    fail(ExitCode::failure, message);
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_); // closing the last descriptor drops the flock
}

} // namespace airlock::state
