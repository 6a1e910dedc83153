// Read-ahead on a thread of its own: the bytes of a Source are produced (read from disk, hashed, decompressed)
// while the caller consumes the earlier ones, so the two overlap on two cores as `gzip -d | tar -x` do.
// Thread-safety: one caller thread uses the object; its own thread is the only one that reads `in` meanwhile.
#pragma once

#include "util/io.hpp"

#include <cstddef>
#include <memory>

namespace airlock::util {

// A Source that yields exactly the bytes of `in`, in order. A thread started by the constructor reads `in` ahead of
// the caller, up to `chunks` chunks of `chunk_size` bytes (memory: chunks + 2 chunk buffers). An exception thrown by
// in.read() (an Error, std::bad_alloc) is rethrown, unchanged, by the read() that reaches its position, after
// every byte before it. `in` belongs to that thread from construction until this object is destroyed: destroy it
// before using `in` (or whatever `in` reads from) again. The destructor stops the thread after its current
// in.read() and joins it, so destroying the object early (an error in the caller) is safe.
class ReadAheadSource : public Source {
public:
  explicit ReadAheadSource(Source& in, std::size_t chunk_size = 1 << 20, std::size_t chunks = 4);
  ~ReadAheadSource() override;
  ReadAheadSource(const ReadAheadSource&) = delete;
  ReadAheadSource& operator=(const ReadAheadSource&) = delete;

  std::size_t read(void* buf, std::size_t size) override;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace airlock::util
