#include "commands/airlock.hpp"
#include "commands/debug.hpp"
#include "commands/session.hpp"
#include "pipeline/steps.hpp"
#include "util/json.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <iostream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

// Runs `airlock argv...` in-process and returns its exit code, with stdout and stderr captured.
struct Ran {
  int rc;
  std::string out, err;
};
Ran run_airlock(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "airlock");
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  const int rc = airlock::commands::run(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {rc, out.str(), err.str()};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// In a child process, calls `hook` at the begin and end of every step in table order; returns the signal that
// ended the child (0 when it exited).
int signal_of_hook_run(const airlock::pipeline::StepHook& hook) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::cerr.rdbuf(nullptr); // the warning event goes nowhere
    for (const auto& s : airlock::pipeline::steps) {
      hook(s, airlock::pipeline::When::begin);
      hook(s, airlock::pipeline::When::end);
    }
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

} // namespace

TEST_CASE("airlock debug steps prints one line per row of pipeline::steps") {
  const auto r = run_airlock({"debug", "steps"});
  CHECK(r.rc == 0);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == airlock::pipeline::steps.size());
  CHECK(lines.front() == "begin before-stop abandon upgrade");
  CHECK(lines[static_cast<std::size_t>(airlock::pipeline::Step::commit)] == "commit after-commit roll-forward upgrade");
  CHECK(lines[static_cast<std::size_t>(airlock::pipeline::Step::restore)] ==
        "restore downtime roll-back-with-data manual-restore");
  CHECK(lines.back() == "rollback downtime abandon rollback");
}

TEST_CASE("airlock debug steps --json prints the table as an array of objects") {
  const auto r = run_airlock({"debug", "steps", "--json"});
  CHECK(r.rc == 0);
  const auto v = airlock::json::parse(r.out, "debug steps --json");
  const auto& rows = v.as_array();
  REQUIRE(rows.size() == airlock::pipeline::steps.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& s = airlock::pipeline::steps[i];
    auto field = [&](const char* key) -> const airlock::json::Value& {
      const auto* f = rows[i].find(key);
      REQUIRE_MESSAGE(f != nullptr, key);
      return *f;
    };
    CHECK(rows[i].as_object().size() == 5);
    CHECK(field("name").as_string() == s.name);
    CHECK(field("phase").as_string() == airlock::pipeline::phase_name(s.phase));
    CHECK(field("on_crash").as_string() == airlock::pipeline::on_crash_name(s.on_crash));
    CHECK(field("terminal").as_bool() == s.terminal);
    CHECK(field("path").as_string() == airlock::pipeline::path_name(s.path));
  }
}

TEST_CASE("airlock's usage text lists no hidden command, and every command of the table has --help") {
  const auto help = run_airlock({"--help"});
  CHECK(help.rc == 0);
  CHECK(help.out.find("debug") == std::string::npos);
  for (const auto& [name, command] : airlock::commands::command_table()) {
    CHECK_MESSAGE(command.usage.rfind(name, 0) == 0, name); // the usage starts with the command's name
    std::vector<const char*> argv;
    std::istringstream words(name);
    std::vector<std::string> parts;
    for (std::string w; words >> w;) parts.push_back(w);
    for (const auto& p : parts) argv.push_back(p.c_str());
    argv.push_back("--help");
    const auto r = run_airlock(argv);
    CHECK_MESSAGE(r.rc == 0, name);
    CHECK_MESSAGE(r.out == "usage: airlock " + command.usage + "\n", name);
  }
}

TEST_CASE("a bad number in an option is a usage error, not an internal error") {
  for (const std::vector<const char*>& argv : {std::vector<const char*>{"history", "--limit", "abc"},
                                               {"history", "--limit", "0"},
                                               {"backup", "create", "--level", "10"},
                                               {"backup", "prune", "--keep", "-1"},
                                               {"upgrade", "--cron", "--max-delay", "soon"}}) {
    const auto r = run_airlock(argv);
    CHECK_MESSAGE(r.rc == 2, argv[0]);
    CHECK(r.err.find("internal error") == std::string::npos);
    CHECK(r.err.find("airlock: error: --") == 0);
  }
  CHECK(run_airlock({"history", "--limit", "abc"}).err ==
        "airlock: error: --limit takes a whole number from 1 to 10000, not 'abc'\n");
}

TEST_CASE("commands::kill_hook kills at the named step's end, or its begin with ':begin', and nowhere else") {
  CHECK(signal_of_hook_run(airlock::commands::kill_hook("stop")) == SIGKILL);
  CHECK(signal_of_hook_run(airlock::commands::kill_hook("rb-health:begin")) == SIGKILL);
  CHECK(signal_of_hook_run(airlock::commands::kill_hook("no-such-step")) == 0);
  CHECK(signal_of_hook_run(airlock::commands::kill_hook("stop:end")) == 0);

  // Where exactly: the hook for "switch" returns at switch's begin and kills at its end.
  const auto hook = airlock::commands::kill_hook("switch");
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::cerr.rdbuf(nullptr);
    const auto& s = airlock::pipeline::info(airlock::pipeline::Step::switch_current);
    hook(s, airlock::pipeline::When::begin);
    hook(airlock::pipeline::info(airlock::pipeline::Step::stop), airlock::pipeline::When::end);
    ::_exit(3); // not killed yet
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 3));
}
