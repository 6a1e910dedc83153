#include "metrics/metrics.hpp"
#include "state/db.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

using namespace airlock;
namespace fs = std::filesystem;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

} // namespace

TEST_CASE("metrics::render writes HELP and TYPE for every family, escapes label values, prints exact numbers") {
  std::vector<metrics::Family> f = {
      {"airlock_x_total", metrics::Type::counter, "A help\\text\nsecond line", {{{}, 5}}},
      {"airlock_y_seconds", metrics::Type::gauge, "Y.", {{{{"a", "q\"uo\\te\nnl"}, {"b", "2"}}, 1.25}}},
      {"airlock_empty_info", metrics::Type::gauge, "No samples.", {}},
  };
  CHECK(metrics::render(f) == "# HELP airlock_x_total A help\\\\text\\nsecond line\n"
                              "# TYPE airlock_x_total counter\n"
                              "airlock_x_total 5\n"
                              "# HELP airlock_y_seconds Y.\n"
                              "# TYPE airlock_y_seconds gauge\n"
                              "airlock_y_seconds{a=\"q\\\"uo\\\\te\\nnl\",b=\"2\"} 1.25\n"
                              "# HELP airlock_empty_info No samples.\n"
                              "# TYPE airlock_empty_info gauge\n");
}

TEST_CASE("metrics::collect reports the installed version, facts, audit, backups and free space of a site") {
  testutil::TempDir dir;
  config::Config cfg;
  cfg.app_name = "shop";
  cfg.install_root = dir / "opt";
  cfg.state_dir = dir / "state";
  fs::create_directories(cfg.app_dir() + "/releases/1.2.0");
  fs::create_directory_symlink("releases/1.2.0", cfg.app_dir() + "/current");
  fs::create_directories(cfg.state_dir);
  state::StateDb db(cfg.state_dir);
  db.fact_set({"update", 1, "1.3.0", "2026-11-29T14:00:00Z"});
  db.fact_set({"run/check", 10, "", "2026-11-29T14:00:00Z"});
  db.fact_set({"run/upgrade", 7, "", "2026-11-29T14:00:01Z"});
  db.fact_add("downloaded_bytes", 4096);
  auto a = state::audit_who("upgrade");
  a.outcome = "ok";
  a.downtime_ms = 1500;
  a.at = "2026-11-29T13:00:00Z";
  db.audit_add(a);
  a.outcome = "rolled-back";
  a.downtime_ms = 2250;
  a.at = "2026-11-29T14:00:01Z";
  db.audit_add(a);
  a = state::audit_who("rollback");
  a.outcome = "ok";
  db.audit_add(a);
  a = state::audit_who("download"); // no downtime: not the last upgrade's
  a.outcome = "downloaded";
  db.audit_add(a);
  state::Backup b;
  b.status = state::BackupStatus::complete;
  b.size = 1000;
  b.created_at = "2026-11-29T12:00:00Z";
  db.backup_add(b);
  b.size = 3000;
  b.created_at = "2026-11-29T12:30:00Z";
  db.backup_add(b);
  b.status = state::BackupStatus::failed; // newest, but not complete: not counted
  b.size = 99;
  b.created_at = "2026-11-29T12:45:00Z";
  db.backup_add(b);

  const std::string text = metrics::render(metrics::collect(cfg, db));
  CAPTURE(text);
  CHECK(has_line(text, "airlock_installed_info{app=\"shop\",version=\"1.2.0\"} 1"));
  CHECK(has_line(text, "airlock_update_available{app=\"shop\",version=\"1.3.0\"} 1"));
  CHECK(has_line(text, "airlock_update_checked_timestamp_seconds{app=\"shop\"} 1795960800"));
  CHECK(has_line(text, "airlock_last_run_exit_code{command=\"check\"} 10"));
  CHECK(has_line(text, "airlock_last_run_success{command=\"check\"} 1"));
  CHECK(has_line(text, "airlock_last_run_exit_code{command=\"upgrade\"} 7"));
  CHECK(has_line(text, "airlock_last_run_success{command=\"upgrade\"} 0"));
  CHECK(has_line(text, "airlock_last_run_timestamp_seconds{command=\"upgrade\"} 1795960801"));
  CHECK(has_line(text, "airlock_last_upgrade_downtime_seconds 2.25"));
  CHECK(has_line(text, "airlock_last_upgrade_timestamp_seconds 1795960801"));
  CHECK(has_line(text, "airlock_rollbacks_total{kind=\"automatic\"} 1"));
  CHECK(has_line(text, "airlock_rollbacks_total{kind=\"manual\"} 1"));
  CHECK(has_line(text, "airlock_downloaded_bytes_total 4096"));
  CHECK(has_line(text, "airlock_last_backup_bytes 3000"));
  CHECK(has_line(text, "airlock_last_backup_timestamp_seconds 1795955400"));
  CHECK(has_line(text, "airlock_backups_bytes 4000"));
  CHECK(has_line(text, "airlock_backups 2"));
  CHECK(text.find("airlock_disk_free_bytes{dir=\"app\",path=\"" + cfg.app_dir() + "\"} ") != std::string::npos);
  CHECK(text.find("airlock_disk_free_bytes{dir=\"state\",path=\"" + cfg.state_dir + "\"} ") != std::string::npos);
  CHECK(text.find("# TYPE airlock_agent_info gauge\nairlock_agent_info{version=\"") != std::string::npos);

  metrics::write_textfile(dir / "airlock.prom", text);
  CHECK(testutil::read_file(dir / "airlock.prom") == text);
  CHECK((fs::status(dir / "airlock.prom").permissions() & fs::perms::all) == static_cast<fs::perms>(0644));
}

TEST_CASE("metrics::collect of a fresh site: every family is there, without the samples it cannot know yet") {
  testutil::TempDir dir;
  config::Config cfg;
  cfg.app_name = "shop";
  cfg.install_root = dir / "opt";
  cfg.state_dir = dir / "state";
  fs::create_directories(cfg.state_dir);
  state::StateDb db(cfg.state_dir);
  const std::string text = metrics::render(metrics::collect(cfg, db));
  for (const char* name : {"airlock_installed_info", "airlock_update_available", "airlock_last_run_exit_code",
                           "airlock_last_upgrade_downtime_seconds", "airlock_last_backup_bytes"}) {
    CAPTURE(name);
    CHECK(text.find(std::string("# TYPE ") + name + " gauge\n") != std::string::npos);
    CHECK(text.find(std::string("\n") + name + " ") == std::string::npos);
    CHECK(text.find(std::string("\n") + name + "{") == std::string::npos);
  }
  CHECK(has_line(text, "airlock_downloaded_bytes_total 0"));
  CHECK(has_line(text, "airlock_backups 0"));
  CHECK(text.find("airlock_disk_free_bytes{dir=\"app\"") == std::string::npos); // no app directory: no sample
  CHECK(text.find("airlock_disk_free_bytes{dir=\"state\"") != std::string::npos);
}
