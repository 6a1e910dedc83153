#include "agent_cli.hpp"

#include "about/build_info.hpp"
#include "about/selftest.hpp"
#include "cli/guard.hpp"
#include "cli/site_cmds.hpp"
#include "cli/verify_cmd.hpp"
#include "config/config.hpp"
#include "util/args.hpp"
#include "util/error.hpp"

#include <iostream>
#include <string>

namespace airlock::agent {
namespace {

const char* const usage_text = R"(usage: airlock [--version] [--help] <command> [options]

Keeps a docker-compose application up to date from a signed TUF repository or an offline bundle.

commands:
  verify PATH --trusted-root ROOT.json [--json]
                verify a bundle file or repository directory without installing anything
  init --app NAME --trusted-root ROOT.json [--install-root DIR] [--adopt DIR]
                create the site layout and state database
  stage PATH [--version V]      verify a bundle and stage its release (full or patch), without running it
  import BUNDLE | --scan DIR    upgrade the site from a signed bundle (USB): stage, load, switch, health gate
  check [--json]                ask the online repository: up to date (exit 0) or update available (exit 10)
  upgrade [--cron] [--download-only]
                upgrade the site from the online repository (same pipeline as import)
  apply | rollback | recover    finish a staged/downloaded upgrade; go back; finish an interrupted one
  status [--json]               app, installed version, last upgrade
  history [--json]              the audit log
  backup create|list|verify|restore|prune
                back up and restore data/, site/ and current
  config check [--config FILE]
                name every unknown key or bad value of the configuration, with its line
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
    std::cout << about::version_text("airlock");
    return 0;
  }
  if (cmd == "verify") {
    for (int i = 2; i < argc; ++i)
      if (std::string(argv[i]) == "--help") {
        std::cout
            << "usage: airlock verify PATH --trusted-root ROOT.json [--json]\n"
               "  Verifies a bundle file or repository directory against a trusted root: the TUF chain, and every\n"
               "  contained target's length and SHA-256. Installs nothing. Exit 0 when everything verifies;\n"
               "  3 for a verification failure, 4 for malformed input (docs/cli.md).\n";
        return 0;
      }
    util::Args a(argc, argv, 2, {"trusted-root"}, {"json"});
    if (a.operands().size() != 1)
      fail(ExitCode::usage, "verify takes one PATH (a bundle file or repository directory)");
    return cli::verify_command(a.operands()[0], a.required("trusted-root"), a.has("json"), std::cout);
  }
  if (cmd == "config" && argc >= 3 && std::string(argv[2]) == "check") {
    util::Args a(argc, argv, 3, {"config"}, {"help"});
    if (a.has("help")) {
      std::cout << "usage: airlock config check [--config FILE]\n  Checks " << config::default_path
                << " (or FILE): exit 0 when it is usable, 2 with every problem and its line otherwise.\n";
      return 0;
    }
    const std::string path = a.value("config").value_or(config::default_path);
    auto problems = config::check(path);
    for (const auto& p : problems)
      std::cerr << path << (p.line ? ":" + std::to_string(p.line) : std::string()) << ": " << p.message << "\n";
    if (!problems.empty()) return static_cast<int>(ExitCode::usage);
    std::cout << path << ": ok\n";
    return 0;
  }
  if (int rc = run_site_command(argc, argv); rc >= 0) return rc;
  if (cmd == "self-test") return about::run_self_test(std::cout) ? 0 : static_cast<int>(ExitCode::failure);
  fail(ExitCode::usage, "unknown command '" + cmd + "'; run 'airlock --help' for the list");
}

} // namespace

int run(int argc, const char* const* argv) {
  return cli::guarded("airlock", [&] { return dispatch(argc, argv); });
}

} // namespace airlock::agent
