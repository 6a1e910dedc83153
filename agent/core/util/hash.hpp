// Hashing: streaming SHA-256 (OpenSSL EVP, which uses the CPU's SHA instructions) for everything that is
// trusted, and XXH3-64 for fast non-cryptographic change detection only.
// Thread-safety: a Sha256 object is used by one thread at a time; the free functions are thread-safe.
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

std::string sha256_hex(std::string_view data);
// SHA-256 of a whole file, read in large blocks. Throws Error(failure) naming the file when it cannot be read.
std::string sha256_file_hex(const std::string& path);

std::uint64_t xxh3_64(std::string_view data);

std::string to_hex(const void* data, std::size_t size);

// True when `s` is exactly 64 lowercase hex digits: the form of every SHA-256 that airlock stores or accepts.
bool is_sha256_hex(std::string_view s);

} // namespace airlock::util
