// Maintenance windows ([schedule] window, docs/fleet.md "Maintenance windows"): when `airlock upgrade --cron` may
// install. A window is a day and a span of local wall-clock time: "Sat 02:00-05:00".
//
// - Days: Mon Tue Wed Thu Fri Sat Sun (any letter case), or `*` / `daily` for every day.
// - The start is inclusive and the end exclusive: "Sat 02:00-05:00" holds Sat 02:00:00 to Sat 04:59:59.
// - An end at or before the start crosses midnight into the next day: "Fri 23:00-01:00" ends Sat 01:00, and
//   "Sun 23:00-01:00" ends Mon 01:00 (the week wraps). "24:00" as an end is the end of the day; a start and end
//   that are equal ("Sat 02:00-02:00") are refused as ambiguous.
// - Windows that overlap or touch form one span: the site is inside while any window holds the time.
//
// The arithmetic is on local wall-clock minutes of the week (0 = Monday 00:00, 10079 = Sunday 23:59), never on
// seconds since the epoch, so a window is the same wall-clock span on every day, summer or winter. Only the
// conversion of a result back to an instant (status_at) goes through the time zone, with localtime_r/mktime in
// the process's zone (TZ honoured): on the night clocks go forward, "02:00-04:00" lasts one real hour.
// Thread-safety: parse_*() and position() are pure; status_at() and local_text() read the process's time zone
// (tzset) and must not race with a change of TZ.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airlock::schedule {

enum class Day { mon, tue, wed, thu, fri, sat, sun, every };

inline constexpr int minutes_per_day = 24 * 60;
inline constexpr int minutes_per_week = 7 * minutes_per_day;

struct Window {
  Day day = Day::every;
  int start = 0; // minutes after the day's local midnight, 0..1439
  int end = 0;   // minutes after the day's local midnight, 1..1440; at or before `start`: on the next day
  // "Sat 02:00-05:00", "daily 23:00-01:00": the canonical text, as in messages and `airlock check`.
  std::string text() const;
};

// One window, "DAY HH:MM-HH:MM" (spaces around the words are free). Throws Error(usage) naming the text and
// what is allowed for anything else: an unknown day, an hour beyond 23 (24 only as "24:00", only as an end), a
// minute beyond 59, a missing part, an empty window.
Window parse_window(std::string_view text);
// A comma-separated list of windows, the value of [schedule] window. Empty (or only spaces): no windows.
// Throws Error(usage) for the first window parse_window() refuses, and for an empty item ("Sat 02:00-05:00,").
std::vector<Window> parse_windows(std::string_view text);
// The windows joined by ", " (their text()).
std::string describe(const std::vector<Window>& windows);

// Where minute `minute_of_week` (0..minutes_per_week-1) of the local week stands. Pure.
struct Position {
  bool inside = false;
  // Inside: wall-clock minutes until the covering span ends (the first minute outside every window); nullopt
  // when the windows cover the whole week. Outside: nullopt.
  std::optional<int> minutes_to_close;
  // Wall-clock minutes (1..minutes_per_week) until the next window start that opens a span (the minute before it
  // is outside every window), and that window; nullopt when there are no windows or they cover the whole week.
  // Outside, the next start; inside, the start that follows the current span's end.
  std::optional<int> minutes_to_open;
  std::optional<Window> opening;
  std::optional<Window> current; // inside: a window that holds the minute
};
Position position(const std::vector<Window>& windows, int minute_of_week);

// The same at instant `now` (seconds since the epoch, e.g. pipeline::Context::clock()'s wall time, which the
// tests pin with AIRLOCK_NOW), with the wall-clock answers turned back into instants in the local time zone.
struct Status {
  bool configured = false; // any window at all; false: installs are not restricted (inside = true)
  bool inside = false;
  std::optional<std::int64_t> closes_at; // inside: when the span ends; nullopt: never (or no windows)
  std::optional<std::int64_t> opens_at;  // the next opening (see Position); nullopt: none
  std::optional<Window> current, opening;
};
Status status_at(const std::vector<Window>& windows, std::int64_t now);

// Instant `t` in the local time zone for messages, "Sat 2026-11-28 02:00 CET".
std::string local_text(std::int64_t t);
// Instant `t` as UTC ISO-8601, "2026-11-28T01:00:00Z" (--json; the state database's format).
std::string utc_text(std::int64_t t);

} // namespace airlock::schedule
