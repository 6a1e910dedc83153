#include "about/build_info.hpp"

#include <Poco/Version.h>
#include <fmt/format.h>
#include <mbedtls/version.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <xxhash.h>
#include <zlib.h>

#ifndef AIRLOCK_VERSION
#error "AIRLOCK_VERSION must be defined by the build"
#endif
#ifndef AIRLOCK_GIT_REVISION
#error "AIRLOCK_GIT_REVISION must be defined by the build"
#endif

namespace airlock::about {

const char* airlock_version() { return AIRLOCK_VERSION; }

const char* git_revision() { return AIRLOCK_GIT_REVISION; }

const char* target_arch() {
#if defined(__x86_64__)
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#else
#error "airlock targets x86_64 and aarch64 only"
#endif
}

std::string version_text(const std::string& tool) {
  const unsigned poco = POCO_VERSION;
  const unsigned xxh = XXH_versionNumber();
  return fmt::format("{} {} (git {}, {})\n"
                     "  Poco     {}.{}.{}\n"
                     "  OpenSSL  {}\n"
                     "  mbedTLS  {}\n"
                     "  zlib     {}\n"
                     "  SQLite   {}\n"
                     "  xxHash   {}.{}.{}\n",
                     tool, AIRLOCK_VERSION, AIRLOCK_GIT_REVISION, target_arch(), poco >> 24, (poco >> 16) & 0xff,
                     (poco >> 8) & 0xff, OpenSSL_version(OPENSSL_VERSION), MBEDTLS_VERSION_STRING, zlibVersion(),
                     sqlite3_libversion(), xxh / 10000, (xxh / 100) % 100, xxh % 100);
}

} // namespace airlock::about
