#include "backup/space.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <cstring>
#include <sys/statvfs.h>
#include <utility>

namespace airlock::backup::space {
namespace {

FreeBytesFn& fault_fn() {
  static FreeBytesFn fn;
  return fn;
}

} // namespace

std::uint64_t free_bytes(const std::string& dir) {
  if (fault_fn()) return fault_fn()(dir);
  struct statvfs sv {};
  if (::statvfs(dir.c_str(), &sv) != 0)
    fail(ExitCode::failure, "cannot check free space in " + dir + ": " + std::strerror(errno));
  return static_cast<std::uint64_t>(sv.f_bavail) * static_cast<std::uint64_t>(sv.f_frsize);
}

void set_free_bytes_fault(FreeBytesFn fault) { fault_fn() = std::move(fault); }

} // namespace airlock::backup::space
