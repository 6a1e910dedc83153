#include "health/health.hpp"

#include "util/error.hpp"
#include "util/watchdog.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/URI.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

namespace airlock::health {
namespace {

int int_field(const json::Value& v, const char* key, int def, int lo, int hi, const std::string& what) {
  const auto* f = v.find(key);
  if (!f) return def;
  if (!f->is_int() || f->as_int() < lo || f->as_int() > hi)
    fail(ExitCode::bad_input, fmt::format("{}: health \"{}\" must be an integer {}..{}", what, key, lo, hi));
  return static_cast<int>(f->as_int());
}

std::string str_field(const json::Value& v, const char* key, const std::string& what, bool required) {
  const auto* f = v.find(key);
  if (!f) {
    if (required) fail(ExitCode::bad_input, fmt::format("{}: a health check lacks \"{}\"", what, key));
    return "";
  }
  if (!f->is_string()) fail(ExitCode::bad_input, fmt::format("{}: health \"{}\" must be a string", what, key));
  return f->as_string();
}

void only_fields(const json::Value& v, const std::set<std::string>& allowed, const std::string& what) {
  for (const auto& [k, _] : v.as_object())
    if (!allowed.count(k)) fail(ExitCode::bad_input, fmt::format("{}: unknown health field \"{}\"", what, k));
}

Check parse_check(const json::Value& v, const std::string& what) {
  if (!v.is_object()) fail(ExitCode::bad_input, what + ": each health check must be an object");
  Check c;
  const std::string type = str_field(v, "type", what, true);
  if (type == "http") {
    only_fields(v, {"type", "url", "status", "body"}, what);
    c.type = Check::Type::http;
    c.url = str_field(v, "url", what, true);
    if (c.url.rfind("http://", 0) != 0)
      fail(ExitCode::bad_input, fmt::format("{}: health url {} must start with http://", what, c.url));
    c.status = int_field(v, "status", 200, 100, 599, what);
    c.body = str_field(v, "body", what, false);
  } else if (type == "tcp") {
    only_fields(v, {"type", "host", "port"}, what);
    c.type = Check::Type::tcp;
    c.host = str_field(v, "host", what, true);
    c.port = int_field(v, "port", 0, 1, 65535, what);
    if (c.port == 0) fail(ExitCode::bad_input, what + ": a tcp health check lacks \"port\"");
  } else if (type == "containers") {
    only_fields(v, {"type"}, what);
    c.type = Check::Type::containers;
  } else {
    fail(ExitCode::bad_input,
         fmt::format("{}: unknown health check type \"{}\" (http, tcp or containers)", what, type));
  }
  return c;
}

} // namespace

std::string Check::name() const {
  switch (type) {
  case Type::http:
    return "http " + url;
  case Type::tcp:
    return fmt::format("tcp {}:{}", host, port);
  case Type::containers:
    break;
  }
  return "containers";
}

Gate parse_gate(const json::Value& health, const Gate& defaults, const std::string& what) {
  Gate g = defaults;
  g.checks.clear();
  const json::Value* list = &health;
  if (health.is_object()) {
    only_fields(health, {"checks", "timeout", "stable_window", "interval"}, what);
    g.timeout_s = int_field(health, "timeout", defaults.timeout_s, 1, 86400, what);
    g.stable_s = int_field(health, "stable_window", defaults.stable_s, 0, 3600, what);
    g.interval_s = int_field(health, "interval", defaults.interval_s, 1, 600, what);
    list = health.find("checks");
  }
  if (list && !list->is_null()) {
    if (!list->is_array()) fail(ExitCode::bad_input, what + ": health checks must be an array");
    for (const auto& c : list->as_array()) g.checks.push_back(parse_check(c, what));
  }
  if (g.checks.empty()) g.checks.push_back(Check{});
  return g;
}

Result check_http(const Check& c, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  std::unique_ptr<util::SocketWatchdog> watchdog; // declared after the session: destroyed before its socket closes
  const auto cut = [&]() -> std::optional<Result> {
    if (!watchdog || watchdog->tripped() == util::Tripped::no) return std::nullopt;
    return Result{false, false, fmt::format("no complete reply within {} ms (probe timeout)", timeout_ms)};
  };
  try {
    Poco::URI uri(c.url);
    session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    session->setTimeout(Poco::Timespan(0, timeout_ms * 1000));
    Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET,
                               uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery(),
                               Poco::Net::HTTPMessage::HTTP_1_1);
    session->sendRequest(req);
    // The receive timeout is per recv: a reply trickling in would outlast it. The watchdog bounds the whole
    // exchange (headers and body) by the probe timeout.
    watchdog = std::make_unique<util::SocketWatchdog>(static_cast<int>(session->socket().impl()->sockfd()), deadline,
                                                      util::RateFloor{});
    Poco::Net::HTTPResponse resp;
    std::istream& in = session->receiveResponse(resp);
    std::string body;
    char buf[4096];
    while (body.size() < (1u << 20) && in.read(buf, sizeof buf).gcount() > 0)
      body.append(buf, static_cast<std::size_t>(in.gcount()));
    if (auto r = cut()) return *r;
    watchdog.reset();
    const int status = static_cast<int>(resp.getStatus());
    if (status != c.status) return {false, false, fmt::format("status {} (expected {})", status, c.status)};
    if (!c.body.empty() && body.find(c.body) == std::string::npos)
      return {false, false, fmt::format("status {} but the body lacks \"{}\"", status, c.body)};
    return {true, false, fmt::format("status {}", status)};
  } catch (const Poco::Exception& e) {
    if (auto r = cut()) return *r;
    return {false, false, e.displayText()};
  } catch (const std::exception& e) {
    if (auto r = cut()) return *r;
    return {false, false, e.what()};
  }
}

Result check_tcp(const Check& c, int timeout_ms) {
  try {
    Poco::Net::StreamSocket s;
    s.connect(Poco::Net::SocketAddress(c.host, static_cast<Poco::UInt16>(c.port)),
              Poco::Timespan(0, timeout_ms * 1000));
    s.close();
    return {true, false, "connected"};
  } catch (const Poco::Exception& e) {
    return {false, false, e.displayText()};
  }
}

Outcome run_gate(const Gate& g, const std::function<Result()>& containers,
                 const std::function<void(const Check&, const Result&)>& on_change, util::Clock& clock) {
  const auto start = clock.steady();
  const auto timeout = std::chrono::seconds(g.timeout_s);
  bool stable = false; // every check has passed in each round since stable_since
  util::Clock::steady_time stable_since{};
  std::map<std::size_t, std::pair<bool, std::string>> last;
  std::string failing;
  for (;;) {
    const auto round = clock.steady();
    bool all_ok = true;
    for (std::size_t i = 0; i < g.checks.size(); ++i) {
      const auto& c = g.checks[i];
      // A probe never runs past the gate's timeout (at least 100 ms, so that a late round still probes).
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(timeout - (clock.steady() - start));
      const int probe_ms = static_cast<int>(
          std::clamp<std::int64_t>(left.count(), 100, std::max(1000, std::min(5000, g.interval_s * 1000))));
      Result r = c.type == Check::Type::http  ? check_http(c, probe_ms)
                 : c.type == Check::Type::tcp ? check_tcp(c, probe_ms)
                                              : containers();
      auto it = last.find(i);
      if (it == last.end() || it->second.first != r.ok || it->second.second != r.detail) {
        last[i] = {r.ok, r.detail};
        if (on_change) on_change(c, r);
      }
      if (!r.ok) {
        all_ok = false;
        failing = c.name() + ": " + r.detail;
        if (r.fatal)
          return {false, failing, std::chrono::duration_cast<std::chrono::milliseconds>(clock.steady() - start)};
      }
    }
    const auto now = clock.steady();
    if (all_ok) {
      if (!stable) stable_since = round;
      stable = true;
      if (now - stable_since >= std::chrono::seconds(g.stable_s))
        return {true, "", std::chrono::duration_cast<std::chrono::milliseconds>(now - start)};
    } else {
      stable = false;
    }
    if (now - start >= timeout)
      return {false,
              fmt::format("not healthy within {} s{}{}", g.timeout_s,
                          all_ok ? " (not yet stable)" : "; last failure: ", all_ok ? "" : failing),
              std::chrono::duration_cast<std::chrono::milliseconds>(now - start)};
    clock.sleep_until(round + std::chrono::seconds(g.interval_s));
  }
}

} // namespace airlock::health
