#include "log/log.hpp"
#include "util/error.hpp"
#include "util/io.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

using namespace airlock;

TEST_CASE("log::event writes JSON lines with timestamp, level, module, event and fields") {
  testutil::TempDir dir;
  log::init({dir / "a.jsonl", log::Level::info, false, true});
  log::event(log::Level::debug, "test", "hidden", "below the level");
  log::event(log::Level::info, "stage", "staged", "staged 1.2.0",
             {{"version", json::Value("1.2.0")}, {"files", json::Value(3)}});
  log::init({});
  std::string text = testutil::read_file(dir / "a.jsonl");
  REQUIRE(text.back() == '\n');
  CHECK(text.find('\n') == text.size() - 1); // exactly one line: the debug event was filtered
  auto v = json::parse(text.substr(0, text.size() - 1), "log line");
  CHECK(v["level"].as_string() == "info");
  CHECK(v["module"].as_string() == "stage");
  CHECK(v["event"].as_string() == "staged");
  CHECK(v["version"].as_string() == "1.2.0");
  CHECK(v["files"].as_int() == 3);
  CHECK(v["ts"].as_string().size() == 24); // 2026-11-29T14:00:00.123Z
}

TEST_CASE("log::init survives a log file it cannot open, and parse_level refuses unknown levels") {
  log::init({"/nonexistent-dir/x.jsonl", log::Level::info, false, true});
  log::event(log::Level::error, "test", "still", "logging goes on without the file");
  log::init({});
  CHECK(log::parse_level("warning") == log::Level::warning);
  CHECK_THROWS_AS(log::parse_level("loud"), Error);
  CHECK(log::human_bytes(1536) == "1.5 KiB");
  CHECK(log::human_bytes(12) == "12 B");
}
