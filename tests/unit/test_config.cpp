#include "config/config.hpp"
#include "util/error.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

using namespace airlock;

TEST_CASE("config::load reads the shipped example with its values") {
  auto c = config::load(std::string(AIRLOCK_SOURCE_DIR) + "/docs/airlock.conf.example");
  CHECK(c.app_name == "demo");
  CHECK(c.app_dir() == "/opt/demo");
  CHECK(c.repository_urls ==
        std::vector<std::string>{"https://updates.example.com/demo", "https://mirror.example.com/demo"});
  CHECK(c.backup_level == 6);
  CHECK(c.backup_threads == 0);
  CHECK(c.compose == "auto");
  CHECK(c.hooks_dir == "/etc/airlock/hooks.d");
  CHECK(c.hooks_timeout_s == 60);
  CHECK(config::check(std::string(AIRLOCK_SOURCE_DIR) + "/docs/airlock.conf.example").empty());
}

TEST_CASE("config::check names every unknown key and bad value with its line") {
  testutil::TempDir dir;
  testutil::write_file(dir / "a.conf", "[app]\nname = x\nnmae = y\n\n[backup]\nlevel = 11\nkeep = many\n"
                                       "[docker]\ncompose = v3\n[nope]\nkey = 1\n[app]\nname = again\n");
  auto p = config::check(dir / "a.conf");
  REQUIRE(p.size() == 6);
  auto has = [&](int line, const std::string& text) {
    for (const auto& x : p)
      if (x.line == line && x.message.find(text) != std::string::npos) return true;
    return false;
  };
  CHECK(has(3, "unknown key app.nmae"));
  CHECK(has(6, "backup.level = 11 is outside 0..9"));
  CHECK(has(7, "backup.keep = 'many' is not a whole number"));
  CHECK(has(9, "docker.compose = 'v3' is not one of: auto, v2, v1"));
  CHECK(has(11, "unknown key nope.key"));
  CHECK(has(13, "app.name is set again (first on line 2)"));
  try {
    config::load(dir / "a.conf");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    CHECK(std::string(e.what()).find("line 6: backup.level") != std::string::npos);
  }
}

TEST_CASE("config::load of a missing file: an error, or the defaults when allowed") {
  testutil::TempDir dir;
  CHECK(config::check(dir / "none.conf").size() == 1);
  CHECK_THROWS_AS(config::load(dir / "none.conf"), Error);
  CHECK(config::load(dir / "none.conf", true).state_dir == "/var/lib/airlock");
}

TEST_CASE("config::load reads [schedule] window as a comma-separated list and [metrics] textfile") {
  testutil::TempDir dir;
  testutil::write_file(dir / "a.conf", "[app]\nname = x\n[schedule]\nwindow = Sat 02:00-05:00, Fri 23:00-01:00\n"
                                       "[metrics]\ntextfile = /var/lib/node_exporter/textfile/airlock.prom\n");
  auto c = config::load(dir / "a.conf");
  REQUIRE(c.windows.size() == 2);
  CHECK(schedule::describe(c.windows) == "Sat 02:00-05:00, Fri 23:00-01:00");
  CHECK(c.metrics_textfile == "/var/lib/node_exporter/textfile/airlock.prom");
  CHECK(config::load(dir / "none.conf", true).windows.empty());
}

TEST_CASE("config::check refuses a malformed window and a textfile node_exporter would not read, by line") {
  testutil::TempDir dir;
  testutil::write_file(dir / "a.conf", "[app]\nname = x\n[schedule]\nwindow = Sat 02:00-05:00, Sun 25:00-26:00\n"
                                       "[metrics]\ntextfile = airlock.txt\n");
  auto p = config::check(dir / "a.conf");
  REQUIRE(p.size() == 2);
  auto has = [&](int line, const std::string& text) {
    for (const auto& x : p)
      if (x.line == line && x.message.find(text) != std::string::npos) return true;
    return false;
  };
  CHECK(has(4, "schedule.window: 'Sun 25:00-26:00' is not a maintenance window: hour 25 is beyond 23"));
  CHECK(has(6, "metrics.textfile: 'airlock.txt' is not an absolute path ending in .prom"));
  CHECK(testutil::error_of([&] { config::load(dir / "a.conf"); }).code() == ExitCode::usage);
}

TEST_CASE("config::load reads [hooks] and refuses a timeout out of range") {
  testutil::TempDir dir;
  testutil::write_file(dir / "h.conf", "[app]\nname = x\n[hooks]\ndir = /srv/hooks\ntimeout = 5\n");
  auto c = config::load(dir / "h.conf");
  CHECK(c.hooks_dir == "/srv/hooks");
  CHECK(c.hooks_timeout_s == 5);
  testutil::write_file(dir / "bad.conf", "[hooks]\ntimeout = 0\n");
  auto p = config::check(dir / "bad.conf");
  REQUIRE(p.size() == 1);
  CHECK(p[0].line == 2);
  CHECK(p[0].message == "hooks.timeout = 0 is outside 1..86400");
}
