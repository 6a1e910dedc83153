#include "util/args.hpp"
#include "util/error.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <string>

using airlock::ExitCode;
using airlock::util::Args;

namespace {
ExitCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const airlock::Error& e) {
    return e.code();
  }
  return ExitCode::ok;
}
} // namespace

TEST_CASE("util::Args parses values, flags, repeats and operands") {
  const char* argv[] = {"tool", "cmd", "--out", "a.zip", "--json", "--key=k1", "--key", "k2", "x", "--", "--literal"};
  Args a(11, argv, 2, {"out", "key"}, {"json"});
  CHECK(a.value("out") == "a.zip");
  CHECK(a.has("json"));
  CHECK_FALSE(a.has("missing"));
  CHECK(a.values("key") == std::vector<std::string>{"k1", "k2"});
  CHECK(a.value("key") == "k2");
  CHECK(a.operands() == std::vector<std::string>{"x", "--literal"});
  CHECK(a.required("out") == "a.zip");
}

TEST_CASE("util::Args refuses unknown options, missing values and values on flags as usage errors") {
  const char* unknown[] = {"tool", "--nope"};
  CHECK(code_of([&] { Args(2, unknown, 1, {}, {}); }) == ExitCode::usage);
  const char* dash[] = {"tool", "-x"};
  CHECK(code_of([&] { Args(2, dash, 1, {}, {}); }) == ExitCode::usage);
  const char* novalue[] = {"tool", "--out"};
  CHECK(code_of([&] { Args(2, novalue, 1, {"out"}, {}); }) == ExitCode::usage);
  const char* flagvalue[] = {"tool", "--json=1"};
  CHECK(code_of([&] { Args(2, flagvalue, 1, {}, {"json"}); }) == ExitCode::usage);
  const char* none[] = {"tool"};
  Args empty(1, none, 1, {"out"}, {});
  CHECK(code_of([&] { (void)empty.required("out"); }) == ExitCode::usage);
}

namespace {
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const airlock::Error& e) {
    return e.what();
  }
  return "";
}
} // namespace

TEST_CASE("util::Args::number reads whole numbers in range and absent options as nullopt") {
  const char* argv[] = {"tool", "--limit", "25", "--keep=0", "--offset", "-3"};
  Args a(6, argv, 1, {"limit", "keep", "offset", "level"}, {});
  CHECK(a.number("limit", 1, 10000) == 25);
  CHECK(a.number("keep", 0, 100) == 0);
  CHECK(a.number("offset", -5, 5) == -3);
  CHECK(a.number("level", 0, 9) == std::nullopt);
  CHECK(a.number("limit", 25, 25) == 25);
}

TEST_CASE("util::Args::number refuses text, trailing junk, signs, blanks and out-of-range values as usage errors") {
  for (const char* bad :
       {"abc", "", "12x", "+5", " 5", "5 ", "0x10", "1.5", "10001", "0", "-1", "99999999999999999999999"}) {
    const char* argv[] = {"tool", "--limit", bad};
    Args a(3, argv, 1, {"limit"}, {});
    CHECK_MESSAGE(code_of([&] { (void)a.number("limit", 1, 10000); }) == ExitCode::usage, bad);
    CHECK(message_of([&] { (void)a.number("limit", 1, 10000); }) ==
          std::string("--limit takes a whole number from 1 to 10000, not '") + bad + "'");
  }
  const char* argv[] = {"tool", "--max-delay", "soon"};
  Args a(3, argv, 1, {"max-delay"}, {});
  CHECK(message_of([&] { (void)a.number("max-delay", 0, 1000000, "a number of seconds (0 or more)"); }) ==
        "--max-delay takes a number of seconds (0 or more), not 'soon'");
}

TEST_CASE("util::parse_bytes reads byte counts with binary and decimal units") {
  using airlock::util::parse_bytes;
  CHECK(parse_bytes("1000000") == 1000000u);
  CHECK(parse_bytes("512B") == 512u);
  CHECK(parse_bytes("64K") == 65536u);
  CHECK(parse_bytes("64k") == 65536u);
  CHECK(parse_bytes("4096M") == 4096ull << 20);
  CHECK(parse_bytes("3900MiB") == 3900ull << 20);
  CHECK(parse_bytes("3900mib") == 3900ull << 20);
  CHECK(parse_bytes("4G") == 4ull << 30);
  CHECK(parse_bytes("4GiB") == 4ull << 30);
  CHECK(parse_bytes("4GB") == 4000000000u);
  CHECK(parse_bytes("1T") == 1ull << 40);
  CHECK(parse_bytes("0") == 0u);
  for (const char* bad : {"", "G", "4 G", " 4G", "4G ", "1.5G", "-1", "+1", "4X", "4GG", "4iB", "0x10",
                          "99999999999999999999", "17179869184G"})
    CHECK_MESSAGE(parse_bytes(bad) == std::nullopt, bad);
}

TEST_CASE("util::Args::bytes takes sizes in range and refuses others as usage errors") {
  const char* argv[] = {"tool", "--max-part-size", "4G", "--small", "1K"};
  Args a(5, argv, 1, {"max-part-size", "small"}, {});
  CHECK(a.bytes("max-part-size", 65536, 1ull << 50) == 4ull << 30);
  CHECK(a.bytes("absent", 0, 10) == std::nullopt);
  CHECK(code_of([&] { (void)a.bytes("small", 65536, 1ull << 50); }) == ExitCode::usage);
  CHECK(message_of([&] { (void)a.bytes("small", 65536, 1ull << 50); }) ==
        "--small takes a size such as 4G, 4096M, 3900MiB or 1000000 (bytes), at least 65536 and at most "
        "1125899906842624 bytes, not '1K'");
  CHECK(message_of([&] { (void)a.bytes("small", 65536, UINT64_MAX); }) ==
        "--small takes a size such as 4G, 4096M, 3900MiB or 1000000 (bytes), at least 65536 bytes, not '1K'");
}
