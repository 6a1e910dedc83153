#include "util/disk.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <cstring>
#include <sys/statvfs.h>

namespace airlock::util {

std::uint64_t statvfs_free_bytes(const std::string& dir) {
  struct statvfs sv {};
  if (::statvfs(dir.c_str(), &sv) != 0)
    fail(ExitCode::failure, "cannot check free space in " + dir + ": " + std::strerror(errno));
  return static_cast<std::uint64_t>(sv.f_bavail) * static_cast<std::uint64_t>(sv.f_frsize);
}

} // namespace airlock::util
