// Streaming gzip (RFC 1952) on top of util::Source / util::Sink, backed by zlib (which stays in gzip.cpp).
// Memory is flat for any stream size: zlib state plus one 256 KiB buffer per object.
// Thread-safety: objects are used by one thread at a time.
#pragma once

#include "util/io.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace airlock::archive {

// Compresses everything written to it into one gzip member written to `out`.
// Nothing is complete until finish() has returned: it flushes the compressor and writes the CRC/length
// trailer. The destructor never writes; a GzipSink destroyed without finish() leaves `out` holding a
// truncated stream (which GzipSource rejects), so the caller must discard `out` (e.g. not commit it).
// `out` must outlive this object. Errors from `out` propagate unchanged.
class GzipSink : public util::Sink {
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
  void finish();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

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
