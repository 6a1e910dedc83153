// Checking a target's bytes against its TUF targets entry, streaming: the length and SHA-256 are computed as the
// bytes pass, and no more than `length` + 1 bytes are ever read (endless-data defence). The caller must not use
// what it copied before verify_target() returned.
// Thread-safety: stateless.
#pragma once

#include "trust/metadata.hpp"
#include "util/io.hpp"

#include <cstdint>

namespace airlock::trust {

// Reads `src` to its end (or to length + 1 bytes), optionally copying the bytes to `copy`. Throws
// Error(verify_failed) naming `what` when the data is longer or shorter than listed or its SHA-256 differs.
// Returns the number of bytes read.
std::uint64_t verify_target(const TargetFile& target, util::Source& src, const std::string& what,
                            util::Sink* copy = nullptr);

} // namespace airlock::trust
