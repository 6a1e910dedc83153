#include "schedule/window.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <ctime>

namespace airlock::schedule {
namespace {

constexpr std::array<const char*, 7> day_names = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

[[noreturn]] void refuse(std::string_view text, const std::string& why) {
  fail(ExitCode::usage, fmt::format("{} is not a maintenance window: {}; write DAY HH:MM-HH:MM with DAY one of Mon, "
                                    "Tue, Wed, Thu, Fri, Sat, Sun, * or daily, e.g. 'Sat 02:00-05:00' or 'Fri "
                                    "23:00-01:00' (crossing midnight)",
                                    util::quoted(text, 200, '\''), why));
}

// "HH:MM" (or "H:MM") as minutes after midnight; 24:00 only when `end`.
int parse_time(std::string_view text, std::string_view t, bool end) {
  const auto colon = t.find(':');
  auto digits = [](std::string_view d) {
    if (d.empty() || d.size() > 2) return -1;
    int v = 0;
    for (char c : d) {
      if (c < '0' || c > '9') return -1;
      v = v * 10 + (c - '0');
    }
    return v;
  };
  const int h = colon == std::string_view::npos ? -1 : digits(t.substr(0, colon));
  const int m = colon == std::string_view::npos || t.size() - colon != 3 ? -1 : digits(t.substr(colon + 1));
  if (h < 0 || m < 0) refuse(text, fmt::format("{} is not a time HH:MM", util::quoted(t, 40, '\'')));
  if (m > 59) refuse(text, fmt::format("minute {} is beyond 59", m));
  if (h == 24 && m == 0 && end) return minutes_per_day;
  if (h > 23) refuse(text, fmt::format("hour {} is beyond 23 (24:00 may only end a window)", h));
  return h * 60 + m;
}

std::string hhmm(int minutes) { return fmt::format("{:02}:{:02}", minutes / 60, minutes % 60); }

// A window's spans in minutes of the week: [first, second), first in 0..minutes_per_week-1, second after it by at
// most a day (so a span may reach past the week's end).
struct Span {
  int from, to;
  const Window* w;
};

std::vector<Span> spans_of(const std::vector<Window>& windows) {
  std::vector<Span> out;
  for (const auto& w : windows) {
    const int length = w.end > w.start ? w.end - w.start : w.end + minutes_per_day - w.start;
    for (int d = 0; d < 7; ++d)
      if (w.day == Day::every || static_cast<int>(w.day) == d)
        out.push_back({d * minutes_per_day + w.start, d * minutes_per_day + w.start + length, &w});
  }
  return out;
}

// The span holding minute `p` (0..minutes_per_week-1), counting spans that wrap past the week's end.
const Span* covering(const std::vector<Span>& spans, int p) {
  for (const auto& s : spans)
    if ((p >= s.from && p < s.to) || (p + minutes_per_week >= s.from && p + minutes_per_week < s.to)) return &s;
  return nullptr;
}

// `now`'s local wall-clock fields moved `minutes` ahead (seconds dropped), back to an instant.
std::int64_t wall_clock_ahead(const std::tm& now, int minutes) {
  std::tm t = now;
  t.tm_min += minutes;
  t.tm_sec = 0;
  t.tm_isdst = -1;
  return static_cast<std::int64_t>(std::mktime(&t));
}

std::tm broken_down(std::int64_t t, bool local) {
  const auto tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (local) {
    ::tzset();
    ::localtime_r(&tt, &tm);
  } else {
    ::gmtime_r(&tt, &tm);
  }
  return tm;
}

} // namespace

std::string Window::text() const {
  return fmt::format("{} {}-{}", day == Day::every ? "daily" : day_names[static_cast<std::size_t>(day)], hhmm(start),
                     hhmm(end));
}

Window parse_window(std::string_view untrimmed) {
  const std::string_view text = trim(untrimmed);
  const auto space = text.find_first_of(" \t");
  if (space == std::string_view::npos) refuse(text, "it needs a day and a time span");
  const std::string day = lower(text.substr(0, space));
  std::string span;
  for (char c : text.substr(space))
    if (!std::isspace(static_cast<unsigned char>(c))) span += c;
  Window w;
  if (day == "*" || day == "daily") {
    w.day = Day::every;
  } else {
    bool found = false;
    for (std::size_t d = 0; d < day_names.size(); ++d)
      if (day == lower(day_names[d])) {
        w.day = static_cast<Day>(d);
        found = true;
      }
    if (!found) refuse(text, fmt::format("{} is not a day", util::quoted(text.substr(0, space), 40, '\'')));
  }
  const auto dash = span.find('-');
  if (dash == std::string::npos) refuse(text, "the time span needs a start and an end, HH:MM-HH:MM");
  w.start = parse_time(text, std::string_view(span).substr(0, dash), false);
  w.end = parse_time(text, std::string_view(span).substr(dash + 1), true);
  if (w.start == w.end) refuse(text, "it starts and ends at the same time (for a whole day write 00:00-24:00)");
  return w;
}

std::vector<Window> parse_windows(std::string_view text) {
  std::vector<Window> out;
  if (trim(text).empty()) return out;
  for (std::size_t from = 0;;) {
    const auto comma = text.find(',', from);
    const auto item = text.substr(from, comma == std::string_view::npos ? std::string_view::npos : comma - from);
    if (trim(item).empty()) refuse(text, "an empty item in the comma-separated list");
    out.push_back(parse_window(item));
    if (comma == std::string_view::npos) return out;
    from = comma + 1;
  }
}

std::string describe(const std::vector<Window>& windows) {
  std::string out;
  for (const auto& w : windows) out += (out.empty() ? "" : ", ") + w.text();
  return out;
}

Position position(const std::vector<Window>& windows, int minute_of_week) {
  // Minute by minute through one week: at most 10080 steps over a handful of spans, exact at the minute because
  // every boundary is a whole minute.
  const auto spans = spans_of(windows);
  const int m = ((minute_of_week % minutes_per_week) + minutes_per_week) % minutes_per_week;
  auto at = [&](int ahead) { return covering(spans, (m + ahead) % minutes_per_week); };
  Position p;
  if (const Span* s = at(0)) {
    p.inside = true;
    p.current = *s->w;
    for (int d = 1; d <= minutes_per_week && !p.minutes_to_close; ++d)
      if (!at(d)) p.minutes_to_close = d;
  }
  for (int d = 1; d <= minutes_per_week; ++d)
    if (const Span* s = at(d); s && !at(d - 1)) {
      p.minutes_to_open = d;
      p.opening = *s->w;
      break;
    }
  return p;
}

Status status_at(const std::vector<Window>& windows, std::int64_t now) {
  Status st;
  st.configured = !windows.empty();
  if (!st.configured) {
    st.inside = true;
    return st;
  }
  ::tzset();
  const auto t = static_cast<std::time_t>(now);
  std::tm local{};
  ::localtime_r(&t, &local);
  const int minute = ((local.tm_wday + 6) % 7) * minutes_per_day + local.tm_hour * 60 + local.tm_min;
  const Position p = position(windows, minute);
  st.inside = p.inside;
  st.current = p.current;
  st.opening = p.opening;
  if (p.minutes_to_close) st.closes_at = wall_clock_ahead(local, *p.minutes_to_close);
  if (p.minutes_to_open) st.opens_at = wall_clock_ahead(local, *p.minutes_to_open);
  return st;
}

std::string local_text(std::int64_t t) {
  const std::tm tm = broken_down(t, true);
  char buf[64];
  return std::strftime(buf, sizeof buf, "%a %Y-%m-%d %H:%M %Z", &tm) ? buf : "";
}

std::string utc_text(std::int64_t t) {
  const std::tm tm = broken_down(t, false);
  char buf[32];
  return std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) ? buf : "";
}

} // namespace airlock::schedule
