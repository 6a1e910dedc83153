// Hashing: streaming SHA-256 (OpenSSL EVP, which uses the CPU's SHA instructions) for everything that is
// trusted, and XXH3-64 for fast non-cryptographic change detection only.
// Thread-safety: a Sha256 or BackgroundSha256 object is used by one thread at a time (BackgroundSha256 runs its own
// hashing thread inside); the free functions are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace airlock::util {

class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Lowercase hex digest. Ends this hash: call reset() before reusing the object.
  std::string hex_digest();
  void reset();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sha256's contract, hashed on a thread of its own, so that a caller that receives and writes the bytes (a
// download) is not also held up by hashing them: update() copies the bytes into one of `chunks` buffers and
// returns, waiting only while every buffer is still queued; hex_digest() and reset() wait for the queued bytes.
// Memory: `chunks` buffers of the largest update() size. The destructor stops the thread and joins it.
class BackgroundSha256 {
public:
  explicit BackgroundSha256(std::size_t chunks = 4);
  ~BackgroundSha256();
  BackgroundSha256(const BackgroundSha256&) = delete;
  BackgroundSha256& operator=(const BackgroundSha256&) = delete;

  void update(const void* data, std::size_t size);
  // Lowercase hex digest of every byte given to update(). Ends this hash: call reset() before reusing it.
  std::string hex_digest();
  void reset();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
// SHA-256 of a whole file, read in large blocks. Throws Error(failure) naming the file when it cannot be read.
std::string sha256_file_hex(const std::string& path);

std::uint64_t xxh3_64(std::string_view data);

std::string to_hex(const void* data, std::size_t size);

// True when `s` is exactly 64 lowercase hex digits: the form of every SHA-256 that airlock stores or accepts.
bool is_sha256_hex(std::string_view s);

} // namespace airlock::util
