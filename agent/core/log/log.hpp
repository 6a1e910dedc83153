// Logging and progress for people and machines.
//
// Every event goes to a JSON-lines file ({"ts","level","module","event",...fields}) when one is configured, and
// to stderr: as a readable line for people, or as the same JSON line when the command runs with --json (then
// stdout stays reserved for the command's result). A log file that cannot be opened is reported once on stderr
// and logging goes on without it: a full /var/log must not stop an update.
// Progress shows a bar with bytes, rate and ETA on a terminal, JSON "progress" events in --json mode, and nothing
// otherwise (cron mails stay short).
// Thread-safety: all functions are thread-safe (one mutex).
#pragma once

#include "util/io.hpp"
#include "util/json.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace airlock::log {

enum class Level { debug, info, warning, error };
// "debug", "info", "warning", "error"; Error(usage) otherwise.
Level parse_level(const std::string& s);

struct Options {
  std::string file; // JSON-lines log file; empty: none
  Level min_level = Level::info;
  bool json_stderr = false; // --json: machine-readable events on stderr
  bool quiet = false;       // --cron: only warnings and errors on stderr
};
void init(const Options& o);

using Fields = std::vector<std::pair<std::string, json::Value>>;
// Logs one event. `message` is the human text; the fields are added to the JSON line.
void event(Level level, const std::string& module, const std::string& name, const std::string& message,
           const Fields& fields = {});

class Progress {
public:
  // `total` in bytes (0 when unknown). Draws only on a terminal, or as JSON events in --json mode.
  Progress(std::string label, std::uint64_t total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void update(std::uint64_t done); // cheap; redraws at most 5 times a second
  void finish();

private:
  void draw(bool final);
  std::string label_;
  std::uint64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
  bool finished_ = false;
};

// Passes bytes on to `out`, reporting the running count to a Progress.
class ProgressSink : public util::Sink {
public:
  ProgressSink(util::Sink& out, Progress& p) : out_(out), p_(p) {}
  void write(const void* data, std::size_t size) override {
    out_.write(data, size);
    p_.update(done_ += size);
  }
  using Sink::write;

private:
  util::Sink& out_;
  Progress& p_;
  std::uint64_t done_ = 0;
};

// "1.5 MiB", "12.0 GiB": for messages.
std::string human_bytes(std::uint64_t n);

} // namespace airlock::log
