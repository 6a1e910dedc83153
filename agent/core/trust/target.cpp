#include "trust/target.hpp"

#include "util/error.hpp"
#include "util/hash.hpp"

#include <fmt/format.h>

#include <vector>

namespace airlock::trust {

std::uint64_t verify_target(const TargetFile& target, util::Source& src, const std::string& what, util::Sink* copy) {
  util::Sha256 hash;
  std::vector<char> buf(1 << 20);
  std::uint64_t total = 0;
  for (;;) {
    // Never ask for more than one byte past the listed length.
    std::uint64_t room = target.length + 1 - total;
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), room));
    std::size_t n = src.read(buf.data(), want);
    if (n == 0) break;
    total += n;
    if (total > target.length)
      fail(ExitCode::verify_failed, fmt::format("{}: target {} is longer than the {} bytes the signed targets metadata "
                                                "lists; refusing it (endless data or tampering)",
                                                what, target.name, target.length));
    hash.update(buf.data(), n);
    if (copy) copy->write(buf.data(), n);
  }
  if (total != target.length)
    fail(ExitCode::verify_failed, fmt::format("{}: target {} is {} bytes but the signed targets metadata lists {} "
                                              "(truncated copy?)",
                                              what, target.name, total, target.length));
  if (hash.hex_digest() != target.sha256)
    fail(ExitCode::verify_failed, fmt::format("{}: target {} does not match its signed SHA-256; the file was altered "
                                              "or corrupted. Do not use it: get a fresh copy from the publisher.",
                                              what, target.name));
  return total;
}

} // namespace airlock::trust
