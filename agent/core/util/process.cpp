#include "util/process.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace airlock::util {

ProcessResult run_process(const std::vector<std::string>& argv, int timeout_seconds, std::size_t max_output) {
  if (argv.empty()) fail(ExitCode::failure, "internal: run_process without a program");
  int out[2], err_pipe[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    fail(ExitCode::failure, std::string("cannot create a pipe: ") + std::strerror(errno));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) fail(ExitCode::failure, std::string("cannot fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execvp(args[0], args.data());
    int e = errno;
    if (::write(err_pipe[1], &e, sizeof e) < 0) _exit(127);
    _exit(127);
  }
  ::close(out[1]);
  ::close(err_pipe[1]);
  int exec_errno = 0;
  bool exec_failed = ::read(err_pipe[0], &exec_errno, sizeof exec_errno) == static_cast<ssize_t>(sizeof exec_errno);
  ::close(err_pipe[0]);

  ProcessResult r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  char buf[65536];
  for (;;) {
    int wait_ms = -1;
    if (timeout_seconds > 0) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) {
        ::kill(pid, SIGKILL);
        r.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min<long long>(left, 1000));
    }
    pollfd p{out[0], POLLIN, 0};
    int n = ::poll(&p, 1, wait_ms);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    ssize_t got = ::read(out[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (r.output.size() < max_output)
      r.output.append(buf, std::min(static_cast<std::size_t>(got), max_output - r.output.size()));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (exec_failed)
    fail(ExitCode::failure,
         "cannot run '" + argv[0] + "': " + std::strerror(exec_errno) + " (is it installed and in PATH?)");
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

} // namespace airlock::util
