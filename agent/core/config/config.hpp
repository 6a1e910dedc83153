// /etc/airlock/airlock.conf: one INI file (read with Poco Util's IniFileConfiguration), every key optional with a
// documented default (docs/airlock.conf.example). `airlock --config FILE` reads another file.
//
// load() refuses a file it cannot use: an unknown section or key (a typo must not silently fall back to a
// default), or a value of the wrong type or out of range. Each problem names the file, the line, the key and
// what is allowed; check() returns all of them at once for `airlock config check`. A malformed maintenance
// window ([schedule] window, schedule/window.hpp) is one of those problems.
// Thread-safety: plain values; functions are thread-safe.
#pragma once

#include "schedule/window.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace airlock::config {

struct Config {
  // [app]
  std::string app_name;              // required by commands that act on an app
  std::string install_root = "/opt"; // the app lives in <install_root>/<app_name>
  std::int64_t keep_releases = 3;    // staged release trees kept after a commit (current and previous included)
  std::string channel = "stable";    // the release channel this site follows (fleet/offer.hpp)
  // [state]
  std::string state_dir = "/var/lib/airlock";
  // [repository]
  std::vector<std::string> repository_urls; // mirrors, tried in order
  std::string ca_file, client_cert, client_key, proxy;
  std::int64_t connect_timeout_s = 15, stall_timeout_s = 60, retries = 5, deadline_s = 3600;
  std::int64_t bandwidth_limit_kib = 0;                 // 0 = unlimited
  std::int64_t min_rate = 1024, min_rate_window_s = 30; // bytes/s and seconds; 0 in either: no rate floor
  // [docker]
  std::string docker_host;         // empty: DOCKER_HOST or the default socket
  std::string compose = "auto";    // auto | v2 | v1
  std::string image_load = "auto"; // auto | thin | complete (docker::Settings::image_load)
  std::string docker_project;      // compose project name; empty: the app name, lowercased, [a-z0-9_-] only
  std::int64_t docker_timeout_s = 600;
  // [backup]
  std::int64_t backup_keep = 5, backup_level = 6;
  std::int64_t backup_threads = 0;          // compression threads (0: one per CPU; 1: one gzip stream)
  std::int64_t snapshots_keep = 0;          // point-in-time snapshots kept after a commit (0: none once archived)
  std::vector<std::string> exclude_volumes; // named volumes left out of the data set (compose key or engine name)
  // [policy]: what a release may do on this host (policy/policy.hpp)
  bool policy_privileged = false, policy_host_pid = false, policy_host_ipc = false, policy_host_network = true;
  bool policy_unconfined = false, policy_host_userns = false;
  std::vector<std::string> policy_cap_add, policy_devices, policy_bind_paths;
  // [health]
  std::int64_t health_timeout_s = 120, health_stable_s = 10, health_interval_s = 2;
  // [schedule]: when `upgrade --cron` may install (empty: at any time)
  std::vector<schedule::Window> windows;
  // [metrics]
  std::string metrics_textfile; // empty: none; else the Prometheus textfile rewritten after every site command
  // [hooks]: executables run at the upgrade's events (hooks/hooks.hpp)
  std::string hooks_dir = "/etc/airlock/hooks.d"; // <dir>/<event>/<hook>
  std::int64_t hooks_timeout_s = 60;              // per hook run; then its process group is killed
  // [log]
  std::string log_file;           // empty: <state_dir>/airlock.jsonl
  std::string log_level = "info"; // debug | info | warning | error

  std::string app_dir() const { return install_root + "/" + app_name; }
};

struct Problem {
  int line = 0; // 0 when the problem is not about one line
  std::string message;
};

// Every problem in `path` (empty when the file is fine). A missing file is one problem.
std::vector<Problem> check(const std::string& path);
// The configuration in `path`, or Error(usage) listing every problem. A missing file at the default path gives
// the defaults when `missing_ok` is set (a site that has only run `airlock verify` needs no config).
Config load(const std::string& path, bool missing_ok = false);

inline constexpr const char* default_path = "/etc/airlock/airlock.conf";

} // namespace airlock::config
