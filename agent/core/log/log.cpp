#include "log/log.hpp"

#include "util/error.hpp"
#include "util/names.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <iostream>
#include <mutex>
#include <unistd.h>

namespace airlock::log {
namespace {

std::mutex mu;
Options opts;
int file_fd = -1; // the log file, opened for appending; -1 when there is none

constexpr util::NameTable<Level, 4> level_names{
    {{Level::debug, "debug"}, {Level::info, "info"}, {Level::warning, "warning"}, {Level::error, "error"}}};

const char* level_name(Level l) { return util::name_of(level_names, l, "info").data(); }

std::string now_iso() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms);
}

bool stderr_is_tty() { return ::isatty(2) == 1; }

} // namespace

Level parse_level(const std::string& s) {
  if (auto l = util::value_of(level_names, s)) return *l;
  fail(ExitCode::usage, "log level '" + s + "' is not one of debug, info, warning, error");
}

void init(const Options& o) {
  std::lock_guard<std::mutex> lock(mu);
  opts = o;
  if (file_fd >= 0) ::close(file_fd);
  file_fd = -1;
  if (!o.file.empty()) {
    // Appended to, never through a symlink (a local user who can write its directory must not point the log at
    // another file): O_NOFOLLOW.
    file_fd = ::open(o.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (file_fd < 0)
      std::cerr << "airlock: warning: cannot open log file " << o.file << " (" << std::strerror(errno)
                << "); logging to stderr only\n";
  }
}

void event(Level level, const std::string& module, const std::string& name, const std::string& message,
           const Fields& fields) {
  if (level < opts.min_level) return;
  json::Value line;
  line["ts"] = now_iso();
  line["level"] = level_name(level);
  line["module"] = module;
  line["event"] = name;
  line["message"] = message;
  for (const auto& [k, v] : fields) line[k] = v;
  std::string text = json::compact(line);
  std::lock_guard<std::mutex> lock(mu);
  if (file_fd >= 0) {
    // One write per line: O_APPEND keeps the lines of concurrent writers whole. A failed write loses this line only.
    const std::string row = text + '\n';
    const ssize_t n = ::write(file_fd, row.data(), row.size());
    (void)n;
  }
  if (opts.json_stderr) {
    std::cerr << text << '\n';
  } else if (!opts.quiet || level >= Level::warning) {
    std::cerr << (level >= Level::warning ? std::string(level_name(level)) + ": " : std::string()) << message << '\n';
  }
}

std::string human_bytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

Progress::Progress(std::string label, std::uint64_t total)
    : label_(std::move(label)), total_(total), start_(std::chrono::steady_clock::now()), last_(start_) {}

Progress::~Progress() {
  if (!finished_ && done_ > 0 && stderr_is_tty() && !opts.json_stderr) std::cerr << '\n';
}

void Progress::update(std::uint64_t done) {
  done_ = done;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  draw(false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
  std::lock_guard<std::mutex> lock(mu);
  if (opts.json_stderr) {
    json::Value e;
    e["ts"] = now_iso();
    e["event"] = "progress";
    e["label"] = label_;
    e["done"] = static_cast<std::int64_t>(done_);
    e["total"] = static_cast<std::int64_t>(total_);
    e["rate"] = static_cast<std::int64_t>(rate);
    std::cerr << json::compact(e) << '\n';
    return;
  }
  if (!stderr_is_tty() || opts.quiet) return;
  std::string bar;
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    const int filled = static_cast<int>(frac * 30);
    const double eta = rate > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / rate : 0;
    bar = fmt::format("[{}{}] {:3.0f}% {} / {}  {}/s  ETA {:.0f}s", std::string(filled, '#'),
                      std::string(30 - filled, ' '), frac * 100, human_bytes(done_), human_bytes(total_),
                      human_bytes(static_cast<std::uint64_t>(rate)), eta);
  } else {
    bar = fmt::format("{}  {}/s", human_bytes(done_), human_bytes(static_cast<std::uint64_t>(rate)));
  }
  std::cerr << '\r' << label_ << ' ' << bar << "\x1b[K" << (final ? "\n" : "") << std::flush;
}

} // namespace airlock::log
