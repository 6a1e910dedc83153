#include "util/hash.hpp"

#include "util/error.hpp"

#include <openssl/evp.h>
#include <xxhash.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

namespace airlock::util {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  if (!impl_->ctx) fail(ExitCode::failure, "OpenSSL: cannot allocate a digest context (out of memory?)");
  reset();
}

Sha256::~Sha256() = default;

void Sha256::reset() {
  if (EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1)
    fail(ExitCode::failure, "OpenSSL: SHA-256 initialisation failed");
}

void Sha256::update(const void* data, std::size_t size) {
  if (size && EVP_DigestUpdate(impl_->ctx, data, size) != 1) fail(ExitCode::failure, "OpenSSL: SHA-256 update failed");
}

std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, md, &len) != 1) fail(ExitCode::failure, "OpenSSL: SHA-256 final failed");
  return to_hex(md, len);
}

struct BackgroundSha256::Impl {
  Sha256 sha;
  std::mutex m;
  std::condition_variable changed;
  std::deque<std::vector<char>> queued; // in order; the front one is being hashed while busy
  std::vector<std::vector<char>> spare;
  std::size_t chunks;
  bool busy = false, stop = false;
  std::thread worker;

  explicit Impl(std::size_t n) : chunks(n < 1 ? 1 : n), worker([this] { run(); }) {}
  void run() {
    std::unique_lock lock(m);
    for (;;) {
      changed.wait(lock, [&] { return stop || !queued.empty(); });
      if (stop) return;
      busy = true;
      std::vector<char>& chunk = queued.front();
      lock.unlock();
      sha.update(chunk.data(), chunk.size()); // the front chunk is this thread's until it is popped
      lock.lock();
      spare.push_back(std::move(queued.front()));
      queued.pop_front();
      busy = false;
      changed.notify_all();
    }
  }
  // Waits until every queued byte is hashed (the lock held on return).
  std::unique_lock<std::mutex> drained() {
    std::unique_lock lock(m);
    changed.wait(lock, [&] { return queued.empty() && !busy; });
    return lock;
  }
};

BackgroundSha256::BackgroundSha256(std::size_t chunks) : impl_(std::make_unique<Impl>(chunks)) {}

BackgroundSha256::~BackgroundSha256() {
  {
    std::lock_guard lock(impl_->m);
    impl_->stop = true;
  }
  impl_->changed.notify_all();
  impl_->worker.join();
}

void BackgroundSha256::update(const void* data, std::size_t size) {
  if (size == 0) return;
  Impl& b = *impl_;
  std::unique_lock lock(b.m);
  b.changed.wait(lock, [&] { return b.queued.size() < b.chunks; });
  std::vector<char> chunk;
  if (!b.spare.empty()) {
    chunk = std::move(b.spare.back());
    b.spare.pop_back();
  }
  lock.unlock();
  chunk.assign(static_cast<const char*>(data), static_cast<const char*>(data) + size);
  lock.lock();
  b.queued.push_back(std::move(chunk));
  b.changed.notify_all();
}

std::string BackgroundSha256::hex_digest() {
  auto lock = impl_->drained();
  return impl_->sha.hex_digest();
}

void BackgroundSha256::reset() {
  auto lock = impl_->drained();
  impl_->sha.reset();
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

std::string sha256_file_hex(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ExitCode::failure, "cannot open " + path + ": " + std::strerror(errno));
  Sha256 h;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      fail(ExitCode::failure, "cannot read " + path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return h.hex_digest();
}

std::uint64_t xxh3_64(std::string_view data) { return XXH3_64bits(data.data(), data.size()); }

std::string to_hex(const void* data, std::size_t size) {
  static const char digits[] = "0123456789abcdef";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 0xf];
  }
  return out;
}

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

} // namespace airlock::util
