// Bounds one blocking socket transfer from outside, as curl's --max-time and --speed-limit/--speed-time do: a
// thread of its own watches the transfer and, when its deadline passes or the bytes it was told of average below a
// floor over a sliding window, shuts the socket down (shutdown(2), both ways). A recv() blocked anywhere (in a
// library's header parser, in a TLS read) then returns at once with an error or end of file, and the reader asks
// tripped() why. A per-recv timeout cannot do this: a peer that sends one byte per second never lets one expire.
//
// The rate floor: once `window` has passed since the watchdog started (the grace period), the average rate over
// the last `window` (sampled every 250 ms) must stay at or above `bytes_per_s`. The deadline applies from the
// start. Neither closes the socket: its owner does, after the watchdog is destroyed (destroy the watchdog first,
// so the descriptor cannot be reused under it).
//
// Thread-safety: progress(), tripped() and the accessors are called by the one reading thread while the
// watchdog's thread runs; they are safe to call concurrently with it. Not copyable or movable.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace airlock::util {

struct RateFloor {
  std::uint64_t bytes_per_s = 0;       // 0: no floor
  std::chrono::milliseconds window{0}; // 0: no floor
};

enum class Tripped { no, deadline, too_slow };

class SocketWatchdog {
public:
  using time_point = std::chrono::steady_clock::time_point;
  // Starts watching socket `fd` now. `deadline` = time_point::max() for none.
  SocketWatchdog(int fd, time_point deadline, RateFloor floor);
  ~SocketWatchdog(); // stops the thread; never touches the socket after it returns
  SocketWatchdog(const SocketWatchdog&) = delete;
  SocketWatchdog& operator=(const SocketWatchdog&) = delete;

  // The transfer's byte count so far (monotonic).
  void progress(std::uint64_t total) { total_.store(total, std::memory_order_relaxed); }
  Tripped tripped() const { return tripped_.load(std::memory_order_acquire); }
  // When tripped too_slow: the bytes received over the window that tripped it, and its length in seconds.
  std::uint64_t slow_bytes() const { return slow_bytes_; }
  double slow_seconds() const { return slow_seconds_; }
  // Seconds since the watchdog started (for messages).
  double elapsed_s() const;

private:
  void run();
  void trip(Tripped why);

  int fd_;
  time_point start_, deadline_;
  RateFloor floor_;
  std::atomic<std::uint64_t> total_{0};
  std::atomic<Tripped> tripped_{Tripped::no};
  std::uint64_t slow_bytes_ = 0; // written before tripped_ is released
  double slow_seconds_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace airlock::util
