#include "util/process.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace airlock::util {
namespace {

void append(std::string& to, const char* data, std::size_t n, std::size_t max) {
  if (to.size() < max) to.append(data, std::min(n, max - to.size()));
}

// Writes to a pipe; SIGPIPE is blocked on the writing thread, so a reader that went away is an EPIPE error.
class PipeSink : public Sink {
public:
  explicit PipeSink(int fd) : fd_(fd) {}
  void write(const void* data, std::size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::write(fd_, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail(ExitCode::failure, std::string("writing to the program's stdin: ") + std::strerror(errno));
      p += n;
      size -= static_cast<std::size_t>(n);
    }
  }
  using Sink::write;

private:
  int fd_;
};

} // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& o) {
  if (argv.empty()) fail(ExitCode::failure, "internal: run_process without a program");
  int out[2], err[2], exec_pipe[2], in_pipe[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(exec_pipe, O_CLOEXEC) != 0 ||
      (o.stdin_writer && ::pipe2(in_pipe, O_CLOEXEC) != 0))
    fail(ExitCode::failure, std::string("cannot create a pipe: ") + std::strerror(errno));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The environment is built before fork(): only async-signal-safe calls happen in the child.
  std::vector<std::string> env_strings;
  auto allowed = [&o](std::string_view kv) {
    if (o.env_allow.empty()) return true;
    const std::string_view name = kv.substr(0, kv.find('='));
    for (const auto& a : o.env_allow)
      if (a == name || (!a.empty() && a.back() == '*' &&
                        name.substr(0, a.size() - 1) == std::string_view(a).substr(0, a.size() - 1)))
        return true;
    return false;
  };
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (!allowed(kv)) continue;
    bool replaced = false;
    for (const auto& x : o.extra_env)
      if (kv.substr(0, kv.find('=') + 1) == std::string_view(x).substr(0, x.find('=') + 1)) replaced = true;
    if (!replaced) env_strings.emplace_back(kv);
  }
  for (const auto& x : o.extra_env) env_strings.push_back(x);
  std::vector<char*> env;
  for (auto& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) fail(ExitCode::failure, std::string("cannot fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127); // the parent died before prctl took effect
    if (o.group == ProcessGroup::own) ::setpgid(0, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    int in = in_pipe[0] >= 0 ? in_pipe[0] : ::open(o.stdin_file.empty() ? "/dev/null" : o.stdin_file.c_str(), O_RDONLY);
    if (in >= 0) ::dup2(in, 0);
    ::environ = env.data();
    ::execvp(args[0], args.data());
    int e = errno;
    if (::write(exec_pipe[1], &e, sizeof e) < 0) _exit(127);
    _exit(127);
  }
  if (o.group == ProcessGroup::own) ::setpgid(pid, pid); // also here: the timeout may come before the child's call
  ::close(out[1]);
  ::close(err[1]);
  ::close(exec_pipe[1]);
  int exec_errno = 0;
  bool exec_failed = ::read(exec_pipe[0], &exec_errno, sizeof exec_errno) == static_cast<ssize_t>(sizeof exec_errno);
  ::close(exec_pipe[0]);
  std::thread writer;
  std::exception_ptr write_error;
  if (in_pipe[0] >= 0) {
    ::close(in_pipe[0]);
    // A larger pipe (1 MiB, the default limit of /proc/sys/fs/pipe-max-size; best effort) means 16 times fewer
    // wake-ups of both sides when a large archive streams into the program.
    ::fcntl(in_pipe[1], F_SETPIPE_SZ, 1 << 20);
    writer = std::thread([&o, &write_error, fd = in_pipe[1]] {
      sigset_t pipe_signal;
      sigemptyset(&pipe_signal);
      sigaddset(&pipe_signal, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
      try {
        PipeSink sink(fd);
        o.stdin_writer(sink);
      } catch (...) {
        write_error = std::current_exception();
      }
      ::close(fd);
      // A SIGPIPE left pending on this thread is discarded with it; take it anyway, so nothing can deliver it.
      timespec zero{0, 0};
      sigtimedwait(&pipe_signal, nullptr, &zero);
    });
  }

  ProcessResult r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_seconds);
  char buf[65536];
  pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    int wait_ms = -1;
    if (o.timeout_seconds > 0) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) {
        if (o.group != ProcessGroup::own || ::kill(-pid, SIGKILL) != 0) ::kill(pid, SIGKILL);
        r.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min<long long>(left, 1000));
    }
    int n = ::poll(p, 2, wait_ms);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(p[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        p[i].fd = -1;
        --open_fds;
        continue;
      }
      append(r.output, buf, static_cast<std::size_t>(got), o.max_output);
      if (i == 0) append(r.out, buf, static_cast<std::size_t>(got), o.max_output);
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (writer.joinable()) writer.join();
  if (exec_failed)
    fail(ExitCode::failure,
         "cannot run '" + argv[0] + "': " + std::strerror(exec_errno) + " (is it installed and in PATH?)");
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (write_error) {
    if (r.exit_code == 0 && !r.timed_out) std::rethrow_exception(write_error);
    try {
      std::rethrow_exception(write_error);
    } catch (const std::exception& e) {
      r.input_error = e.what();
    }
  }
  return r;
}

std::string describe_argv(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    if (!a.empty() && a.find_first_of(" '\"\t\n$") == std::string::npos)
      s += a;
    else {
      s += '\'';
      for (char c : a) s += c == '\'' ? std::string("'\\''") : std::string(1, c);
      s += '\'';
    }
  }
  return s;
}

} // namespace airlock::util
