// Internal to backup/, but testable: how much free space a directory has. The lookup goes through a
// replaceable provider so that tests can inject "the disk is almost full" without filling a disk.
// Thread-safety: set_free_bytes_fault() is for tests and must not race with free_bytes().
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace airlock::backup::space {

// Bytes available to an unprivileged user in the filesystem holding `dir` (statvfs f_bavail * f_frsize),
// or what the injected fault says. Throws Error(failure) naming `dir` when statvfs fails.
std::uint64_t free_bytes(const std::string& dir);

// Fault injector: while set, free_bytes() returns fault(dir) instead of asking statvfs.
// Pass an empty function to go back to the real lookup.
using FreeBytesFn = std::function<std::uint64_t(const std::string& dir)>;
void set_free_bytes_fault(FreeBytesFn fault);

} // namespace airlock::backup::space
