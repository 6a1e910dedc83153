// Work on every core: runs independent jobs on a few threads, for CPU-bound loops such as hashing the targets
// of a bundle. Nothing here shares data between jobs; a job that needs shared state brings its own lock.
// Thread-safety: for_each_index may be called from any thread; `job` is called from several threads at once.
#pragma once

#include <cstddef>
#include <functional>

namespace airlock::util {

// The number of threads worth running CPU-bound work on: the cores this process may use (its affinity mask), at
// least 1. AIRLOCK_THREADS (a positive number) overrides it, for benchmarks and tests.
unsigned worker_threads();

// Calls job(i) for every i in [0, count), on min(threads, count) threads: the calling thread and
// min(threads, count) - 1 others, each taking the next index not yet taken, so a job list sorted by size (largest
// first) keeps all threads busy. Returns after every started job has returned. When a job throws, no further job
// starts, and after the running ones return the exception of the lowest index that threw is rethrown (so a
// single failure is reported the same way whatever the thread count). threads == 0 counts as 1.
void for_each_index(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& job);

} // namespace airlock::util
