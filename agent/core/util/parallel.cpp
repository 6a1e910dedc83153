#include "util/parallel.hpp"

#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace airlock::util {

unsigned worker_threads() {
  if (const char* env = std::getenv("AIRLOCK_THREADS")) {
    char* end = nullptr;
    const unsigned long n = std::strtoul(env, &end, 10);
    if (end != env && *end == '\0' && n > 0 && n <= 256) return static_cast<unsigned>(n);
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<unsigned>(CPU_COUNT(&set));
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? hw : 1;
}

void for_each_index(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& job) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex failed_mutex;
  std::map<std::size_t, std::exception_ptr> failed; // by index
  auto work = [&] {
    for (;;) {
      if (stop.load()) return;
      const std::size_t i = next.fetch_add(1);
      if (i >= count) return;
      try {
        job(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failed_mutex);
        failed.emplace(i, std::current_exception());
        stop.store(true);
      }
    }
  };
  const std::size_t others = std::min<std::size_t>(threads == 0 ? 1 : threads, count) - (count > 0 ? 1 : 0);
  std::vector<std::thread> pool;
  pool.reserve(others);
  try {
    for (std::size_t t = 0; t < others; ++t) pool.emplace_back(work);
  } catch (...) { // no thread could be made: the threads made so far and this one do the work
  }
  work();
  for (auto& t : pool) t.join();
  if (!failed.empty()) std::rethrow_exception(failed.begin()->second);
}

} // namespace airlock::util
