#include "archive/gzip.hpp"

#include "util/error.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <vector>

namespace airlock::archive {
namespace {

constexpr std::size_t kBufferSize = 256 * 1024;
// zlib counts in uInt; feed it at most this much per call.
constexpr std::size_t kMaxChunk = 1u << 30;

std::string zlib_message(const z_stream& z, int rc) {
  if (z.msg) return z.msg;
  return "zlib error " + std::to_string(rc);
}

} // namespace

// ---------------------------------------------------------------------------------------------- GzipSink

struct GzipSink::Impl {
  util::Sink& out;
  z_stream z{};
  std::vector<unsigned char> buf = std::vector<unsigned char>(kBufferSize);
  bool finished = false;

  explicit Impl(util::Sink& o) : out(o) {}
  ~Impl() { deflateEnd(&z); }

  void reset_output() {
    z.next_out = buf.data();
    z.avail_out = static_cast<uInt>(buf.size());
  }
  void flush_output() {
    std::size_t n = buf.size() - z.avail_out;
    if (n > 0) out.write(buf.data(), n);
    reset_output();
  }
};

GzipSink::GzipSink(util::Sink& out, int level) {
  if (level < 0 || level > 9)
    fail(ExitCode::failure, "gzip: compression level " + std::to_string(level) + " is not in 0..9");
  auto impl = std::make_unique<Impl>(out);
  // windowBits 15 + 16 selects a gzip header and trailer; memLevel 8 is zlib's default.
  int rc = deflateInit2(&impl->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) fail(ExitCode::failure, "gzip: cannot initialise the compressor: " + zlib_message(impl->z, rc));
  impl->reset_output();
  impl_ = std::move(impl);
}

GzipSink::~GzipSink() = default;

void GzipSink::write(const void* data, std::size_t size) {
  if (impl_->finished) fail(ExitCode::failure, "gzip: write after finish() (a bug in the caller)");
  auto& z = impl_->z;
  const auto* p = static_cast<const unsigned char*>(data);
  while (size > 0) {
    std::size_t chunk = std::min(size, kMaxChunk);
    z.next_in = const_cast<Bytef*>(p);
    z.avail_in = static_cast<uInt>(chunk);
    while (z.avail_in > 0) {
      int rc = deflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR) fail(ExitCode::failure, "gzip: compression failed: " + zlib_message(z, rc));
      if (z.avail_out == 0) impl_->flush_output();
    }
    p += chunk;
    size -= chunk;
  }
}

void GzipSink::finish() {
  if (impl_->finished) fail(ExitCode::failure, "gzip: finish() called twice (a bug in the caller)");
  impl_->finished = true;
  auto& z = impl_->z;
  z.next_in = nullptr;
  z.avail_in = 0;
  for (;;) {
    int rc = deflate(&z, Z_FINISH);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) fail(ExitCode::failure, "gzip: compression failed: " + zlib_message(z, rc));
    impl_->flush_output();
  }
  impl_->flush_output();
}

// -------------------------------------------------------------------------------------------- GzipSource

struct GzipSource::Impl {
  util::Source& in;
  std::string what;
  z_stream z{};
  std::vector<unsigned char> buf = std::vector<unsigned char>(kBufferSize);
  bool in_eof = false;    // `in` returned 0
  bool in_member = false; // inside a gzip member (header seen or expected)
  bool any_member = false;
  bool done = false;

  Impl(util::Source& i, std::string w) : in(i), what(std::move(w)) {}
  ~Impl() { inflateEnd(&z); }

  [[noreturn]] void corrupt(const std::string& why) const { fail(ExitCode::bad_input, what + ": " + why); }

  // Makes input available unless the source is exhausted. Returns false at end of input.
  bool fill() {
    if (z.avail_in > 0) return true;
    if (in_eof) return false;
    std::size_t n = in.read(buf.data(), buf.size());
    if (n == 0) {
      in_eof = true;
      return false;
    }
    z.next_in = buf.data();
    z.avail_in = static_cast<uInt>(n);
    return true;
  }

  // Between members: consumes trailing zero bytes (which must run to the end) or starts the next member.
  // Returns false at the clean end of the stream.
  bool start_member() {
    if (!fill()) {
      if (!any_member) corrupt("empty input, expected gzip data");
      return false;
    }
    if (any_member && z.next_in[0] != 0x1f && z.next_in[0] != 0)
      corrupt("unexpected data after the end of the gzip stream");
    if (any_member && z.next_in[0] == 0) {
      do {
        for (uInt i = 0; i < z.avail_in; ++i)
          if (z.next_in[i] != 0) corrupt("unexpected data after the end of the gzip stream");
        z.avail_in = 0;
      } while (fill());
      return false;
    }
    int rc = inflateReset(&z);
    if (rc != Z_OK) fail(ExitCode::failure, what + ": gzip: cannot reset the decompressor: " + zlib_message(z, rc));
    in_member = true;
    any_member = true;
    return true;
  }
};

GzipSource::GzipSource(util::Source& in, std::string what) {
  auto impl = std::make_unique<Impl>(in, std::move(what));
  // windowBits 15 + 16: accept only gzip framing (not raw zlib), and check the CRC-32 and length trailer.
  int rc = inflateInit2(&impl->z, 15 + 16);
  if (rc != Z_OK)
    fail(ExitCode::failure, impl->what + ": gzip: cannot initialise the decompressor: " + zlib_message(impl->z, rc));
  impl_ = std::move(impl);
}

GzipSource::~GzipSource() = default;

std::size_t GzipSource::read(void* buf, std::size_t size) {
  auto& s = *impl_;
  auto& z = s.z;
  if (size == 0) return 0;
  while (!s.done) {
    if (!s.in_member && !s.start_member()) {
      s.done = true;
      break;
    }
    if (!s.fill()) s.corrupt("truncated gzip data (the stream ends early; the file is incomplete)");
    z.next_out = static_cast<Bytef*>(buf);
    z.avail_out = static_cast<uInt>(std::min(size, kMaxChunk));
    uInt before = z.avail_out;
    int rc = inflate(&z, Z_NO_FLUSH);
    std::size_t produced = before - z.avail_out;
    switch (rc) {
    case Z_STREAM_END:
      s.in_member = false;
      break;
    case Z_OK:
    case Z_BUF_ERROR:
      break; // no progress is possible only when input ran out; fill() handles that
    case Z_MEM_ERROR:
      fail(ExitCode::failure, s.what + ": gzip: out of memory");
    case Z_NEED_DICT:
      s.corrupt("corrupt gzip data (needs a preset dictionary)");
    default:
      s.corrupt("corrupt gzip data (" + zlib_message(z, rc) + ")");
    }
    if (produced > 0) return produced;
  }
  return 0;
}

} // namespace airlock::archive
