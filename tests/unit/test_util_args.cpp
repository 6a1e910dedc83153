#include "util/args.hpp"
#include "util/error.hpp"

#include <doctest/doctest.h>

#include <functional>

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
