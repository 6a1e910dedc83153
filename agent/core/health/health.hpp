// The health gate (DESIGN.md pipeline step 12): after the services start, every check must pass continuously for
// a stable window before an overall timeout, or the upgrade rolls back.
//
// release.json "health" declares the checks, either as an array or as an object with settings:
//   [ {"type":"http","url":"http://127.0.0.1:8080/health","status":200,"body":"ok"},
//     {"type":"tcp","host":"127.0.0.1","port":5432},
//     {"type":"containers"} ]
//   {"checks":[...], "timeout":120, "stable_window":10, "interval":2}     (seconds; defaults from [health])
// An empty or missing list means [{"type":"containers"}]. "status" defaults to 200, "body" (a substring the
// reply must contain) to none. Only plain http:// URLs are probed (health endpoints listen on the host).
// Unknown types or fields are refused with Error(bad_input) naming the entry, so a typo cannot pass as healthy.
//
// "containers" is answered by the caller (it needs docker): every service's container is running, its restart
// count has not moved since the start, and its HEALTHCHECK is healthy where one is defined.
// Thread-safety: plain functions; run_gate blocks the calling thread.
#pragma once

#include "util/clock.hpp"
#include "util/json.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace airlock::health {

struct Check {
  enum class Type { http, tcp, containers };
  Type type = Type::containers;
  std::string url;          // http
  int status = 200;         // http: the expected status
  std::string body;         // http: a substring the body must contain; empty: any
  std::string host;         // tcp
  int port = 0;             // tcp
  std::string name() const; // "http http://...", "tcp host:port", "containers"
};

struct Gate {
  std::vector<Check> checks;
  int timeout_s = 120, stable_s = 10, interval_s = 2;
};

// Parses release.json's "health" value (see above); `defaults` supplies the settings it does not set.
Gate parse_gate(const json::Value& health, const Gate& defaults, const std::string& what);

struct Result {
  bool ok = false;
  bool fatal = false; // cannot recover within this gate (e.g. a restart count moved): fail at once
  std::string detail;
};

// One probe. check_http's `timeout_ms` bounds the whole exchange (connect, then the reply's headers and body
// together, through a util::SocketWatchdog), so a reply trickling in fails the probe at its timeout; check_tcp's
// bounds the connect.
Result check_http(const Check& c, int timeout_ms);
Result check_tcp(const Check& c, int timeout_ms);

struct Outcome {
  bool ok = false;
  std::string reason; // the failing check and its detail, when !ok
  std::chrono::milliseconds elapsed{0};
};

// Runs the gate: every interval, all checks; healthy once all have passed without a break for stable_s seconds;
// failed at the timeout (or at once on a fatal result). Each probe gets min(5 s, interval) but never more than
// what is left of the timeout (at least 100 ms). `containers` answers the "containers" checks. `on_change`
// sees each check's result whenever it differs from that check's previous one (for the log). Time is `clock`'s.
Outcome run_gate(const Gate& g, const std::function<Result()>& containers,
                 const std::function<void(const Check&, const Result&)>& on_change,
                 util::Clock& clock = util::system_clock());

} // namespace airlock::health
