// Running another program by argv (never through a shell), with a timeout, capturing stdout and stderr
// together. Used for `docker save`, `docker load`, compose and GNU tar in tests.
// Thread-safety: run() is thread-safe; it forks.
#pragma once

#include <string>
#include <vector>

namespace airlock::util {

struct ProcessResult {
  int exit_code = -1;     // the program's exit status; 128+N when killed by signal N
  bool timed_out = false; // killed (SIGKILL) after the timeout
  std::string output;     // stdout and stderr interleaved, truncated to max_output bytes
};

// Runs argv[0] (searched in PATH) with `argv`. Throws Error(failure) only when the program cannot be started
// at all (the message names it and suggests installing it); a non-zero exit is reported in the result.
// timeout_seconds <= 0 means no timeout.
ProcessResult run_process(const std::vector<std::string>& argv, int timeout_seconds, std::size_t max_output = 1 << 20);

} // namespace airlock::util
