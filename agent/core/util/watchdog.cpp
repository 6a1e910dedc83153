#include "util/watchdog.hpp"

#include <algorithm>
#include <deque>
#include <sys/socket.h>
#include <utility>

namespace airlock::util {

namespace {
using Clock = std::chrono::steady_clock;
constexpr auto tick = std::chrono::milliseconds(250);
} // namespace

SocketWatchdog::SocketWatchdog(int fd, time_point deadline, RateFloor floor)
    : fd_(fd), start_(Clock::now()), deadline_(deadline), floor_(floor) {
  thread_ = std::thread([this] { run(); });
}

SocketWatchdog::~SocketWatchdog() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

double SocketWatchdog::elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

void SocketWatchdog::trip(Tripped why) {
  tripped_.store(why, std::memory_order_release);
  ::shutdown(fd_, SHUT_RDWR);
}

void SocketWatchdog::run() {
  const bool rated = floor_.bytes_per_s > 0 && floor_.window.count() > 0;
  std::deque<std::pair<time_point, std::uint64_t>> samples{{start_, 0}};
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    const auto now = Clock::now();
    const auto wake = rated ? std::min(deadline_, now + tick) : deadline_;
    if (wake == time_point::max())
      cv_.wait(l, [this] { return stop_; });
    else
      cv_.wait_until(l, wake, [this] { return stop_; });
    if (stop_) return;
    const auto t = Clock::now();
    if (t >= deadline_) return trip(Tripped::deadline);
    if (!rated) continue;
    const std::uint64_t total = total_.load(std::memory_order_relaxed);
    samples.emplace_back(t, total);
    // Keep the newest sample that is at least a window old at the front: the average is over [front, now].
    while (samples.size() > 2 && t - samples[1].first >= floor_.window) samples.pop_front();
    const auto& [since, bytes] = samples.front();
    if (t - since < floor_.window) continue; // the grace period: not a whole window yet
    const double secs = std::chrono::duration<double>(t - since).count();
    if (static_cast<double>(total - bytes) < static_cast<double>(floor_.bytes_per_s) * secs) {
      slow_bytes_ = total - bytes;
      slow_seconds_ = secs;
      return trip(Tripped::too_slow);
    }
  }
}

} // namespace airlock::util
