#include "delta/delta.hpp"

#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"

#define ZSTD_STATIC_LINKING_ONLY // refPrefix_advanced, stableInBuffer: stable in libzstd 1.5
#include <zstd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace airlock::delta {
namespace {

// A read-only or read-write mapping of part of a file; page-aligned underneath, `data()` at the asked offset.
class Mapping {
public:
  Mapping(int fd, std::uint64_t offset, std::uint64_t size, bool writable, const std::string& what) : size_(size) {
    if (size == 0) return;
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    skip_ = offset % page;
    len_ = size + skip_;
    void* p = ::mmap(nullptr, len_, writable ? PROT_READ | PROT_WRITE : PROT_READ, writable ? MAP_SHARED : MAP_PRIVATE,
                     fd, static_cast<off_t>(offset - skip_));
    if (p == MAP_FAILED) fail(ExitCode::failure, fmt::format("cannot map {}: {}", what, std::strerror(errno)));
    base_ = static_cast<char*>(p);
    ::madvise(base_, len_, MADV_SEQUENTIAL);
  }
  ~Mapping() {
    if (base_) ::munmap(base_, len_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  char* data() const { return base_ ? base_ + skip_ : nullptr; }
  std::uint64_t size() const { return size_; }

private:
  char* base_ = nullptr;
  std::uint64_t size_ = 0, skip_ = 0, len_ = 0;
};

util::Fd open_file(const std::string& path, int flags, unsigned mode = 0) {
  util::Fd fd(::open(path.c_str(), flags | O_CLOEXEC, mode));
  if (fd.get() < 0)
    fail(errno == ENOENT ? ExitCode::not_found : ExitCode::failure,
         fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  return fd;
}

std::uint64_t file_size(int fd, const std::string& path) {
  const off_t end = ::lseek(fd, 0, SEEK_END);
  if (end < 0) fail(ExitCode::failure, fmt::format("cannot size {}: {}", path, std::strerror(errno)));
  return static_cast<std::uint64_t>(end);
}

void check_range(const Range& r, int fd) {
  const std::uint64_t size = file_size(fd, r.file);
  if (r.offset > size || r.size > size - r.offset)
    fail(ExitCode::failure,
         fmt::format("{} holds {} bytes, fewer than the base layer's {} at offset {}", r.file, size, r.size, r.offset));
}

void check(std::size_t rc, const std::string& what) {
  if (ZSTD_isError(rc)) fail(ExitCode::failure, fmt::format("zstd failed on {}: {}", what, ZSTD_getErrorName(rc)));
}

// The smallest window that keeps the whole base in reach until the end of the result.
int window_log(std::uint64_t base, std::uint64_t target) {
  int log = ZSTD_WINDOWLOG_MIN;
  while (log < ZSTD_WINDOWLOG_MAX && (std::uint64_t{1} << log) < base + target) ++log;
  return log;
}

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

} // namespace

std::uint64_t create(const Range& base, const std::string& target_path, const std::string& out_path, int level) {
  const util::Fd base_fd = open_file(base.file, O_RDONLY);
  check_range(base, base_fd.get());
  const util::Fd target_fd = open_file(target_path, O_RDONLY);
  const Mapping b(base_fd.get(), base.offset, base.size, false, base.file);
  const Mapping t(target_fd.get(), 0, file_size(target_fd.get(), target_path), false, target_path);
  std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
  if (!cctx) fail(ExitCode::failure, "zstd: out of memory for a compression context");
  ZSTD_CCtx* c = cctx.get();
  check(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level), target_path);
  check(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log(b.size(), t.size())), target_path);
  check(ZSTD_CCtx_setParameter(c, ZSTD_c_enableLongDistanceMatching, 1), target_path);
  check(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1), target_path);
  check(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1), target_path);
  check(ZSTD_CCtx_setParameter(c, ZSTD_c_stableInBuffer, 1), target_path);
  check(ZSTD_CCtx_setPledgedSrcSize(c, t.size()), target_path);
  static const char empty = 0;
  check(ZSTD_CCtx_refPrefix_advanced(c, b.size() ? b.data() : &empty, b.size(), ZSTD_dct_rawContent), base.file);
  util::AtomicFile out(out_path);
  std::vector<char> buf(ZSTD_CStreamOutSize() * 8);
  ZSTD_inBuffer in{t.size() ? t.data() : &empty, t.size(), 0};
  std::uint64_t written = 0;
  for (std::size_t left = 1; left != 0;) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    left = ZSTD_compressStream2(c, &o, &in, ZSTD_e_end);
    check(left, target_path);
    out.write(buf.data(), o.pos);
    written += o.pos;
  }
  out.commit();
  return written;
}

void apply(const Range& base, const std::string& delta_path, const std::string& out_path, std::uint64_t size,
           const std::string& sha256_hex, const std::string& what) {
  const util::Fd base_fd = open_file(base.file, O_RDONLY);
  check_range(base, base_fd.get());
  const util::Fd delta_fd = open_file(delta_path, O_RDONLY);
  const Mapping b(base_fd.get(), base.offset, base.size, false, base.file);
  const Mapping d(delta_fd.get(), 0, file_size(delta_fd.get(), delta_path), false, delta_path);
  static const char empty = 0;
  const unsigned long long content = ZSTD_getFrameContentSize(d.size() ? d.data() : &empty, d.size());
  if (content != size)
    fail(ExitCode::verify_failed,
         fmt::format("{}: the delta {} is not a zstd frame of the layer's {} bytes; it is damaged", what, delta_path,
                     size));
  const std::string tmp = out_path + ".tmp-" + std::to_string(::getpid());
  if (const util::Fd created(util::create_new_file(tmp, 0644)); created.get() < 0)
    fail(ExitCode::failure, fmt::format("cannot create {}: {}", tmp, std::strerror(errno)));
  struct Unlink {
    const std::string& p;
    bool keep = false;
    ~Unlink() {
      if (!keep) ::unlink(p.c_str());
    }
  } cleanup{tmp, false};
  const util::Fd out_fd = open_file(tmp, O_RDWR | O_NOFOLLOW); // a shared writable mapping needs it open for reading
  if (::ftruncate(out_fd.get(), static_cast<off_t>(size)) != 0)
    fail(ExitCode::failure, fmt::format("cannot size {} to {} bytes: {}", tmp, size, std::strerror(errno)));
  {
    const Mapping o(out_fd.get(), 0, size, true, tmp);
    std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
    if (!dctx) fail(ExitCode::failure, "zstd: out of memory for a decompression context");
    check(ZSTD_DCtx_refPrefix_advanced(dctx.get(), b.size() ? b.data() : &empty, b.size(), ZSTD_dct_rawContent),
          base.file);
    char sink = 0;
    const std::size_t rc = ZSTD_decompressDCtx(dctx.get(), size ? o.data() : &sink, size, d.data(), d.size());
    if (ZSTD_isError(rc) || rc != size)
      fail(ExitCode::verify_failed,
           fmt::format("{}: the delta {} does not decode against its base ({}): it is damaged or was made from "
                       "another base layer",
                       what, delta_path, ZSTD_isError(rc) ? ZSTD_getErrorName(rc) : "short result"));
    util::Sha256 h;
    if (size) h.update(o.data(), size);
    if (const std::string got = h.hex_digest(); got != sha256_hex)
      fail(ExitCode::verify_failed, fmt::format("{}: the delta {} decodes to bytes of SHA-256 {}, not the layer's {}",
                                                what, delta_path, got, sha256_hex));
  }
  if (::fsync(out_fd.get()) != 0 || ::rename(tmp.c_str(), out_path.c_str()) != 0)
    fail(ExitCode::failure, fmt::format("cannot write {}: {}", out_path, std::strerror(errno)));
  cleanup.keep = true;
  util::fsync_dir(std::filesystem::path(out_path).parent_path().string());
}

} // namespace airlock::delta
