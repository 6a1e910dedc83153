// ParallelGzipSink: a ring of block slots filled by the caller, compressed by workers, written in order by the caller.
#include "archive/gzip.hpp"

#include "util/error.hpp"
#include "util/parallel.hpp"

#include <zlib.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace airlock::archive {
namespace {

std::string zlib_error(const z_stream& z, int rc) {
  if (z.msg) return z.msg;
  return "zlib error " + std::to_string(rc);
}

// One zlib compressor, owned by one worker; it stays at its address (zlib keeps a pointer back to it).
struct Deflater {
  z_stream z{};
  explicit Deflater(int level) {
    // windowBits 15 + 16: a gzip header and trailer around each block, as GzipSink writes them.
    int rc = deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) fail(ExitCode::failure, "gzip: cannot initialise the compressor: " + zlib_error(z, rc));
  }
  ~Deflater() { deflateEnd(&z); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Compresses `in` as one whole gzip member into `out` (sized by deflateBound, so one call finishes it).
  // Returns an error message, empty on success.
  std::string member(const std::vector<unsigned char>& in, std::vector<unsigned char>& out) {
    if (int rc = deflateReset(&z); rc != Z_OK) return "gzip: cannot reset the compressor: " + zlib_error(z, rc);
    out.resize(deflateBound(&z, static_cast<uLong>(in.size())));
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&z, Z_FINISH);
    if (rc != Z_STREAM_END) return "gzip: compression failed: " + zlib_error(z, rc);
    out.resize(out.size() - z.avail_out);
    return {};
  }
};

enum class SlotState { filling, queued, done, failed };

struct Slot {
  std::vector<unsigned char> in, out;
  SlotState state = SlotState::filling;
  std::string error;
};

} // namespace

struct ParallelGzipSink::Impl {
  util::Sink& out;
  std::vector<Slot> slots;       // a ring: block n lives in slots[n % size]
  std::uint64_t filling = 0;     // the block the caller fills
  std::uint64_t unwritten = 0;   // the oldest block not yet written to `out`; filling - unwritten < slots.size()
  std::deque<std::size_t> queue; // slots waiting for a worker
  std::mutex m;
  std::condition_variable work_cv, done_cv;
  bool stopping = false, finished = false, broken = false;
  std::vector<std::unique_ptr<Deflater>> deflaters;
  std::vector<std::thread> workers;

  explicit Impl(util::Sink& o) : out(o) {}
  ~Impl() { stop(); }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(m);
      stopping = true;
    }
    work_cv.notify_all();
    for (auto& t : workers)
      if (t.joinable()) t.join();
  }

  void work(Deflater& d) {
    std::unique_lock<std::mutex> lock(m);
    for (;;) {
      work_cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (stopping) return;
      Slot& s = slots[queue.front()];
      queue.pop_front();
      lock.unlock();
      std::string error;
      try {
        error = d.member(s.in, s.out);
      } catch (const std::exception& e) { // std::bad_alloc from resize()
        error = std::string("gzip: ") + e.what();
      }
      lock.lock();
      s.error = std::move(error);
      s.state = s.error.empty() ? SlotState::done : SlotState::failed;
      done_cv.notify_all();
    }
  }

  Slot& current() { return slots[filling % slots.size()]; }

  // Hands the block being filled to the workers and makes the next slot free to fill (writing the oldest
  // block first when the ring is full).
  void submit() {
    {
      std::lock_guard<std::mutex> lock(m);
      current().state = SlotState::queued;
      queue.push_back(filling % slots.size());
      ++filling;
    }
    work_cv.notify_one();
    if (filling - unwritten == slots.size()) write_oldest();
  }

  // Waits for the oldest block in flight, writes its member to `out` and frees its slot.
  void write_oldest() {
    Slot& s = slots[unwritten % slots.size()];
    {
      std::unique_lock<std::mutex> lock(m);
      done_cv.wait(lock, [&] { return s.state == SlotState::done || s.state == SlotState::failed; });
    }
    if (s.state == SlotState::failed) fail(ExitCode::failure, s.error);
    out.write(s.out.data(), s.out.size());
    s.in.clear();
    s.state = SlotState::filling;
    ++unwritten;
  }

  void check_usable(const char* call) const {
    if (broken) fail(ExitCode::failure, std::string("gzip: ") + call + " after an earlier error (a bug in the caller)");
    if (finished && std::strcmp(call, "finish()") == 0)
      fail(ExitCode::failure, "gzip: finish() called twice (a bug in the caller)");
    if (finished) fail(ExitCode::failure, std::string("gzip: ") + call + " after finish() (a bug in the caller)");
  }
};

ParallelGzipSink::ParallelGzipSink(util::Sink& out, int level, unsigned threads) {
  if (level < 0 || level > 9)
    fail(ExitCode::failure, "gzip: compression level " + std::to_string(level) + " is not in 0..9");
  if (threads == 0) threads = util::worker_threads();
  threads = std::min(threads, max_threads);
  auto impl = std::make_unique<Impl>(out);
  impl->slots = std::vector<Slot>(threads + 2);
  for (auto& s : impl->slots) s.in.reserve(block_size);
  for (unsigned i = 0; i < threads; ++i) impl->deflaters.push_back(std::make_unique<Deflater>(level));
  try {
    for (auto& d : impl->deflaters) impl->workers.emplace_back([p = impl.get(), d = d.get()] { p->work(*d); });
  } catch (const std::system_error& e) {
    fail(ExitCode::failure, std::string("gzip: cannot start a compression thread: ") + e.what());
  }
  impl_ = std::move(impl);
}

ParallelGzipSink::~ParallelGzipSink() = default;

void ParallelGzipSink::write(const void* data, std::size_t size) {
  auto& s = *impl_;
  s.check_usable("write");
  const auto* p = static_cast<const unsigned char*>(data);
  try {
    while (size > 0) {
      auto& in = s.current().in;
      std::size_t n = std::min(size, block_size - in.size());
      in.insert(in.end(), p, p + n);
      p += n;
      size -= n;
      if (in.size() == block_size) s.submit();
    }
  } catch (...) {
    s.broken = true;
    throw;
  }
}

void ParallelGzipSink::finish() {
  auto& s = *impl_;
  s.check_usable("finish()");
  s.finished = true;
  try {
    if (!s.current().in.empty() || s.filling == 0) s.submit();
    while (s.unwritten < s.filling) s.write_oldest();
  } catch (...) {
    s.broken = true;
    throw;
  }
  s.stop();
}

std::unique_ptr<GzipWriter> make_gzip_writer(util::Sink& out, int level, unsigned threads) {
  if (threads == 0) threads = util::worker_threads();
  if (threads == 1) return std::make_unique<GzipSink>(out, level);
  return std::make_unique<ParallelGzipSink>(out, level, threads);
}

} // namespace airlock::archive
