#include "about/build_info.hpp"
#include "about/selftest.hpp"
#include "bundle_commands/airlock_bundle.hpp"
#include "commands/airlock.hpp"

#include <doctest/doctest.h>

#include <sstream>

TEST_CASE("about::version_text names the tool, version, architecture and every library") {
  std::string v = airlock::about::version_text("airlock");
  CHECK(v.rfind(std::string("airlock ") + airlock::about::airlock_version() + " (git ", 0) == 0);
  for (const char* lib :
       {"Poco     1.11.0", "OpenSSL  OpenSSL 3.", "mbedTLS  2.", "zlib     1.", "SQLite   3.", "xxHash   0."})
    CHECK_MESSAGE(v.find(lib) != std::string::npos, lib);
  CHECK(v.find(std::string(", ") + airlock::about::target_arch() + ")") != std::string::npos);
}

TEST_CASE("about::run_self_test passes every check on the build host") {
  std::ostringstream out;
  CHECK(airlock::about::run_self_test(out));
  CHECK(out.str().find("FAILED") == std::string::npos);
}

TEST_CASE("both CLIs map an unknown command to exit code 2 and --version to 0") {
  const char* bad[] = {"airlock", "no-such-command"};
  CHECK(airlock::commands::run(2, bad) == 2);
  CHECK(airlock::bundle_tool::run(2, bad) == 2);
  const char* version[] = {"airlock", "--version"};
  CHECK(airlock::commands::run(2, version) == 0);
  CHECK(airlock::bundle_tool::run(2, version) == 0);
}
