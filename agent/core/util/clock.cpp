#include "util/clock.hpp"

#include "util/error.hpp"

#include <charconv>
#include <cstdlib>
#include <ctime>
#include <string_view>
#include <thread>

namespace airlock::util {
namespace {

class SystemClock final : public Clock {
public:
  std::int64_t unix_seconds() const override { return static_cast<std::int64_t>(std::time(nullptr)); }
  steady_time steady() const override { return std::chrono::steady_clock::now(); }
  void sleep_until(steady_time t) override { std::this_thread::sleep_until(t); }
};

} // namespace

Clock& system_clock() {
  static SystemClock c;
  return c;
}

Clock::steady_time PinnedClock::steady() const { return system_clock().steady(); }
void PinnedClock::sleep_until(steady_time t) { system_clock().sleep_until(t); }

std::optional<std::int64_t> pinned_now() {
  const char* n = std::getenv("AIRLOCK_NOW");
  if (!n) return std::nullopt;
  const std::string_view text(n);
  std::int64_t t = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), t);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || t < 0)
    fail(ExitCode::usage, "AIRLOCK_NOW takes seconds since the epoch, not '" + std::string(text) + "'");
  return t;
}

} // namespace airlock::util
