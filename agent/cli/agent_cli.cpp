#include "agent_cli.hpp"

#include "cli/build_info.hpp"
#include "cli/guard.hpp"
#include "cli/selftest.hpp"
#include "util/error.hpp"

#include <iostream>
#include <string>

namespace airlock::agent {
namespace {

const char* const usage_text = R"(usage: airlock [--version] [--help] <command> [options]

Keeps a docker-compose application up to date from a signed TUF repository or an offline bundle.

commands:
  self-test     run known-answer checks of every linked library on this host
  version       same as --version

Run 'airlock <command> --help' for a command's options. Exit codes are listed in docs/cli.md.
)";

int dispatch(int argc, const char* const* argv) {
  if (argc < 2) {
    std::cerr << usage_text;
    return static_cast<int>(ExitCode::usage);
  }
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << usage_text;
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << cli::version_text("airlock");
    return 0;
  }
  if (cmd == "self-test") return cli::run_self_test(std::cout) ? 0 : static_cast<int>(ExitCode::failure);
  fail(ExitCode::usage, "unknown command '" + cmd + "'; run 'airlock --help' for the list");
}

} // namespace

int run(int argc, const char* const* argv) {
  return cli::guarded("airlock", [&] { return dispatch(argc, argv); });
}

} // namespace airlock::agent
