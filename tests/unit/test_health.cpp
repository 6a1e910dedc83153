// health: parsing the gate from release.json, the http and tcp probes against real loopback sockets, and the
// gate's stable window, timeout and fail-fast rules.
#include "health/health.hpp"
#include "util/error.hpp"

#include "testutil.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace airlock;

namespace {

health::Gate defaults() {
  health::Gate g;
  g.timeout_s = 30;
  g.stable_s = 5;
  g.interval_s = 2;
  return g;
}

int refused(const std::string& text) {
  try {
    health::parse_gate(json::parse(text, "test"), defaults(), "release.json");
  } catch (const Error& e) {
    return static_cast<int>(e.code());
  }
  return 0;
}

using testutil::bind_loopback;

// A loopback HTTP server answering every request with `reply`, on an ephemeral port, until destroyed.
struct HttpServer {
  int fd = -1;
  int port = 0;
  std::atomic<bool> stop{false};
  std::thread t;
  explicit HttpServer(std::string reply) {
    fd = bind_loopback(port);
    REQUIRE(::listen(fd, 8) == 0);
    t = std::thread([this, reply] {
      while (!stop) {
        int c = ::accept(fd, nullptr, nullptr);
        if (c < 0) break;
        char buf[2048];
        (void)::read(c, buf, sizeof buf);
        (void)::write(c, reply.data(), reply.size());
        ::close(c);
      }
    });
  }
  ~HttpServer() {
    stop = true;
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    t.join();
  }
};

// A loopback HTTP server that sends `reply` one byte every `gap`, to each client in turn, until the client hangs up.
struct TricklingServer {
  int fd = -1;
  int port = 0;
  std::thread t;
  TricklingServer(std::string reply, std::chrono::milliseconds gap) {
    fd = bind_loopback(port);
    REQUIRE(::listen(fd, 8) == 0);
    t = std::thread([this, reply, gap] {
      for (;;) {
        int c = ::accept(fd, nullptr, nullptr);
        if (c < 0) break;
        char buf[2048];
        (void)::read(c, buf, sizeof buf);
        for (char ch : reply) {
          if (::send(c, &ch, 1, MSG_NOSIGNAL) != 1) break;
          std::this_thread::sleep_for(gap);
        }
        ::close(c);
      }
    });
  }
  ~TricklingServer() {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    t.join();
  }
};

} // namespace

TEST_CASE("health: parse_gate reads lists and objects, fills defaults, and refuses typos") {
  auto g = health::parse_gate(json::parse(R"([])", "t"), defaults(), "r");
  REQUIRE(g.checks.size() == 1);
  CHECK(g.checks[0].type == health::Check::Type::containers);
  CHECK(g.timeout_s == 30);

  g = health::parse_gate(json::parse(R"({"checks":[{"type":"http","url":"http://127.0.0.1:1/h","body":"ok"},
    {"type":"tcp","host":"127.0.0.1","port":5432}],"timeout":7,"stable_window":0})",
                                     "t"),
                         defaults(), "r");
  REQUIRE(g.checks.size() == 2);
  CHECK(g.checks[0].status == 200);
  CHECK(g.checks[0].body == "ok");
  CHECK(g.checks[1].name() == "tcp 127.0.0.1:5432");
  CHECK(g.timeout_s == 7);
  CHECK(g.stable_s == 0);
  CHECK(g.interval_s == 2);

  CHECK(refused(R"([{"type":"htp","url":"http://x/"}])") == 4);
  CHECK(refused(R"([{"type":"http","url":"http://x/","stauts":200}])") == 4);
  CHECK(refused(R"([{"type":"http","url":"https://x/"}])") == 4);
  CHECK(refused(R"([{"type":"tcp","host":"h"}])") == 4);
  CHECK(refused(R"([{"type":"tcp","host":"h","port":70000}])") == 4);
  CHECK(refused(R"({"checks":[],"timeout":0})") == 4);
  CHECK(refused(R"({"checks":[],"grace":3})") == 4);
  CHECK(refused(R"("containers")") == 4);
}

TEST_CASE("health: an http probe whose reply trickles in fails at its timeout") {
  // 56 bytes, one every 100 ms: every recv gets a byte well within the timeout, so only a bound on the whole
  // exchange ends the probe at 1 s (it used to pass after 5.6 s).
  TricklingServer slow("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nok 1.2.0\n",
                       std::chrono::milliseconds(100));
  health::Check c;
  c.type = health::Check::Type::http;
  c.url = "http://127.0.0.1:" + std::to_string(slow.port) + "/health";
  const auto start = std::chrono::steady_clock::now();
  const auto r = health::check_http(c, 1000);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK_FALSE(r.ok);
  CHECK(r.detail == "no complete reply within 1000 ms (probe timeout)");
  CHECK(secs < 2);
}

TEST_CASE("health: http checks the status and the body substring; tcp connects") {
  HttpServer ok("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nok 1.2.0\n");
  health::Check c;
  c.type = health::Check::Type::http;
  c.url = "http://127.0.0.1:" + std::to_string(ok.port) + "/health";
  c.body = "ok 1.2.0";
  auto r = health::check_http(c, 2000);
  CHECK_MESSAGE(r.ok, r.detail);
  c.body = "ok 1.3.0";
  r = health::check_http(c, 2000);
  CHECK_FALSE(r.ok);
  CHECK(r.detail.find("lacks \"ok 1.3.0\"") != std::string::npos);

  HttpServer bad("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfail");
  c.url = "http://127.0.0.1:" + std::to_string(bad.port) + "/health";
  c.body.clear();
  r = health::check_http(c, 2000);
  CHECK_FALSE(r.ok);
  CHECK(r.detail == "status 500 (expected 200)");

  health::Check t;
  t.type = health::Check::Type::tcp;
  t.host = "127.0.0.1";
  t.port = ok.port;
  CHECK(health::check_tcp(t, 2000).ok);
  // A port nobody listens on: bound (so no one else takes it) but never listening.
  int fd = bind_loopback(t.port);
  auto rt = health::check_tcp(t, 1000);
  CHECK_FALSE(rt.ok);
  ::close(fd);
}

TEST_CASE("health: the gate needs a stable window, times out, and fails fast on fatal results") {
  health::Gate g;
  g.checks = {health::Check{}}; // containers: answered by the callback
  g.timeout_s = 10;
  g.stable_s = 2;
  g.interval_s = 1;
  int calls = 0;
  // Fails twice, then passes: healthy after the 2 s window, i.e. about 4 s in.
  auto o = health::run_gate(g, [&] { return health::Result{++calls > 2, false, "n=" + std::to_string(calls)}; }, {});
  CHECK(o.ok);
  CHECK(calls >= 5);
  CHECK(o.elapsed.count() >= 4000);

  // Flapping (pass, fail, pass, ...) never becomes stable: fails at the timeout naming the last failure.
  g.timeout_s = 4;
  calls = 0;
  o = health::run_gate(g, [&] { return health::Result{++calls % 2 == 0, false, "flap"}; }, {});
  CHECK_FALSE(o.ok);
  CHECK(o.elapsed.count() >= 4000);

  // A fatal result ends the gate at once.
  g.timeout_s = 60;
  int changes = 0;
  o = health::run_gate(
      g,
      [&] {
        return health::Result{false, true, "service web restarted 1 time(s)"};
      },
      [&](const health::Check&, const health::Result&) { ++changes; });
  CHECK_FALSE(o.ok);
  CHECK(o.elapsed.count() < 1000);
  CHECK(o.reason == "containers: service web restarted 1 time(s)");
  CHECK(changes == 1);
}
