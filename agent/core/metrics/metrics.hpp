// What a site tells the monitoring its operators already run: the Prometheus text exposition format (0.0.4), as
// `airlock metrics` prints it and as [metrics] textfile holds it for node_exporter's textfile collector
// (docs/fleet.md "Monitoring: metrics" lists every metric).
//
// collect() reads the state database (installs, audit, backups, facts) and the file system (`current`, free
// space); it changes nothing. render() writes every family with its HELP and TYPE lines, even when it has no
// sample (nothing installed yet), so a dashboard sees the same names on every site. write_textfile() replaces
// the file atomically (a temp file in the same directory, fsync, rename, fsync of the directory): the collector
// never reads half a file.
// Thread-safety: collect() uses the StateDb of the caller's thread; render() is pure.
#pragma once

#include "config/config.hpp"
#include "state/db.hpp"

#include <string>
#include <utility>
#include <vector>

namespace airlock::metrics {

enum class Type { gauge, counter };

struct Sample {
  std::vector<std::pair<std::string, std::string>> labels; // name, value (escaped by render())
  double value = 0;
};

struct Family {
  std::string name; // airlock_..., with the unit and _total for counters (Prometheus naming conventions)
  Type type = Type::gauge;
  std::string help;
  std::vector<Sample> samples;
};

// The facts the commands keep in the state database for the metrics (state::Fact names).
inline constexpr const char* run_fact_prefix = "run/"; // "run/<command>": number = exit code, at = when it ended
inline constexpr const char* update_fact = "update";   // number 1 = an update is available, text = its version
inline constexpr const char* downloaded_fact = "downloaded_bytes"; // bytes received from repositories, ever

// Every metric of the site of `cfg`, from `db` and the file system. Throws Error(failure) when the database
// cannot be read; a directory that is missing reports no free-space sample instead of failing.
std::vector<Family> collect(const config::Config& cfg, state::StateDb& db);

// The exposition text: for each family "# HELP", "# TYPE", then one line per sample; label values with `\`, `"`
// and newlines escaped; numbers in their shortest exact form ("5", "1.25").
std::string render(const std::vector<Family>& families);

// Writes `text` to `path` atomically (util::write_file_atomic, mode 0644). Throws Error(failure) naming the path.
void write_textfile(const std::string& path, const std::string& text);

} // namespace airlock::metrics
