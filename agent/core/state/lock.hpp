// The run lock: at most one airlock process changes a site at a time.
// RunLock takes an exclusive flock(2) on "<state_dir>/airlock.lock" and writes the holder's PID into the file
// so that a refused second process can name the holder. The kernel drops the lock when the process dies, so a
// stale lock file (left by a crash) never blocks anyone; its PID line is simply overwritten.
// Releasing the lock (destructor) commits nothing: it only lets the next airlock run.
// Thread-safety: a RunLock is owned by one thread. flock locks belong to the open file, so a second RunLock
// on the same directory in the same process is refused too.
#pragma once

#include <string>

namespace airlock::state {

class RunLock {
public:
  // Takes the lock on "<state_dir>/airlock.lock" (created with mode 0644 if missing; state_dir must exist).
  // wait_seconds == 0: try once. wait_seconds > 0: retry until the lock is free or the time is up.
  // Throws Error(busy) "another airlock (PID N) is running on <state_dir>; wait for it to finish" when the
  // lock stays held (N is the PID recorded in the file, "unknown" if it cannot be read), and Error(failure)
  // when the file cannot be opened, locked or written.
  explicit RunLock(const std::string& state_dir, int wait_seconds = 0);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  const std::string& path() const { return path_; }

private:
  std::string path_;
  int fd_ = -1;
};

} // namespace airlock::state
