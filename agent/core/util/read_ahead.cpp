#include "util/read_ahead.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace airlock::util {

struct ReadAheadSource::Impl {
  Source& in;
  const std::size_t chunk_size, max_chunks;
  std::mutex m;
  std::condition_variable filled_cv, drained_cv;
  std::deque<std::vector<char>> ready;  // filled chunks, in order
  std::vector<std::vector<char>> spare; // drained chunks to fill again
  bool ended = false, stopping = false; // the thread is done (end of `in` or an error) / asked to stop
  std::exception_ptr error;             // what in.read() threw, after the chunks in `ready`
  std::vector<char> current;            // the chunk the caller reads from
  std::size_t pos = 0;
  std::thread thread;

  Impl(Source& i, std::size_t size, std::size_t chunks)
      : in(i), chunk_size(std::max<std::size_t>(size, 1)), max_chunks(std::max<std::size_t>(chunks, 1)) {}

  void run() {
    for (bool more = true; more;) {
      std::vector<char> chunk;
      {
        std::unique_lock<std::mutex> lock(m);
        drained_cv.wait(lock, [&] { return stopping || ready.size() < max_chunks; });
        if (stopping) break;
        if (!spare.empty()) {
          chunk = std::move(spare.back());
          spare.pop_back();
        }
      }
      std::size_t filled = 0;
      std::exception_ptr failed;
      try {
        chunk.resize(chunk_size);
        while (filled < chunk_size) {
          std::size_t n = in.read(chunk.data() + filled, chunk_size - filled);
          if (n == 0) break;
          filled += n;
        }
      } catch (...) {
        failed = std::current_exception();
      }
      more = filled == chunk_size && !failed; // else: the end of `in`, or an error after `filled` bytes
      chunk.resize(filled);
      std::lock_guard<std::mutex> lock(m);
      if (filled > 0) ready.push_back(std::move(chunk));
      error = failed;
      filled_cv.notify_one();
    }
    std::lock_guard<std::mutex> lock(m);
    ended = true;
    filled_cv.notify_one();
  }
};

ReadAheadSource::ReadAheadSource(Source& in, std::size_t chunk_size, std::size_t chunks)
    : impl_(std::make_unique<Impl>(in, chunk_size, chunks)) {
  impl_->thread = std::thread([p = impl_.get()] { p->run(); });
}

ReadAheadSource::~ReadAheadSource() {
  {
    std::lock_guard<std::mutex> lock(impl_->m);
    impl_->stopping = true;
  }
  impl_->drained_cv.notify_one();
  impl_->thread.join();
}

std::size_t ReadAheadSource::read(void* buf, std::size_t size) {
  auto& s = *impl_;
  if (size == 0) return 0;
  if (s.pos == s.current.size()) {
    std::unique_lock<std::mutex> lock(s.m);
    if (!s.current.empty()) s.spare.push_back(std::move(s.current));
    s.current.clear();
    s.pos = 0;
    s.filled_cv.wait(lock, [&] { return !s.ready.empty() || s.ended; });
    if (s.ready.empty()) {
      if (s.error) std::rethrow_exception(s.error);
      return 0;
    }
    s.current = std::move(s.ready.front());
    s.ready.pop_front();
    s.drained_cv.notify_one();
  }
  std::size_t n = std::min(size, s.current.size() - s.pos);
  std::memcpy(buf, s.current.data() + s.pos, n);
  s.pos += n;
  return n;
}

} // namespace airlock::util
