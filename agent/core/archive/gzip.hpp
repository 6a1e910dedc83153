// Streaming gzip (RFC 1952) on top of util::Source / util::Sink, backed by zlib (which stays in the .cpp files).
// Memory is flat for any stream size: zlib state plus one 256 KiB buffer per object (ParallelGzipSink: see there).
// Thread-safety: objects are used by one thread at a time (ParallelGzipSink runs its own workers inside).
#pragma once

#include "util/io.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace airlock::archive {

// What both gzip writers share: write() any number of times, then finish() exactly once.
class GzipWriter : public util::Sink {
public:
  virtual void finish() = 0;
};

// Compresses everything written to it into one gzip member written to `out`.
// Nothing is complete until finish() has returned: it flushes the compressor and writes the CRC/length
// trailer. The destructor never writes; a GzipSink destroyed without finish() leaves `out` holding a
// truncated stream (which GzipSource rejects), so the caller must discard `out` (e.g. not commit it).
// `out` must outlive this object. Errors from `out` propagate unchanged.
class GzipSink : public GzipWriter {
public:
  // `level` is the zlib level 0 (store) .. 9 (best); anything else throws Error(failure).
  GzipSink(util::Sink& out, int level);
  ~GzipSink() override;
  GzipSink(const GzipSink&) = delete;
  GzipSink& operator=(const GzipSink&) = delete;

  // Throws Error(failure) after finish().
  void write(const void* data, std::size_t size) override;
  using Sink::write;
  // Writes the rest of the stream and the trailer. Call exactly once; a second call throws Error(failure).
  void finish() override;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// GzipSink's contract, compressed on worker threads: the input is cut into blocks of block_size bytes, each
// compressed as an independent gzip member (RFC 1952 allows any number; gzip -d, GNU tar, pigz and GzipSource
// read them as one stream), and the members are written to `out` in input order, always from the thread that
// calls write() and finish() (so `out` needs no locking, and its errors propagate from those calls unchanged).
// The bytes written depend only on the input and the level, never on the thread count. Empty input gives one
// empty member (20 bytes), as GzipSink. Independent blocks lose the 32 KiB window at each block start: at
// level 6, measured, 0.27% larger than one stream on text that compresses 4.4:1, 0.06% on a mixed tree.
// Memory: (threads + 2) blocks in flight, each block_size of input plus its compressed bound, plus one zlib state
// (about 260 KiB) per thread: 9 MiB at 2 threads, 40 MiB at the maximum of max_threads.
// Destroyed without finish() (or after an error): stops the workers, writes nothing more; `out` then holds the
// members of the first blocks only, which gzip may read as a complete stream of a truncated tar, so, as with
// GzipSink, the caller must discard `out`. After any call has thrown, write() and finish() throw Error(failure).
class ParallelGzipSink : public GzipWriter {
public:
  static constexpr std::size_t block_size = 1 << 20;
  static constexpr unsigned max_threads = 16;

  // `level` as GzipSink's. `threads` compress (0: util::worker_threads(), one per CPU the process may use;
  // above max_threads: max_threads). Throws Error(failure) for a bad level or when a thread cannot start.
  ParallelGzipSink(util::Sink& out, int level, unsigned threads);
  ~ParallelGzipSink() override;
  ParallelGzipSink(const ParallelGzipSink&) = delete;
  ParallelGzipSink& operator=(const ParallelGzipSink&) = delete;

  void write(const void* data, std::size_t size) override;
  using Sink::write;
  // Compresses and writes the last block, then waits for and writes every member still in flight.
  void finish() override;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The writer for `threads` (0: util::worker_threads()): a GzipSink for 1, a ParallelGzipSink otherwise.
std::unique_ptr<GzipWriter> make_gzip_writer(util::Sink& out, int level, unsigned threads);

// Decompresses a gzip stream read from `in`. Like GNU gzip, consecutive members are decoded as one stream
// and trailing zero bytes after the last member are ignored. Any other trailing data, a stream that ends
// early (including an empty one), a bad header, corrupt deflate data or a CRC/length mismatch throws
// Error(bad_input) whose message starts with `what` (e.g. the file name). read() returns 0 only after the
// whole stream, trailers included, has been verified. `in` must outlive this object.
class GzipSource : public util::Source {
public:
  GzipSource(util::Source& in, std::string what);
  ~GzipSource() override;
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  std::size_t read(void* buf, std::size_t size) override;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace airlock::archive
