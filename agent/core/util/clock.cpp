#include "util/clock.hpp"

#include <ctime>
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

} // namespace airlock::util
