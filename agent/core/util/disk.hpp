// The disk probe seam: how much free space a directory's filesystem has. Code that checks space before it
// writes takes a FreeBytes (default: statvfs), so tests inject "the disk is almost full" without filling one.
// Thread-safety: statvfs_free_bytes is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace airlock::util {

using FreeBytes = std::function<std::uint64_t(const std::string& dir)>;

// Bytes available to an unprivileged user in the filesystem holding `dir` (statvfs f_bavail * f_frsize).
// Throws Error(failure) naming `dir` when statvfs fails.
std::uint64_t statvfs_free_bytes(const std::string& dir);

} // namespace airlock::util
