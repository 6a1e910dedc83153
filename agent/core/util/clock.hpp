// The clock seam (as LevelDB's Env): wall time for expiry and the journal, a monotonic clock and sleeping for
// timeouts and the health gate's windows. Code that waits or judges time takes a Clock&, so tests run a gate
// of minutes in microseconds (a fake whose sleep advances its own time).
// Thread-safety: system_clock() is thread-safe; a fake is used by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

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

// The real clock with its wall time pinned at `unix_seconds` (it does not advance); steady time and sleeping are
// real. What AIRLOCK_NOW gives both tools.
class PinnedClock final : public Clock {
public:
  explicit PinnedClock(std::int64_t unix_seconds) : now_(unix_seconds) {}
  std::int64_t unix_seconds() const override { return now_; }
  steady_time steady() const override;
  void sleep_until(steady_time t) override;

private:
  std::int64_t now_;
};

// AIRLOCK_NOW=<seconds since the epoch> from the environment: the wall time the black-box tests pin (the site's
// maintenance windows, expiry, airlock-bundle's signing time). nullopt when unset; Error(usage) naming the value
// when it is not a whole number of 0 or more.
std::optional<std::int64_t> pinned_now();

} // namespace airlock::util
