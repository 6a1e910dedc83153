// The clock seam (as LevelDB's Env): wall time for expiry and the journal, a monotonic clock and sleeping for
// timeouts and the health gate's windows. Code that waits or judges time takes a Clock&, so tests run a gate
// of minutes in microseconds (a fake whose sleep advances its own time).
// Thread-safety: system_clock() is thread-safe; a fake is used by one thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace airlock::util {

class Clock {
public:
  using steady_time = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual std::int64_t unix_seconds() const = 0; // wall time, seconds since the epoch (UTC)
  virtual steady_time steady() const = 0;        // monotonic
  virtual void sleep_until(steady_time t) = 0;
};

// The real clock: time(2), steady_clock, std::this_thread::sleep_until.
Clock& system_clock();

} // namespace airlock::util
