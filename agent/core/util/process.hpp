// Running another program by argv (never through a shell), with a timeout, capturing its output. Used for the
// docker CLI and compose, and GNU tar in tests.
// The child dies with its parent (PR_SET_PDEATHSIG SIGKILL): an airlock killed mid-step leaves no docker CLI
// running on behind the recovery that the next run does.
// With ProcessGroup::own the program leads a process group of its own and the timeout kills the whole group, so
// what it started in the background cannot outlive it (hooks: hooks/hooks.hpp).
// Thread-safety: run_process() is thread-safe; it forks.
#pragma once

#include "util/io.hpp"

#include <functional>
#include <string>
#include <vector>

namespace airlock::util {

struct ProcessResult {
  int exit_code = -1;      // the program's exit status; 128+N when killed by signal N
  bool timed_out = false;  // killed (SIGKILL) after the timeout
  std::string output;      // stdout and stderr interleaved, truncated to max_output bytes
  std::string out;         // stdout alone, truncated to max_output bytes (for machine-readable output)
  std::string input_error; // why ProcessOptions::stdin_writer stopped early, when the program failed too
};

// Whether the program gets a process group of its own (setpgid), killed as a whole when the timeout expires.
enum class ProcessGroup { inherit, own };

struct ProcessOptions {
  int timeout_seconds = 0; // <= 0: no timeout
  ProcessGroup group = ProcessGroup::inherit;
  std::size_t max_output = 1 << 20;   // bytes kept of `output` and of `out`
  std::vector<std::string> extra_env; // "NAME=value" added to (or replacing in) the inherited environment
  // When not empty, only these variables of the inherited environment pass (names; a trailing '*' matches a
  // prefix, "LC_*"), plus extra_env: what the caller's environment holds does not leak into the program.
  std::vector<std::string> env_allow;
  std::string stdin_file; // empty: /dev/null
  // When set, the program's stdin is a pipe that this writes (on a thread of its own, while the output is read);
  // the pipe is closed when it returns. When the program exits without reading all of it, the write fails and
  // the result reports the program's exit; an Error the writer throws otherwise is rethrown after the program
  // ended (it has seen a truncated stream).
  std::function<void(Sink&)> stdin_writer;
};

// Runs argv[0] (searched in PATH) with `argv`. Throws Error(failure) only when the program cannot be started
// at all (the message names it and suggests installing it); a non-zero exit is reported in the result.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options);
inline ProcessResult run_process(const std::vector<std::string>& argv, int timeout_seconds,
                                 std::size_t max_output = 1 << 20) {
  ProcessOptions o;
  o.timeout_seconds = timeout_seconds;
  o.max_output = max_output;
  return run_process(argv, o);
}

// "docker compose -p x up -d": argv joined with spaces, words with spaces or quotes single-quoted (for logs).
std::string describe_argv(const std::vector<std::string>& argv);

} // namespace airlock::util
