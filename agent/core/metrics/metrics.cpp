#include "metrics/metrics.hpp"

#include "about/build_info.hpp"
#include "site/layout.hpp"
#include "site/stage.hpp"
#include "util/disk.hpp"
#include "util/io.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <map>

namespace airlock::metrics {
namespace {

// "2026-11-29T14:00:00Z" (the state database's times) as seconds since the epoch; 0 when it is not one.
double unix_of(const std::string& utc) {
  std::tm tm{};
  char z = 0;
  if (std::sscanf(utc.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &z) != 7 ||
      z != 'Z')
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(::timegm(&tm));
}

std::string escape(const std::string& s, bool label) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && label)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9007199254740992.0)
    return std::to_string(static_cast<long long>(v));
  return fmt::format("{}", v);
}

bool succeeded(const std::string& command, std::int64_t exit_code) {
  return exit_code == 0 || (command == "check" && exit_code == 10); // check: 10 is "update available"
}

} // namespace

std::vector<Family> collect(const config::Config& cfg, state::StateDb& db) {
  namespace fs = std::filesystem;
  const auto layout = site::Layout::of(cfg);
  const std::string& app = cfg.app_name;
  std::map<std::string, state::Fact> facts;
  for (auto& f : db.facts()) facts.emplace(f.name, f);
  std::deque<Family> out; // references to earlier families stay valid while later ones are added
  auto family = [&](const char* name, Type type, const char* help) -> Family& {
    out.push_back({name, type, help, {}});
    return out.back();
  };
  auto fact = [&](const std::string& name) { return facts.count(name) ? &facts.at(name) : nullptr; };

  family("airlock_agent_info", Type::gauge, "The airlock agent binary: version, git revision, architecture (always 1).")
      .samples.push_back(
          {{{"version", about::airlock_version()}, {"revision", about::git_revision()}, {"arch", about::target_arch()}},
           1});
  auto& installed = family("airlock_installed_info", Type::gauge,
                           "The release the site runs (the current link), always 1; no sample when none is installed.");
  if (auto v = site::current_version(layout.app_dir()))
    installed.samples.push_back({{{"app", app}, {"version", *v}}, 1});

  auto& update = family("airlock_update_available", Type::gauge,
                        "1 when the last check or upgrade found a release to install (label version), 0 when the "
                        "site was up to date; no sample before the first check.");
  auto& checked = family("airlock_update_checked_timestamp_seconds", Type::gauge,
                         "When the last check or upgrade learned whether an update is available.");
  if (const auto* f = fact(update_fact)) {
    update.samples.push_back({{{"app", app}, {"version", f->text}}, static_cast<double>(f->number)});
    checked.samples.push_back({{{"app", app}}, unix_of(f->at)});
  }

  auto& run_at = family("airlock_last_run_timestamp_seconds", Type::gauge,
                        "When the last run of each command that changes or checks the site ended.");
  auto& run_rc = family("airlock_last_run_exit_code", Type::gauge,
                        "The exit code of the last run of each command (docs/cli.md: 0 ok, 7 rolled back, 8 needs "
                        "attention, 10 update available, ...).");
  auto& run_ok = family("airlock_last_run_success", Type::gauge,
                        "1 when the last run of each command succeeded (exit 0; for check also 10), else 0.");
  for (const auto& [name, f] : facts) {
    if (name.rfind(run_fact_prefix, 0) != 0) continue;
    const std::string command = name.substr(std::string(run_fact_prefix).size());
    run_at.samples.push_back({{{"command", command}}, unix_of(f.at)});
    run_rc.samples.push_back({{{"command", command}}, static_cast<double>(f.number)});
    run_ok.samples.push_back({{{"command", command}}, succeeded(command, f.number) ? 1.0 : 0.0});
  }

  auto& downtime = family("airlock_last_upgrade_downtime_seconds", Type::gauge,
                          "How long the services were stopped in the last upgrade, apply or rollback that stopped them "
                          "(committed or rolled back).");
  auto& upgraded = family("airlock_last_upgrade_timestamp_seconds", Type::gauge,
                          "When the last upgrade, apply or rollback that stopped the services ended.");
  if (auto last = db.audit_last_downtime()) {
    downtime.samples.push_back({{}, static_cast<double>(last->downtime_ms) / 1000.0});
    upgraded.samples.push_back({{}, unix_of(last->at)});
  }
  family("airlock_rollbacks_total", Type::counter,
         "Rollbacks: automatic (an upgrade failed after the services stopped) and manual (airlock rollback).")
      .samples = {{{{"kind", "automatic"}}, static_cast<double>(db.audit_count("", "rolled-back"))},
                  {{{"kind", "manual"}}, static_cast<double>(db.audit_count("rollback", "ok"))}};
  const auto* downloaded = fact(downloaded_fact);
  family("airlock_downloaded_bytes_total", Type::counter,
         "Bytes of files received from the online repository (metadata and targets, every attempt; error pages are not "
         "read).")
      .samples.push_back({{}, downloaded ? static_cast<double>(downloaded->number) : 0.0});

  auto& last_backup = family("airlock_last_backup_bytes", Type::gauge, "Size of the newest complete backup archive.");
  auto& last_backup_at =
      family("airlock_last_backup_timestamp_seconds", Type::gauge, "When the newest complete backup was made.");
  double kept = 0, count = 0;
  for (const auto& b : db.backups()) { // newest first
    if (b.status != state::BackupStatus::complete) continue;
    if (count == 0) {
      last_backup.samples.push_back({{}, static_cast<double>(b.size)});
      last_backup_at.samples.push_back({{}, unix_of(b.created_at)});
    }
    kept += static_cast<double>(b.size);
    ++count;
  }
  family("airlock_backups_bytes", Type::gauge, "Total size of the complete backups kept.")
      .samples.push_back({{}, kept});
  family("airlock_backups", Type::gauge, "Number of complete backups kept.").samples.push_back({{}, count});

  auto& free = family("airlock_disk_free_bytes", Type::gauge,
                      "Bytes free for unprivileged users on the filesystem of the app directory (dir=\"app\", "
                      "<install_root>/<app>) and of the state directory (dir=\"state\").");
  for (const auto& [dir, path] :
       {std::pair<const char*, std::string>{"app", layout.app_dir()}, {"state", layout.state_dir()}}) {
    std::error_code ec;
    if (fs::is_directory(path, ec))
      free.samples.push_back({{{"dir", dir}, {"path", path}}, static_cast<double>(util::statvfs_free_bytes(path))});
  }
  return {out.begin(), out.end()};
}

std::string render(const std::vector<Family>& families) {
  std::string out;
  for (const auto& f : families) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, escape(f.help, false), f.name,
                       f.type == Type::counter ? "counter" : "gauge");
    for (const auto& s : f.samples) {
      std::string labels;
      for (const auto& [k, v] : s.labels)
        labels += fmt::format("{}{}=\"{}\"", labels.empty() ? "" : ",", k, escape(v, true));
      out += f.name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(s.value) + "\n";
    }
  }
  return out;
}

void write_textfile(const std::string& path, const std::string& text) { util::write_file_atomic(path, text, 0644); }

} // namespace airlock::metrics
