#include "schedule/window.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

using namespace airlock;
using schedule::Day;

namespace {

// Minute of the week of DAY HH:MM (Monday 00:00 = 0).
int at(Day d, int h, int m) { return static_cast<int>(d) * schedule::minutes_per_day + h * 60 + m; }

std::vector<schedule::Window> windows(const char* text) { return schedule::parse_windows(text); }

// TZ for one test, restored afterwards.
class ScopedTz {
public:
  explicit ScopedTz(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (old_)
      ::setenv("TZ", old_->c_str(), 1);
    else
      ::unsetenv("TZ");
    ::tzset();
  }

private:
  std::optional<std::string> old_;
};

// A fake clock for "now": the pipeline Context's clock seam, as the commands read it.
class FakeClock final : public util::Clock {
public:
  explicit FakeClock(std::int64_t t) : t_(t) {}
  std::int64_t unix_seconds() const override { return t_; }
  steady_time steady() const override { return {}; }
  void sleep_until(steady_time) override {}

private:
  std::int64_t t_;
};

constexpr std::int64_t sat_0200_utc = 1795831200; // Sat 2026-11-28 02:00:00 UTC
constexpr std::int64_t week = 7 * 86400;

} // namespace

TEST_CASE("schedule::parse_window reads days, times, daily and 24:00, and prints the canonical text") {
  CHECK(schedule::parse_window("Sat 02:00-05:00").text() == "Sat 02:00-05:00");
  CHECK(schedule::parse_window("  sat   2:00 - 05:00 ").text() == "Sat 02:00-05:00");
  CHECK(schedule::parse_window("* 23:00-01:00").text() == "daily 23:00-01:00");
  CHECK(schedule::parse_window("DAILY 00:00-24:00").text() == "daily 00:00-24:00");
  const auto w = schedule::parse_window("Fri 23:00-01:00");
  CHECK(w.day == Day::fri);
  CHECK(w.start == 23 * 60);
  CHECK(w.end == 60);
  CHECK(schedule::parse_windows("").empty());
  CHECK(schedule::describe(windows("Sat 02:00-05:00, wed 22:30-23:00")) == "Sat 02:00-05:00, Wed 22:30-23:00");
}

TEST_CASE("schedule::parse_window refuses malformed windows with Error(usage) that names the text") {
  const std::pair<const char*, const char*> bad[] = {
      {"Sat", "needs a day and a time span"},
      {"Sab 02:00-05:00", "'Sab' is not a day"},
      {"Sat 02:00", "needs a start and an end"},
      {"Sat 25:00-26:00", "hour 25 is beyond 23"},
      {"Sat 24:00-02:00", "hour 24 is beyond 23"},
      {"Sat 02:60-03:00", "minute 60 is beyond 59"},
      {"Sat 2-5", "'2' is not a time HH:MM"},
      {"Sat 02:0-05:00", "'02:0' is not a time HH:MM"},
      {"Sat 02:00-02:00", "starts and ends at the same time"},
      {"Sat 0x:00-05:00", "is not a time HH:MM"},
  };
  for (const auto& [text, why] : bad) {
    CAPTURE(text);
    const auto e = testutil::error_of([&] { schedule::parse_window(text); });
    CHECK(e.code() == ExitCode::usage);
    const std::string msg = e.what();
    CHECK(msg.find(std::string("'") + text + "' is not a maintenance window") != std::string::npos);
    CHECK(msg.find(why) != std::string::npos);
  }
  CHECK(testutil::error_of([] { schedule::parse_windows("Sat 02:00-05:00,"); }).code() == ExitCode::usage);
  CHECK(std::string(testutil::error_of([] { schedule::parse_windows("Sat 02:00-05:00, Sun 9:00"); }).what())
            .find("'Sun 9:00'") != std::string::npos);
}

TEST_CASE("schedule::position: the start is inclusive, the end exclusive") {
  const auto w = windows("Sat 02:00-05:00");
  auto p = schedule::position(w, at(Day::sat, 1, 59));
  CHECK_FALSE(p.inside);
  CHECK(p.minutes_to_open == 1);
  CHECK(p.opening->text() == "Sat 02:00-05:00");
  CHECK_FALSE(p.minutes_to_close.has_value());
  p = schedule::position(w, at(Day::sat, 2, 0));
  CHECK(p.inside);
  CHECK(p.current->text() == "Sat 02:00-05:00");
  CHECK(p.minutes_to_close == 180);
  CHECK(p.minutes_to_open == schedule::minutes_per_week); // the same window, next week
  p = schedule::position(w, at(Day::sat, 4, 59));
  CHECK(p.inside);
  CHECK(p.minutes_to_close == 1);
  p = schedule::position(w, at(Day::sat, 5, 0));
  CHECK_FALSE(p.inside);
  CHECK(p.minutes_to_open == schedule::minutes_per_week - 180);
}

TEST_CASE("schedule::position: a window crossing midnight, and one crossing the week's end Sun -> Mon") {
  const auto fri = windows("Fri 23:00-01:00");
  CHECK_FALSE(schedule::position(fri, at(Day::fri, 22, 59)).inside);
  CHECK(schedule::position(fri, at(Day::fri, 23, 0)).minutes_to_close == 120);
  CHECK(schedule::position(fri, at(Day::sat, 0, 30)).minutes_to_close == 30);
  CHECK_FALSE(schedule::position(fri, at(Day::sat, 1, 0)).inside);
  CHECK_FALSE(schedule::position(fri, at(Day::thu, 0, 30)).inside); // only after Friday's 23:00

  const auto sun = windows("Sun 23:00-01:00");
  auto p = schedule::position(sun, at(Day::sun, 22, 59));
  CHECK_FALSE(p.inside);
  CHECK(p.minutes_to_open == 1);
  CHECK(schedule::position(sun, at(Day::sun, 23, 59)).minutes_to_close == 61);
  p = schedule::position(sun, at(Day::mon, 0, 0)); // minute 0 of the week
  CHECK(p.inside);
  CHECK(p.minutes_to_close == 60);
  CHECK(schedule::position(sun, at(Day::mon, 0, 59)).inside);
  p = schedule::position(sun, at(Day::mon, 1, 0));
  CHECK_FALSE(p.inside);
  CHECK(p.minutes_to_open == at(Day::sun, 23, 0) - at(Day::mon, 1, 0));

  const auto daily = windows("* 23:00-01:00");
  CHECK(schedule::position(daily, at(Day::mon, 0, 30)).inside); // from Sunday's
  CHECK(schedule::position(daily, at(Day::wed, 12, 0)).minutes_to_open == 11 * 60);
  CHECK(schedule::position(daily, at(Day::wed, 23, 30)).minutes_to_close == 90);
}

TEST_CASE("schedule::position: overlapping and touching windows form one span; a whole week never closes") {
  const auto w = windows("Sat 02:00-05:00, Sat 04:00-06:00, Sat 06:00-07:00");
  auto p = schedule::position(w, at(Day::sat, 3, 0));
  CHECK(p.minutes_to_close == 240);                            // until 07:00
  CHECK(p.minutes_to_open == schedule::minutes_per_week - 60); // 04:00 and 06:00 open no span of their own
  CHECK(p.opening->text() == "Sat 02:00-05:00");
  p = schedule::position(windows("daily 00:00-24:00"), at(Day::tue, 10, 0));
  CHECK(p.inside);
  CHECK_FALSE(p.minutes_to_close.has_value());
  CHECK_FALSE(p.minutes_to_open.has_value());
  p = schedule::position({}, at(Day::tue, 10, 0));
  CHECK_FALSE(p.inside);
  CHECK_FALSE(p.minutes_to_open.has_value());
}

TEST_CASE("schedule::status_at places the injected clock's now in local time, TZ honoured") {
  const auto w = windows("Sat 02:00-05:00");
  {
    ScopedTz tz("UTC0");
    FakeClock before(sat_0200_utc - 1), start(sat_0200_utc), last(sat_0200_utc + 3 * 3600 - 1),
        end(sat_0200_utc + 3 * 3600);
    auto s = schedule::status_at(w, before.unix_seconds());
    CHECK(s.configured);
    CHECK_FALSE(s.inside);
    CHECK(s.opens_at == sat_0200_utc);
    CHECK(schedule::local_text(*s.opens_at) == "Sat 2026-11-28 02:00 UTC");
    CHECK(schedule::utc_text(*s.opens_at) == "2026-11-28T02:00:00Z");
    s = schedule::status_at(w, start.unix_seconds());
    CHECK(s.inside);
    CHECK(s.closes_at == sat_0200_utc + 3 * 3600);
    CHECK(s.opens_at == sat_0200_utc + week);
    CHECK(schedule::status_at(w, last.unix_seconds()).inside);
    s = schedule::status_at(w, end.unix_seconds());
    CHECK_FALSE(s.inside);
    CHECK(s.opens_at == sat_0200_utc + week);
  }
  {
    ScopedTz tz("XST-2"); // UTC+2: Sat 02:00 local is Sat 00:00 UTC
    CHECK(schedule::status_at(w, sat_0200_utc - 7200).inside);
    CHECK_FALSE(schedule::status_at(w, sat_0200_utc - 7201).inside);
    CHECK(schedule::status_at(w, sat_0200_utc + 3 * 3600 - 7200 - 1).inside);
    CHECK_FALSE(schedule::status_at(w, sat_0200_utc + 3 * 3600 - 7200).inside);
    CHECK(schedule::local_text(sat_0200_utc - 7200) == "Sat 2026-11-28 02:00 XST");
  }
  auto s = schedule::status_at({}, sat_0200_utc);
  CHECK_FALSE(s.configured);
  CHECK(s.inside); // no windows: installs are not restricted
}

TEST_CASE("schedule::status_at works in wall-clock minutes across a DST change, converting only the result") {
  // Central Europe, Sunday 2024-03-31: at 02:00 CET the clocks jump to 03:00 CEST.
  ScopedTz tz("CET-1CEST,M3.5.0,M10.5.0/3");
  const auto w = windows("Sun 01:00-04:00");
  const std::int64_t sun_0159_59_cet = 1711846799; // 00:59:59 UTC
  auto s = schedule::status_at(w, sun_0159_59_cet);
  CHECK(s.inside);
  // Two wall-clock hours to 04:00 CEST are one real hour: 02:00 UTC.
  CHECK(s.closes_at == 1711850400);
  CHECK(schedule::local_text(*s.closes_at) == "Sun 2024-03-31 04:00 CEST");
  CHECK(schedule::status_at(w, 1711850400 - 1).inside);
  CHECK_FALSE(schedule::status_at(w, 1711850400).inside);
  // The next opening is a week later, in summer time.
  CHECK(schedule::local_text(*s.opens_at) == "Sun 2024-04-07 01:00 CEST");
}

TEST_CASE("util::pinned_now reads AIRLOCK_NOW and refuses anything but whole seconds") {
  ::setenv("AIRLOCK_NOW", "1795831200", 1);
  CHECK(util::pinned_now() == 1795831200);
  CHECK(util::PinnedClock(*util::pinned_now()).unix_seconds() == 1795831200);
  ::setenv("AIRLOCK_NOW", "soon", 1);
  CHECK(testutil::error_of([] { util::pinned_now(); }).code() == ExitCode::usage);
  ::unsetenv("AIRLOCK_NOW");
  CHECK_FALSE(util::pinned_now());
}
