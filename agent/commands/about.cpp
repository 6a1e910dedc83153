#include "commands/about.hpp"

#include "about/build_info.hpp"
#include "about/selftest.hpp"
#include "util/error.hpp"

#include <iostream>

namespace airlock::commands {

int version(const util::Args&) {
  std::cout << about::version_text("airlock");
  return 0;
}

int self_test(const util::Args&) { return about::run_self_test(std::cout) ? 0 : static_cast<int>(ExitCode::failure); }

} // namespace airlock::commands
