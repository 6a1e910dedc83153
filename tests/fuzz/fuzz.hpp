// Helpers shared by the libFuzzer targets (docs/fuzzing.md). Each target feeds attacker-controlled bytes to
// one parser and lets only airlock::Error through: that is the documented way to refuse input. Anything else
// is a finding: a crash, a sanitizer report, a hang, or any other exception (std::out_of_range, a Poco
// exception, std::bad_alloc, ...), which escapes LLVMFuzzerTestOneInput and aborts the run.
#pragma once

#include "util/error.hpp"
#include "util/io.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <unistd.h>

namespace fuzz {

// Runs `fn`; an airlock::Error is the expected refusal of bad input and is swallowed.
template <class Fn> bool refused(Fn&& fn) {
  try {
    fn();
    return false;
  } catch (const airlock::Error&) {
    return true;
  }
}

// A finding that is not a crash by itself (a broken invariant): prints it and aborts, so libFuzzer keeps the
// input as a crash artifact.
[[noreturn]] inline void broken(const std::string& what) {
  std::fprintf(stderr, "fuzz: invariant broken: %s\n", what.c_str());
  std::abort();
}

// The input as positioned-read bytes (the zip reader's view of a file or part set).
class MemoryReadAt : public airlock::util::ReadAt {
public:
  explicit MemoryReadAt(std::string bytes) : bytes_(std::move(bytes)) {}
  std::size_t pread(void* buf, std::size_t size, std::uint64_t offset) override {
    if (offset >= bytes_.size()) return 0;
    const std::size_t n = std::min<std::uint64_t>(size, bytes_.size() - offset);
    std::memcpy(buf, bytes_.data() + offset, n);
    return n;
  }
  std::uint64_t size() const override { return bytes_.size(); }

private:
  std::string bytes_;
};

// A source that hands out its bytes in small, uneven reads, as a pipe or a socket would: readers must not
// assume that read() fills the buffer.
class TrickleSource : public airlock::util::Source {
public:
  explicit TrickleSource(std::string_view bytes) : bytes_(bytes) {}
  std::size_t read(void* buf, std::size_t size) override {
    if (pos_ >= bytes_.size() || size == 0) return 0;
    const std::size_t n = std::min({size, bytes_.size() - pos_, std::size_t{1} + (pos_ * 7919) % 4099});
    std::memcpy(buf, bytes_.data() + pos_, n);
    pos_ += n;
    return n;
  }

private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

// Sets the checksum field (bytes 148..155) of each 512-byte block to the sum of its bytes, as tar computes it.
inline std::string with_checksums(std::string s) {
  for (std::size_t b = 0; b + 512 <= s.size(); b += 512) {
    char* h = s.data() + b;
    bool zero = true;
    for (int i = 0; i < 512 && zero; ++i) zero = h[i] == 0;
    if (zero) continue; // keep end-of-archive blocks
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; ++i) sum += static_cast<unsigned char>(h[i]);
    std::snprintf(h + 148, 8, "%06o", sum & 0777777);
    h[155] = ' ';
  }
  return s;
}

// A private scratch directory for targets whose code under test reads or writes files (the docker image
// archive reader takes a path): /dev/shm when writable, so no run touches the disk. Created once per process and
// removed when it exits.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string templ = std::string(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/airlock-fuzz.XXXXXX";
    if (!::mkdtemp(templ.data())) {
      std::perror("fuzz: mkdtemp");
      std::abort();
    }
    return templ;
  }();
  static const bool cleanup = [] {
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    });
    return true;
  }();
  (void)cleanup;
  return dir;
}

} // namespace fuzz
