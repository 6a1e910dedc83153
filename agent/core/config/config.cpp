#include "config/config.hpp"

#include "fleet/offer.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <sys/stat.h>

namespace airlock::config {
namespace {

enum class Kind { text, integer, list, choice };

struct Key {
  Kind kind;
  std::int64_t min = 0, max = 0;    // integers
  std::vector<std::string> choices; // choice
  // Stores a checked value; it may still refuse a text value by throwing Error(usage) (a problem of its line).
  std::function<void(Config&, const std::string&)> set;
};

std::int64_t to_int(const std::string& v) { return std::stoll(v); }

// A list value: words separated by spaces or commas.
std::vector<std::string> words(std::string v) {
  std::replace(v.begin(), v.end(), ',', ' ');
  std::istringstream in(v);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

const std::map<std::string, Key>& keys() {
  static const std::map<std::string, Key> k = {
      {"app.name", {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.app_name = v; }}},
      {"app.install_root", {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.install_root = v; }}},
      {"app.channel",
       {Kind::text,
        0,
        0,
        {},
        [](Config& c, const std::string& v) {
          if (!fleet::is_channel_name(v))
            fail(ExitCode::usage, "[app] channel '" + v +
                                      "' is not a channel name (a-z, 0-9, '-', '_', '.'; "
                                      "such as stable or beta)");
          c.channel = v;
        }}},
      {"state.dir", {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.state_dir = v; }}},
      {"repository.urls",
       {Kind::list,
        0,
        0,
        {},
        [](Config& c, const std::string& v) {
          std::istringstream in(v);
          for (std::string u; in >> u;) c.repository_urls.push_back(u);
        }}},
      {"repository.ca_file", {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.ca_file = v; }}},
      {"repository.client_cert", {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.client_cert = v; }}},
      {"repository.client_key", {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.client_key = v; }}},
      {"repository.proxy", {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.proxy = v; }}},
      {"repository.connect_timeout",
       {Kind::integer, 1, 3600, {}, [](Config& c, const std::string& v) { c.connect_timeout_s = to_int(v); }}},
      {"repository.stall_timeout",
       {Kind::integer, 1, 3600, {}, [](Config& c, const std::string& v) { c.stall_timeout_s = to_int(v); }}},
      {"repository.retries",
       {Kind::integer, 0, 100, {}, [](Config& c, const std::string& v) { c.retries = to_int(v); }}},
      {"repository.deadline",
       {Kind::integer, 1, 7 * 86400, {}, [](Config& c, const std::string& v) { c.deadline_s = to_int(v); }}},
      {"repository.bandwidth_limit",
       {Kind::integer,
        0,
        100 * 1024 * 1024,
        {},
        [](Config& c, const std::string& v) { c.bandwidth_limit_kib = to_int(v); }}},
      {"repository.min_rate",
       {Kind::integer, 0, 1024 * 1024 * 1024, {}, [](Config& c, const std::string& v) { c.min_rate = to_int(v); }}},
      {"repository.min_rate_window",
       {Kind::integer, 0, 86400, {}, [](Config& c, const std::string& v) { c.min_rate_window_s = to_int(v); }}},
      {"docker.host", {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.docker_host = v; }}},
      {"docker.compose",
       {Kind::choice, 0, 0, {"auto", "v2", "v1"}, [](Config& c, const std::string& v) { c.compose = v; }}},
      {"docker.image_load",
       {Kind::choice, 0, 0, {"auto", "thin", "complete"}, [](Config& c, const std::string& v) { c.image_load = v; }}},
      {"docker.project", {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.docker_project = v; }}},
      {"app.keep_releases",
       {Kind::integer, 2, 100, {}, [](Config& c, const std::string& v) { c.keep_releases = to_int(v); }}},
      {"docker.timeout",
       {Kind::integer, 1, 86400, {}, [](Config& c, const std::string& v) { c.docker_timeout_s = to_int(v); }}},
      {"backup.keep", {Kind::integer, 1, 1000, {}, [](Config& c, const std::string& v) { c.backup_keep = to_int(v); }}},
      {"backup.level", {Kind::integer, 0, 9, {}, [](Config& c, const std::string& v) { c.backup_level = to_int(v); }}},
      {"backup.threads",
       {Kind::integer, 0, 1024, {}, [](Config& c, const std::string& v) { c.backup_threads = to_int(v); }}},
      {"backup.snapshots_keep",
       {Kind::integer, 0, 10, {}, [](Config& c, const std::string& v) { c.snapshots_keep = to_int(v); }}},
      {"backup.exclude_volumes",
       {Kind::list,
        0,
        0,
        {},
        [](Config& c, const std::string& v) {
          std::istringstream in(v);
          for (std::string u; in >> u;) c.exclude_volumes.push_back(u);
        }}},
      {"policy.privileged",
       {Kind::choice, 0, 0, {"yes", "no"}, [](Config& c, const std::string& v) { c.policy_privileged = v == "yes"; }}},
      {"policy.host_pid",
       {Kind::choice, 0, 0, {"yes", "no"}, [](Config& c, const std::string& v) { c.policy_host_pid = v == "yes"; }}},
      {"policy.unconfined",
       {Kind::choice, 0, 0, {"yes", "no"}, [](Config& c, const std::string& v) { c.policy_unconfined = v == "yes"; }}},
      {"policy.host_userns",
       {Kind::choice, 0, 0, {"yes", "no"}, [](Config& c, const std::string& v) { c.policy_host_userns = v == "yes"; }}},
      {"policy.host_ipc",
       {Kind::choice, 0, 0, {"yes", "no"}, [](Config& c, const std::string& v) { c.policy_host_ipc = v == "yes"; }}},
      {"policy.host_network",
       {Kind::choice,
        0,
        0,
        {"yes", "no"},
        [](Config& c, const std::string& v) { c.policy_host_network = v == "yes"; }}},
      {"policy.cap_add", {Kind::list, 0, 0, {}, [](Config& c, const std::string& v) { c.policy_cap_add = words(v); }}},
      {"policy.devices", {Kind::list, 0, 0, {}, [](Config& c, const std::string& v) { c.policy_devices = words(v); }}},
      {"policy.bind_paths",
       {Kind::list, 0, 0, {}, [](Config& c, const std::string& v) { c.policy_bind_paths = words(v); }}},
      {"health.timeout",
       {Kind::integer, 1, 86400, {}, [](Config& c, const std::string& v) { c.health_timeout_s = to_int(v); }}},
      {"health.stable_window",
       {Kind::integer, 0, 3600, {}, [](Config& c, const std::string& v) { c.health_stable_s = to_int(v); }}},
      {"health.interval",
       {Kind::integer, 1, 600, {}, [](Config& c, const std::string& v) { c.health_interval_s = to_int(v); }}},
      {"schedule.window",
       {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.windows = schedule::parse_windows(v); }}},
      {"metrics.textfile",
       {Kind::text,
        0,
        0,
        {},
        [](Config& c, const std::string& v) {
          // node_exporter's textfile collector reads only *.prom files, in a directory of its own.
          if (!v.empty() && (v.front() != '/' || v.size() < 6 || v.compare(v.size() - 5, 5, ".prom") != 0))
            fail(ExitCode::usage, util::quoted(v, 200, '\'') +
                                      " is not an absolute path ending in .prom (node_exporter's textfile collector "
                                      "reads only *.prom files)");
          c.metrics_textfile = v;
        }}},
      {"hooks.dir", {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.hooks_dir = v; }}},
      {"hooks.timeout",
       {Kind::integer, 1, 86400, {}, [](Config& c, const std::string& v) { c.hooks_timeout_s = to_int(v); }}},
      {"log.file", {Kind::text, 0, 0, {}, [](Config& c, const std::string& v) { c.log_file = v; }}},
      {"log.level",
       {Kind::choice,
        0,
        0,
        {"debug", "info", "warning", "error"},
        [](Config& c, const std::string& v) { c.log_level = v; }}},
  };
  return k;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Line numbers for messages: Poco's reader does not keep them, so scan the file once alongside it.
std::map<std::string, int> key_lines(const std::string& path, std::vector<Problem>& problems) {
  std::map<std::string, int> lines;
  std::ifstream in(path);
  std::string line, section;
  for (int n = 1; std::getline(in, line); ++n) {
    std::string t = trim(line);
    if (t.empty() || t[0] == ';' || t[0] == '#') continue;
    if (t[0] == '[') {
      if (t.back() != ']') problems.push_back({n, "section header '" + t + "' lacks its ']'"});
      section = trim(t.substr(1, t.size() - 2));
      continue;
    }
    auto eq = t.find('=');
    if (eq == std::string::npos) {
      problems.push_back({n, "'" + t + "' is not 'key = value'"});
      continue;
    }
    std::string key = (section.empty() ? "" : section + ".") + trim(t.substr(0, eq));
    if (lines.count(key)) problems.push_back({n, fmt::format("{} is set again (first on line {})", key, lines[key])});
    lines.emplace(key, n);
  }
  return lines;
}

std::string check_value(const Key& k, const std::string& name, const std::string& v) {
  switch (k.kind) {
  case Kind::integer: {
    std::size_t used = 0;
    long long n = 0;
    try {
      n = std::stoll(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size() || v.empty()) return fmt::format("{} = '{}' is not a whole number", name, v);
    if (n < k.min || n > k.max) return fmt::format("{} = {} is outside {}..{}", name, n, k.min, k.max);
    return "";
  }
  case Kind::choice:
    for (const auto& c : k.choices)
      if (v == c) return "";
    return fmt::format("{} = '{}' is not one of: {}", name, v, fmt::join(k.choices, ", "));
  case Kind::text:
  case Kind::list:
    return "";
  }
  return "";
}

std::vector<Problem> parse(const std::string& path, Config* out) {
  std::vector<Problem> problems;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {{0, path + " does not exist (see docs/airlock.conf.example)"}};
  auto lines = key_lines(path, problems);
  Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini;
  try {
    ini = new Poco::Util::IniFileConfiguration(path);
  } catch (const Poco::Exception& e) {
    problems.push_back({0, "cannot read " + path + ": " + e.displayText()});
    return problems;
  }
  Config c;
  for (const auto& [name, line] : lines) {
    auto it = keys().find(name);
    if (it == keys().end()) {
      problems.push_back({line, "unknown key " + name + " (docs/airlock.conf.example lists every key)"});
      continue;
    }
    const std::string value = ini->getString(name, "");
    if (auto why = check_value(it->second, name, value); !why.empty()) {
      problems.push_back({line, why});
      continue;
    }
    try {
      it->second.set(c, value);
    } catch (const Error& e) {
      problems.push_back({line, name + ": " + e.what()});
    }
  }
  if (out) *out = c;
  return problems;
}

} // namespace

std::vector<Problem> check(const std::string& path) { return parse(path, nullptr); }

Config load(const std::string& path, bool missing_ok) {
  struct stat st {};
  if (missing_ok && ::stat(path.c_str(), &st) != 0) return Config{};
  Config c;
  auto problems = parse(path, &c);
  if (!problems.empty()) {
    std::string msg = path + " has " + std::to_string(problems.size()) + " problem(s):";
    for (const auto& p : problems)
      msg += p.line ? fmt::format("\n  line {}: {}", p.line, p.message) : "\n  " + p.message;
    msg += "\nFix them ('airlock config check' lists them) and run again.";
    fail(ExitCode::usage, msg);
  }
  return c;
}

} // namespace airlock::config
