// The online transport against a real HTTP server that misbehaves on purpose: tests/fixtures/faultserver/
// faultserver.py, started on a free loopback port for each test. Every test asserts the bytes on disk, the
// error, and what the server's request log says went over the wire.
// Addresses are numeric (127.0.0.1): the test binary is static, and name lookup needs NSS at run time.
#include "bundle/container.hpp"
#include "config/config.hpp"
#include "net/download.hpp"
#include "net/http.hpp"
#include "net/repository.hpp"
#include "publish/builder.hpp"
#include "repo/repository.hpp"
#include "state/db.hpp"
#include "trust/client.hpp"
#include "trust/keys.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"
#include "util/json.hpp"

#include "canned_server.hpp"
#include "testutil.hpp"
#include <doctest/doctest.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <netinet/in.h>
#include <optional>
#include <random>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace airlock;
using net::Client;
using net::Downloader;
using net::NetError;
using net::Settings;
using net::Target;
using std::chrono::milliseconds;

namespace {

using Clock = std::chrono::steady_clock;

struct LogEntry {
  std::string path, file, range, if_range, fault, error;
  int seq = 0, status = 0;
  std::uint64_t bytes_sent = 0;
};

// faultserver.py as a child process, stopped (SIGTERM) by the destructor.
class FaultServer {
public:
  explicit FaultServer(const std::string& root, const std::string& work, const std::vector<std::string>& extra = {}) {
    static int n = 0;
    const std::string tag = std::to_string(++n);
    const std::string port_file = work + "/port-" + tag;
    log_file_ = work + "/requests-" + tag + ".jsonl";
    std::vector<std::string> args = {"python3",     AIRLOCK_SOURCE_DIR "/tests/fixtures/faultserver/faultserver.py",
                                     "--root",      root,
                                     "--port-file", port_file,
                                     "--log",       log_file_};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execvp("python3", argv.data());
      ::_exit(127);
    }
    REQUIRE(pid_ > 0);
    for (int i = 0; i < 200 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(milliseconds(50));
    REQUIRE_MESSAGE(fs::exists(port_file), "faultserver did not start");
    port_ = std::stoi(testutil::read_file(port_file));
  }
  ~FaultServer() { stop(); }
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  int port() const { return port_; }
  std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  // Adds a rule through /__fault, e.g. fault("mode=drop-at&n=1000&count=1").
  void fault(const std::string& query) { control("/__fault?" + query); }
  // Every request logged so far (waits until none is in flight), then forgets them.
  std::vector<LogEntry> log() { return parse(control("/__log?clear=1")); }
  // The log file as written so far (for TLS servers, whose control endpoint would need TLS).
  std::vector<LogEntry> log_file() const { return parse(testutil::read_file(log_file_)); }

private:
  std::string control(const std::string& target) {
    Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port_));
    s.setTimeout(Poco::Timespan(20, 0));
    Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, target, Poco::Net::HTTPMessage::HTTP_1_1);
    s.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::istream& in = s.receiveResponse(resp);
    std::string body((std::istreambuf_iterator<char>(in)), {});
    REQUIRE_MESSAGE(resp.getStatus() == Poco::Net::HTTPResponse::HTTP_OK, target << ": " << body);
    return body;
  }
  static std::vector<LogEntry> parse(const std::string& text) {
    std::vector<LogEntry> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      const std::string line = text.substr(pos, nl - pos);
      pos = nl + 1;
      if (line.empty()) continue;
      const auto v = json::parse(line, "faultserver log");
      LogEntry e;
      e.path = v.find("path")->as_string();
      e.file = v.find("file")->as_string();
      e.range = v.find("range")->as_string();
      e.if_range = v.find("if_range")->as_string();
      e.fault = v.find("fault")->as_string();
      e.error = v.find("error")->as_string();
      e.seq = static_cast<int>(v.find("seq")->as_int());
      e.status = static_cast<int>(v.find("status")->as_int());
      e.bytes_sent = static_cast<std::uint64_t>(v.find("bytes_sent")->as_int());
      out.push_back(e);
    }
    // Entries are written when a request ends; order them by when each began.
    std::sort(out.begin(), out.end(), [](const LogEntry& a, const LogEntry& b) { return a.seq < b.seq; });
    return out;
  }

  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_file_;
};

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::uint64_t sent(const std::vector<LogEntry>& log) {
  std::uint64_t n = 0;
  for (const auto& e : log) n += e.bytes_sent;
  return n;
}

// Settings for tests: short timeouts and backoffs, no system CA store needed.
Settings fast(std::vector<std::string> mirrors) {
  Settings s;
  s.mirrors = std::move(mirrors);
  s.connect_timeout = milliseconds(3000);
  s.stall_timeout = milliseconds(3000);
  s.retry.max_attempts = 4;
  s.retry.backoff_initial = milliseconds(20);
  s.retry.backoff_max = milliseconds(200);
  s.retry.deadline = milliseconds(60000);
  return s;
}

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int dead_port() {
  int port = 0;
  ::close(testutil::bind_loopback(port));
  return port;
}

using testutil::error_of;

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

// A served directory, a downloads directory and a state database in one temp dir, plus one target file.
struct Env {
  testutil::TempDir tmp;
  std::string root = tmp / "www", work = tmp / "work", dl = tmp / "downloads", state_dir = tmp / "state";
  std::string data = random_bytes(2 * 1024 * 1024 + 123, 1);
  std::string sha = util::sha256_hex(data);
  Env() {
    for (const auto& d : {root, work, dl, state_dir}) fs::create_directories(d);
    testutil::write_file(root + "/t.bin", data);
  }
  Target target(const std::vector<std::string>& urls) const { return Target{"t.bin", urls, data.size(), sha}; }
  std::string final_path() const { return dl + "/" + sha; }
  std::string partial_path() const { return dl + "/" + sha + ".partial"; }
};

constexpr std::uint64_t cut = 700000; // where faults cut the 2 MiB target

} // namespace

TEST_CASE("net::Downloader fetches a target, hashing it as it streams") {
  Env e;
  FaultServer srv(e.root, e.work);
  state::StateDb db(e.state_dir);
  Client c(fast({srv.url()}));
  Downloader d(c, db);
  const std::string path = d.fetch(e.target({srv.url("/t.bin")}), e.dl);
  CHECK(path == e.final_path());
  CHECK(testutil::read_file(path) == e.data);
  CHECK(!fs::exists(e.partial_path()));
  CHECK(!db.download_get(e.sha));
  const auto log = srv.log();
  REQUIRE(log.size() == 1);
  CHECK(log[0].status == 200);
  CHECK(log[0].range.empty());
  CHECK(log[0].bytes_sent == e.data.size());
  CHECK(d.stats().wire_bytes == e.data.size());
  CHECK(d.stats().requests == 1);
  CHECK(d.stats().failures == 0);
  CHECK(d.stats().restarts == 0);
}

TEST_CASE("net::Downloader never resumes into a partial file that is a symlink or has a second link") {
  for (bool soft : {true, false}) {
    CAPTURE(soft);
    Env e;
    FaultServer srv(e.root, e.work);
    state::StateDb db(e.state_dir);
    Client c(fast({srv.url()}));
    Downloader d(c, db);
    const std::string victim = e.work + "/victim";
    testutil::write_file(victim, "keep me\n");
    soft ? fs::create_symlink(victim, e.partial_path()) : fs::create_hard_link(victim, e.partial_path());
    auto err = testutil::error_of([&] { d.fetch(e.target({srv.url("/t.bin")}), e.dl); });
    CHECK(err.code() == ExitCode::failure);
    CHECK(std::string(err.what()).find(e.partial_path()) != std::string::npos);
    CHECK(testutil::read_file(victim) == "keep me\n");
    CHECK(srv.log().empty()); // refused before a request was made
  }
}

TEST_CASE("net::Downloader resumes with Range and If-Range after the connection drops at byte N") {
  Env e;
  FaultServer srv(e.root, e.work);
  srv.fault("mode=drop-at&n=" + std::to_string(cut) + "&count=1");
  state::StateDb db(e.state_dir);
  Client c(fast({srv.url()}));
  Downloader d(c, db);
  CHECK(d.fetch(e.target({srv.url("/t.bin")}), e.dl) == e.final_path());
  CHECK(testutil::read_file(e.final_path()) == e.data);
  const auto log = srv.log();
  REQUIRE(log.size() == 2);
  CHECK(log[0].status == 200);
  CHECK(log[0].bytes_sent == cut);
  CHECK(log[1].status == 206);
  CHECK(log[1].range == "bytes=" + std::to_string(cut) + "-");
  CHECK(log[1].if_range.rfind("\"", 0) == 0); // the strong ETag of the first reply
  CHECK(sent(log) == e.data.size());          // not one byte twice
  CHECK(d.stats().wire_bytes == e.data.size());
  CHECK(d.stats().failures == 1);
  CHECK(d.stats().restarts == 0);
}

TEST_CASE("net::Downloader resumes in a new process from the partial file and its state row") {
  Env e;
  FaultServer srv(e.root, e.work);
  srv.fault("mode=drop-at&n=" + std::to_string(cut) + "&count=1");
  const Target t = e.target({srv.url("/t.bin")});
  {
    state::StateDb db(e.state_dir);
    Settings s = fast({srv.url()});
    s.retry.max_attempts = 1; // the first run gives up after the drop, as a killed run would stop
    Client c(s);
    Downloader d(c, db);
    const Error err = error_of([&] { d.fetch(t, e.dl); });
    CHECK(err.code() == ExitCode::failure);
    CHECK(contains(err.what(), "the next run resumes it"));
    CHECK(fs::file_size(e.partial_path()) == cut);
    const auto row = db.download_get(e.sha);
    REQUIRE(row);
    CHECK(row->url == t.urls[0]);
    CHECK(row->path == e.partial_path());
    CHECK(row->expected_length == static_cast<std::int64_t>(e.data.size()));
    CHECK(row->bytes_done == static_cast<std::int64_t>(cut));
    CHECK(!row->etag.empty());
    CHECK(!row->last_modified.empty());
  }
  state::StateDb db(e.state_dir); // a fresh run: new database handle, client and downloader
  Client c(fast({srv.url()}));
  Downloader d(c, db);
  CHECK(d.fetch(t, e.dl) == e.final_path());
  CHECK(testutil::read_file(e.final_path()) == e.data);
  CHECK(d.stats().resumed_at == cut);
  CHECK(d.stats().wire_bytes == e.data.size() - cut);
  CHECK(!db.download_get(e.sha));
  const auto log = srv.log();
  REQUIRE(log.size() == 2);
  CHECK(log[1].range == "bytes=" + std::to_string(cut) + "-");
  CHECK(!log[1].if_range.empty());
  CHECK(log[1].status == 206);
  CHECK(sent(log) == e.data.size());
}

TEST_CASE("net::Downloader killed with SIGKILL mid-download resumes: at most the file plus one window") {
  Env e;
  FaultServer srv(e.root, e.work);
  srv.fault("mode=slow&n=512&count=1"); // 512 KiB/s: about 4 s for the whole file
  const Target t = e.target({srv.url("/t.bin")});
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      state::StateDb db(e.state_dir);
      Client c(fast({srv.url()}));
      Downloader d(c, db);
      d.fetch(t, e.dl);
    } catch (...) {
    }
    ::_exit(0);
  }
  REQUIRE(child > 0);
  auto partial_size = [&] {
    std::error_code ec;
    const auto n = fs::file_size(e.partial_path(), ec);
    return ec ? 0 : n;
  };
  for (int i = 0; i < 1000 && partial_size() < 600000; ++i) std::this_thread::sleep_for(milliseconds(10));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  const std::uint64_t kept = fs::file_size(e.partial_path());
  CHECK(kept >= 600000);
  CHECK(kept < e.data.size());

  state::StateDb db(e.state_dir);
  Client c(fast({srv.url()}));
  Downloader d(c, db);
  CHECK(d.fetch(t, e.dl) == e.final_path());
  CHECK(testutil::read_file(e.final_path()) == e.data);
  CHECK(d.stats().resumed_at == kept);
  const auto log = srv.log();
  REQUIRE(log.size() == 2);
  CHECK(log[1].range == "bytes=" + std::to_string(kept) + "-");
  CHECK(log[1].bytes_sent == e.data.size() - kept);
  // What the killed run received but had not written yet is the only waste: at most one read buffer.
  CHECK(sent(log) <= e.data.size() + 256 * 1024);
}

TEST_CASE("net::Downloader starts again at 0 when a 206 Content-Range does not start where it asked") {
  Env e;
  FaultServer srv(e.root, e.work);
  srv.fault("mode=drop-at&n=" + std::to_string(cut) + "&count=1");
  srv.fault("mode=bad-range&n=1000&count=1");
  state::StateDb db(e.state_dir);
  Client c(fast({srv.url()}));
  Downloader d(c, db);
  CHECK(d.fetch(e.target({srv.url("/t.bin")}), e.dl) == e.final_path());
  CHECK(testutil::read_file(e.final_path()) == e.data);
  const auto log = srv.log();
  REQUIRE(log.size() == 3);
  CHECK(log[1].status == 206);
  CHECK(log[1].fault == "bad-range=1000");
  CHECK(log[2].status == 200);
  CHECK(log[2].range.empty());
  CHECK(log[2].bytes_sent == e.data.size());
  CHECK(d.stats().restarts == 1);
}

TEST_CASE("net::Downloader takes a 200 to a Range request as a clean restart: nothing is spliced") {
  Env e;
  FaultServer srv(e.root, e.work);
  srv.fault("mode=drop-at&n=" + std::to_string(cut) + "&count=1");
  srv.fault("mode=ignore-range&count=1");
  state::StateDb db(e.state_dir);
  Client c(fast({srv.url()}));
  Downloader d(c, db);
  CHECK(d.fetch(e.target({srv.url("/t.bin")}), e.dl) == e.final_path());
  CHECK(testutil::read_file(e.final_path()) == e.data);
  const auto log = srv.log();
  REQUIRE(log.size() == 2);
  CHECK(log[1].range == "bytes=" + std::to_string(cut) + "-");
  CHECK(log[1].status == 200);
  CHECK(log[1].bytes_sent == e.data.size());
  CHECK(d.stats().restarts == 1);
  CHECK(d.stats().wire_bytes == cut + e.data.size());
}

TEST_CASE("net::Downloader never splices a file that changed between attempts (If-Range, new ETag)") {
  Env e;
  const std::string changed = random_bytes(e.data.size(), 2); // same length, other bytes
  testutil::write_file(e.root + "/new.bin", changed);
  FaultServer srv(e.root, e.work);
  srv.fault("mode=drop-at&n=" + std::to_string(cut) + "&count=1"); // the old file, cut
  srv.fault("mode=swap&file=new.bin");                             // then the new file at the same URL
  state::StateDb db(e.state_dir);
  Client c(fast({srv.url()}));
  Downloader d(c, db);

  SUBCASE("the signed metadata names the new file: it is taken whole") {
    Target t = e.target({srv.url("/t.bin")});
    t.sha256 = util::sha256_hex(changed);
    CHECK(d.fetch(t, e.dl) == e.dl + "/" + t.sha256);
    CHECK(testutil::read_file(e.dl + "/" + t.sha256) == changed);
    const auto log = srv.log();
    REQUIRE(log.size() == 2);
    CHECK(log[0].file == "t.bin");
    CHECK(log[1].file == "new.bin");
    CHECK(!log[1].if_range.empty()); // the old ETag: the server answered 200 with the new file
    CHECK(log[1].status == 200);
    CHECK(d.stats().restarts == 1);
  }
  SUBCASE("the signed metadata names the old file: the new one fails verification twice") {
    const Error err = error_of([&] { d.fetch(e.target({srv.url("/t.bin")}), e.dl); });
    CHECK(err.code() == ExitCode::verify_failed);
    CHECK(contains(err.what(), e.sha));
    CHECK(contains(err.what(), util::sha256_hex(changed)));
    CHECK(!fs::exists(e.final_path()));
    CHECK(!fs::exists(e.partial_path()));
    CHECK(!db.download_get(e.sha));
    const auto log = srv.log();
    REQUIRE(log.size() == 3); // cut, whole new file (mismatch), once more (mismatch)
    CHECK(log[2].range.empty());
  }
}

TEST_CASE("net::Downloader retries HTTP 500 and a slow 503, then succeeds") {
  Env e;
  FaultServer srv(e.root, e.work);
  srv.fault("mode=status&n=500&count=1");
  srv.fault("mode=status&n=503&delay=0.3&count=1");
  state::StateDb db(e.state_dir);
  Client c(fast({srv.url()}));
  Downloader d(c, db);
  CHECK(d.fetch(e.target({srv.url("/t.bin")}), e.dl) == e.final_path());
  CHECK(testutil::read_file(e.final_path()) == e.data);
  const auto log = srv.log();
  REQUIRE(log.size() == 3);
  CHECK(log[0].status == 500);
  CHECK(log[1].status == 503);
  CHECK(log[2].status == 200);
  CHECK(log[2].bytes_sent == e.data.size());
  CHECK(d.stats().failures == 2);
}

TEST_CASE("net::Downloader gives up after max_attempts server errors and keeps nothing it did not verify") {
  Env e;
  FaultServer srv(e.root, e.work);
  srv.fault("mode=status&n=503");
  state::StateDb db(e.state_dir);
  Settings s = fast({srv.url()});
  s.retry.max_attempts = 3;
  Client c(s);
  Downloader d(c, db);
  const Error err = error_of([&] { d.fetch(e.target({srv.url("/t.bin")}), e.dl); });
  CHECK(err.code() == ExitCode::failure);
  CHECK(contains(err.what(), "HTTP 503"));
  CHECK(contains(err.what(), "3 attempt(s)"));
  CHECK(!fs::exists(e.final_path()));
  CHECK(srv.log().size() == 3);
}

TEST_CASE("net::Downloader times out a stalled transfer and resumes it") {
  Env e;
  FaultServer srv(e.root, e.work);
  srv.fault("mode=stall&n=30&after=" + std::to_string(cut) + "&count=1");
  state::StateDb db(e.state_dir);
  Settings s = fast({srv.url()});
  s.stall_timeout = milliseconds(700);
  Client c(s);
  Downloader d(c, db);
  const auto start = Clock::now();
  CHECK(d.fetch(e.target({srv.url("/t.bin")}), e.dl) == e.final_path());
  CHECK(Clock::now() - start < std::chrono::seconds(10));
  CHECK(testutil::read_file(e.final_path()) == e.data);
  const auto log = srv.log();
  REQUIRE(log.size() == 2);
  CHECK(contains(log[0].error, "stalled"));
  CHECK(log[0].bytes_sent == cut);
  CHECK(log[1].range == "bytes=" + std::to_string(cut) + "-");
  CHECK(sent(log) == e.data.size());
  CHECK(d.stats().failures == 1);
}

TEST_CASE("net::Client::get_small retries a reply whose body never starts (headers, then a stall)") {
  Env e;
  testutil::write_file(e.root + "/m.json", "{\"fresh\":1}");
  FaultServer srv(e.root, e.work);
  srv.fault("mode=stall&n=30&count=1");
  Settings s = fast({srv.url()});
  s.stall_timeout = milliseconds(500);
  net::TransferStats st;
  CHECK(Client(s).get_small("m.json", 1024, &st) == std::string("{\"fresh\":1}"));
  CHECK(st.failures == 1);
  const auto log = srv.log();
  REQUIRE(log.size() == 2);
  CHECK(log[0].status == 200);
  CHECK(log[0].bytes_sent == 0);
  CHECK(contains(log[0].error, "stalled"));
}

TEST_CASE("net::Downloader reports a target that no mirror has as not_found") {
  Env e;
  FaultServer srv(e.root, e.work);
  state::StateDb db(e.state_dir);
  Client c(fast({srv.url()}));
  Downloader d(c, db);
  const Error err = error_of([&] { d.fetch(e.target({srv.url("/a/t.bin"), srv.url("/b/t.bin")}), e.dl); });
  CHECK(err.code() == ExitCode::not_found);
  CHECK(contains(err.what(), "not found on any mirror"));
  CHECK(srv.log().size() == 2); // one request per mirror, no retries
}

TEST_CASE("net::Client::get_small refuses endless and oversized metadata") {
  Env e;
  testutil::write_file(e.root + "/m.json", std::string(1000, 'm'));
  FaultServer srv(e.root, e.work);
  net::TransferStats st;

  SUBCASE("a body without Content-Length that never ends") {
    Client c(fast({srv.url("/__f/endless")}));
    const Error err = error_of([&] { c.get_small("m.json", 16384, &st); });
    CHECK(err.code() == ExitCode::verify_failed);
    CHECK(contains(err.what(), "endless"));
    CHECK(st.wire_bytes <= 2 * 16384);
    CHECK(srv.log().size() == 1); // refused, not retried
  }
  SUBCASE("a Content-Length above the limit is refused before the body is read") {
    Client c(fast({srv.url("/__f/pad=100000")}));
    const Error err = error_of([&] { c.get_small("m.json", 16384, &st); });
    CHECK(err.code() == ExitCode::verify_failed);
    CHECK(contains(err.what(), "101000"));
    CHECK(st.wire_bytes == 0);
  }
  SUBCASE("within the limit it is returned whole") {
    Client c(fast({srv.url()}));
    CHECK(c.get_small("m.json", 1000, &st) == std::string(1000, 'm'));
  }
}

TEST_CASE("net::Downloader refuses a target longer than the signed length and never writes beyond it") {
  Env e;
  FaultServer srv(e.root, e.work);
  state::StateDb db(e.state_dir);
  Client c(fast({srv.url()}));
  Downloader d(c, db);
  SUBCASE("announced by Content-Length") {
    const Error err = error_of([&] { d.fetch(e.target({srv.url("/__f/pad=10/t.bin")}), e.dl); });
    CHECK(err.code() == ExitCode::verify_failed);
    CHECK(d.stats().wire_bytes == 0);
    CHECK(srv.log().size() == 2);
  }
  SUBCASE("sent without Content-Length") {
    const Error err = error_of([&] { d.fetch(e.target({srv.url("/__f/endless/t.bin")}), e.dl); });
    CHECK(err.code() == ExitCode::verify_failed);
    CHECK(contains(err.what(), "more than"));
    CHECK(d.stats().wire_bytes <= 2 * (e.data.size() + 256 * 1024));
  }
  CHECK(!fs::exists(e.final_path()));
  CHECK(!fs::exists(e.partial_path()));
  CHECK(!db.download_get(e.sha));
}

TEST_CASE("net: a dead first mirror (connection refused) hands over to the second at once") {
  Env e;
  fs::create_directories(e.root + "/metadata");
  testutil::write_file(e.root + "/metadata/timestamp.json", "{\"ts\":1}");
  FaultServer srv(e.root, e.work);
  const std::string dead = "http://127.0.0.1:" + std::to_string(dead_port());
  Settings s = fast({dead, srv.url()});
  s.retry.backoff_initial = milliseconds(5000); // a wait would show in the elapsed time
  const auto start = Clock::now();

  net::HttpRepository repo(s);
  CHECK(repo.fetch("timestamp.json", 1024) == std::string("{\"ts\":1}"));
  CHECK(repo.last_stats().requests == 2);
  CHECK(repo.last_stats().failures == 1);

  state::StateDb db(e.state_dir);
  Downloader d(repo.client(), db);
  CHECK(d.fetch(e.target({dead + "/t.bin", srv.url("/t.bin")}), e.dl) == e.final_path());
  CHECK(testutil::read_file(e.final_path()) == e.data);
  CHECK(Clock::now() - start < std::chrono::seconds(3));
  const auto log = srv.log();
  REQUIRE(log.size() == 2);
  CHECK(log[0].path == "/metadata/timestamp.json");
  CHECK(log[1].bytes_sent == e.data.size());
}

TEST_CASE("net::Downloader on a hash mismatch downloads once more from the next mirror, then fails clearly") {
  Env e;
  FaultServer srv(e.root, e.work);
  state::StateDb db(e.state_dir);
  Client c(fast({srv.url()}));
  Downloader d(c, db);
  SUBCASE("the second mirror serves the signed file") {
    CHECK(d.fetch(e.target({srv.url("/__f/corrupt/t.bin"), srv.url("/t.bin")}), e.dl) == e.final_path());
    CHECK(testutil::read_file(e.final_path()) == e.data);
    const auto log = srv.log();
    REQUIRE(log.size() == 2);
    CHECK(log[0].fault == "corrupt");
    CHECK(log[1].fault.empty());
    CHECK(log[1].range.empty()); // the corrupt bytes were not kept as a prefix
  }
  SUBCASE("both mirrors serve a corrupt file") {
    const Target t = e.target({srv.url("/__f/corrupt/t.bin"), srv.url("/__f/corrupt=5/t.bin")});
    const Error err = error_of([&] { d.fetch(t, e.dl); });
    CHECK(err.code() == ExitCode::verify_failed);
    CHECK(contains(err.what(), t.urls[0]));
    CHECK(contains(err.what(), t.urls[1]));
    CHECK(contains(err.what(), "check the repository"));
    CHECK(srv.log().size() == 2);
    CHECK(fs::is_empty(e.dl));
    CHECK(!db.download_get(e.sha));
  }
}

TEST_CASE("net::Downloader returns a target already present without a request") {
  Env e;
  FaultServer srv(e.root, e.work);
  state::StateDb db(e.state_dir);
  Client c(fast({srv.url()}));
  Downloader d(c, db);
  SUBCASE("a verified file") {
    testutil::write_file(e.final_path(), e.data);
    CHECK(d.fetch(e.target({srv.url("/t.bin")}), e.dl) == e.final_path());
    CHECK(d.stats().requests == 0);
    CHECK(srv.log().empty());
  }
  SUBCASE("a file of the right size but wrong bytes is replaced") {
    testutil::write_file(e.final_path(), std::string(e.data.size(), 'x'));
    CHECK(d.fetch(e.target({srv.url("/t.bin")}), e.dl) == e.final_path());
    CHECK(testutil::read_file(e.final_path()) == e.data);
    CHECK(srv.log().size() == 1);
  }
  SUBCASE("a complete partial file with its row is verified and renamed without a request") {
    testutil::write_file(e.partial_path(), e.data);
    db.download_put({srv.url("/t.bin"), e.partial_path(), static_cast<std::int64_t>(e.data.size()), e.sha,
                     static_cast<std::int64_t>(e.data.size()), "\"x\"", "", ""});
    CHECK(d.fetch(e.target({srv.url("/t.bin")}), e.dl) == e.final_path());
    CHECK(testutil::read_file(e.final_path()) == e.data);
    CHECK(srv.log().empty());
  }
  SUBCASE("a partial file without a row is discarded") {
    testutil::write_file(e.partial_path(), "bytes of unknown origin");
    CHECK(d.fetch(e.target({srv.url("/t.bin")}), e.dl) == e.final_path());
    CHECK(testutil::read_file(e.final_path()) == e.data);
    const auto log = srv.log();
    REQUIRE(log.size() == 1);
    CHECK(log[0].range.empty());
  }
}

TEST_CASE("net::Client::get_small: 404 on every mirror is nullopt; a 404 on the first asks the second") {
  Env e;
  fs::create_directories(e.root + "/b");
  testutil::write_file(e.root + "/b/x.json", "{}");
  FaultServer srv(e.root, e.work);
  Client c(fast({srv.url("/a"), srv.url("/b")}));
  CHECK(c.get_small("x.json", 100) == std::string("{}"));
  auto log = srv.log();
  REQUIRE(log.size() == 2);
  CHECK(log[0].status == 404);
  CHECK(log[1].status == 200);
  CHECK(!c.get_small("missing.json", 100));
  CHECK(srv.log().size() == 2);
  Client one(fast({srv.url("/b")}));
  CHECK(!one.get_small("missing.json", 100));
  CHECK(srv.log().size() == 1);
}

TEST_CASE("net::HttpRepository serves trust::refresh and downloads targets at their consistent paths") {
  testutil::TempDir tmp;
  const std::string repo_dir = tmp / "repo", work = tmp / "work", dl = tmp / "downloads";
  fs::create_directories(work);
  constexpr std::int64_t t0 = 1893456000;
  const std::vector<std::string> keys = {tmp / "root.pem", tmp / "targets.pem", tmp / "snapshot.pem",
                                         tmp / "timestamp.pem"};
  for (const auto& k : keys) trust::generate_key(k);
  bundle_tool::KeyRing ring;
  ring.load(keys);
  auto pub = [](const std::string& pem) { return trust::public_key_from_pem(util::read_file(pem, 65536), pem); };
  bundle_tool::InitOptions o;
  o.app = "demo";
  o.root_keys = {pub(keys[0])};
  o.targets_key = pub(keys[1]);
  o.snapshot_key = pub(keys[2]);
  o.timestamp_key = pub(keys[3]);
  bundle_tool::Repository::init(repo_dir, o, ring, t0);
  const std::string src = tmp / "src";
  fs::create_directories(src);
  testutil::write_file(src + "/docker-compose.yml", "version: \"2.4\"\nservices: {}\n");
  testutil::write_file(src + "/app.txt", random_bytes(300000, 3));
  testutil::write_file(src + "/airlock-release.json", R"({"version": "1.0.0"})");
  {
    bundle_tool::Repository repo(repo_dir);
    bundle_tool::add_release(repo, {src, "x86_64", {}, {}, {}}, ring, t0);
  }

  FaultServer srv(repo_dir, work);
  net::HttpRepository repo(fast({srv.url()}));
  CHECK(repo.describe() == "repository " + srv.url());
  CHECK(repo.target_files().empty());
  CHECK(repo.open("targets/x") == nullptr);
  CHECK(!repo.is_bundle());
  auto st = trust::TrustedState::from_root(util::read_file(repo_dir + "/metadata/1.root.json", 1 << 20), "root");
  trust::refresh(st, repo, {t0 + 86400});
  REQUIRE(st.targets);
  REQUIRE(st.targets->meta.targets.size() == 2);
  auto log = srv.log();
  auto status_of = [&](const std::string& path) {
    for (const auto& l : log)
      if (l.path == path) return l.status;
    return 0;
  };
  CHECK(status_of("/metadata/2.root.json") == 404); // the root chain ends at version 1
  CHECK(status_of("/metadata/timestamp.json") == 200);

  fs::create_directories(tmp / "state");
  state::StateDb db(tmp / "state");
  for (const auto& [name, t] : st.targets->meta.targets) {
    const std::string path = repo.download_target(t, dl, db);
    CHECK(path == dl + "/" + t.sha256);
    CHECK(util::sha256_file_hex(path) == t.sha256);
    CHECK(repo.last_stats().wire_bytes == t.length);
    log = srv.log();
    REQUIRE(log.size() == 1);
    CHECK(log[0].path == "/" + bundle::target_path(t));
    CHECK(testutil::read_file(path) == testutil::read_file(repo_dir + "/" + bundle::target_path(t)));
  }
}

TEST_CASE("net: proxies from the config and the environment, NO_PROXY, and a real plain-HTTP proxy") {
  net::Proxy p{"http://p.example:3128", "http://q.example:8080", "localhost, .corp.example,intra.example,10.0.0.1"};
  CHECK(net::proxy_for(p, "http://repo.example/x") == "http://p.example:3128");
  CHECK(net::proxy_for(p, "https://repo.example/x") == "http://q.example:8080");
  CHECK(net::proxy_for(p, "http://localhost:8080/x").empty());
  CHECK(net::proxy_for(p, "http://a.corp.example/x").empty());
  CHECK(net::proxy_for(p, "http://corp.example/x").empty());
  CHECK(net::proxy_for(p, "http://b.intra.example/x").empty());
  CHECK(net::proxy_for(p, "http://notintra.example/x") == "http://p.example:3128");
  CHECK(net::proxy_for(p, "http://10.0.0.1/x").empty());
  CHECK(net::proxy_for({"http://p:1", "", "*"}, "http://anything/x").empty());
  CHECK(net::proxy_for({"", "http://q:1", ""}, "http://anything/x").empty());

  struct SavedEnv {
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    void set(const std::string& k, const char* v) {
      const char* old = std::getenv(k.c_str());
      saved.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
      v ? ::setenv(k.c_str(), v, 1) : ::unsetenv(k.c_str());
    }
    ~SavedEnv() {
      for (auto it = saved.rbegin(); it != saved.rend(); ++it)
        it->second ? ::setenv(it->first.c_str(), it->second->c_str(), 1) : ::unsetenv(it->first.c_str());
    }
  } env;
  env.set("http_proxy", nullptr);
  env.set("HTTP_PROXY", "http://upper:1");
  env.set("https_proxy", "http://lower:2");
  env.set("HTTPS_PROXY", "http://upper:2");
  env.set("no_proxy", nullptr);
  env.set("NO_PROXY", "internal.example");
  const net::Proxy from_env = net::proxy_from_environment();
  CHECK(from_env.http == "http://upper:1");
  CHECK(from_env.https == "http://lower:2");
  CHECK(from_env.no_proxy == "internal.example");
  config::Config cfg;
  cfg.repository_urls = {"https://repo.example/r"};
  cfg.stall_timeout_s = 7;
  CHECK(net::settings_from_config(cfg).proxy.https == "http://lower:2");
  CHECK(net::settings_from_config(cfg).stall_timeout == milliseconds(7000));
  cfg.proxy = "http://configured:3";
  const Settings s = net::settings_from_config(cfg);
  CHECK(s.proxy.http == "http://configured:3");
  CHECK(s.proxy.https == "http://configured:3");
  CHECK(s.proxy.no_proxy == "internal.example");

  // faultserver answers an absolute-form request ("GET http://host/path") with its own file: a proxy in effect.
  // The repository host name is never looked up by the client; only the proxy's address is used.
  Env e;
  fs::create_directories(e.root + "/repo/metadata");
  testutil::write_file(e.root + "/repo/metadata/timestamp.json", "{\"via\":\"proxy\"}");
  FaultServer proxy(e.root, e.work);
  Settings ps = fast({"http://airlock-repo.invalid/repo"});
  ps.proxy.http = proxy.url();
  net::HttpRepository repo(ps);
  CHECK(repo.fetch("timestamp.json", 1024) == std::string("{\"via\":\"proxy\"}"));
  const auto log = proxy.log();
  REQUIRE(log.size() == 1);
  CHECK(log[0].path.rfind("http://airlock-repo.invalid", 0) == 0); // absolute-form (Poco adds ":80")
  CHECK(contains(log[0].path, "/repo/metadata/timestamp.json"));
  // NO_PROXY: the same request goes direct, here to a port where nothing listens.
  Settings bypassed = fast({"http://127.0.0.1:" + std::to_string(dead_port()) + "/repo"});
  bypassed.proxy = {proxy.url(), "", "127.0.0.1"};
  bypassed.retry.max_attempts = 1;
  const Error err = error_of([&] { net::HttpRepository(bypassed).fetch("timestamp.json", 1024); });
  CHECK(contains(err.what(), "cannot connect"));
  CHECK(proxy.log().empty());
  bypassed.proxy.no_proxy.clear(); // without NO_PROXY the proxy answers for the dead address
  CHECK(net::HttpRepository(bypassed).fetch("timestamp.json", 1024) == std::string("{\"via\":\"proxy\"}"));
  CHECK(proxy.log().size() == 1);
}

TEST_CASE("net: the bandwidth limit holds a transfer to its rate") {
  Env e;
  testutil::write_file(e.root + "/small.bin", e.data.substr(0, 300 * 1024));
  FaultServer srv(e.root, e.work);
  Settings s = fast({srv.url()});
  s.bandwidth_limit_kib = 200;
  Client c(s);
  const auto start = Clock::now();
  CHECK(c.get_small("small.bin", 1 << 20) == e.data.substr(0, 300 * 1024));
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  CHECK(secs >= 1.3); // 300 KiB at 200 KiB/s: 1.5 s
  CHECK(secs < 5);
}

TEST_CASE("net::Attempts: connect failures rotate mirrors at once, others back off, progress resets the count") {
  net::RetryPolicy p;
  p.max_attempts = 2;
  p.backoff_initial = milliseconds(50);
  p.backoff_max = milliseconds(80);
  p.deadline = milliseconds(10000);
  const NetError connect(net::Failure::connect, "refused"), transfer(net::Failure::transfer, "cut"),
      refused(net::Failure::refused, "403");
  {
    net::Attempts a(p, 2);
    auto t = Clock::now();
    CHECK(a.failed(connect, net::GotBytes::no));
    CHECK(a.mirror() == 1);
    CHECK(Clock::now() - t < milliseconds(25)); // a fresh mirror starts at once
    t = Clock::now();
    CHECK(a.failed(transfer, net::GotBytes::no));
    CHECK(a.mirror() == 1);
    CHECK(Clock::now() - t >= milliseconds(25));   // the same mirror again: backoff * [0.5, 1]
    CHECK(a.failed(transfer, net::GotBytes::yes)); // progress: the count starts again
    CHECK(a.mirror() == 1);
    CHECK(a.failed(transfer, net::GotBytes::no)); // mirror 1 used up (2 failures): back to mirror 0
    CHECK(a.mirror() == 0);
    CHECK(!a.failed(connect, net::GotBytes::no)); // everything used up
    CHECK(contains(a.summary(), "on 2 mirror(s)"));
  }
  {
    net::Attempts a(p, 1);
    CHECK(!a.failed(refused, net::GotBytes::no)); // refused: no point asking the same mirror again
  }
  {
    p.deadline = milliseconds(10);
    p.max_attempts = 100;
    net::Attempts a(p, 1);
    std::this_thread::sleep_for(milliseconds(20));
    CHECK(!a.failed(transfer, net::GotBytes::no)); // past the deadline
  }
}

TEST_CASE("net::Client over TLS: a trusted certificate works, an untrusted one or a wrong name is refused, mTLS") {
  testutil::TempDir tmp;
  const std::string d = tmp.path().string(), www = tmp / "www";
  fs::create_directories(www);
  testutil::write_file(www + "/m.json", "{\"tls\":true}");
  auto sh = [&](const std::string& cmd) {
    return std::system(("cd '" + d + "' && { " + cmd + " ; } >/dev/null 2>&1").c_str());
  };
  if (sh("command -v openssl") != 0) {
    MESSAGE("openssl is not installed: TLS test skipped");
    return;
  }
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  auto issue = [&](const std::string& name, const std::string& subject, const std::string& ext) {
    REQUIRE(sh("openssl req " + ec + " -keyout " + name + ".key -out " + name + ".csr -subj " + subject) == 0);
    testutil::write_file(d + "/" + name + ".ext", ext + "\n");
    REQUIRE(sh("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out " + name +
               ".pem -extfile " + name + ".ext") == 0);
  };
  REQUIRE(sh("openssl req -x509 " + ec + " -keyout ca.key -out ca.pem -days 2 -subj /CN=airlock-test-ca") == 0);
  issue("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1");
  issue("other", "/CN=other.test", "subjectAltName=DNS:other.test");
  issue("client", "/CN=airlock-client", "extendedKeyUsage=clientAuth");
  fs::create_directories(d + "/work");

  Settings s = fast({});
  s.ca_file = d + "/ca.pem";
  s.system_ca = net::SystemCa::no;
  s.retry.max_attempts = 1;
  {
    FaultServer srv(www, d + "/work", {"--tls-cert", d + "/server.pem", "--tls-key", d + "/server.key"});
    const std::string base = "https://127.0.0.1:" + std::to_string(srv.port());
    s.mirrors = {base};
    CHECK(Client(s).get_small("m.json", 100) == std::string("{\"tls\":true}"));

    Settings system_only = s;
    system_only.ca_file.clear();
    system_only.system_ca = net::SystemCa::yes;
    system_only.retry.max_attempts = 3;
    net::TransferStats st;
    const Error err = error_of([&] { Client(system_only).get_small("m.json", 100, &st); });
    CHECK(err.code() == ExitCode::failure);
    CHECK(contains(err.what(), "not trusted"));
    CHECK(st.requests == 1); // refused: not retried
    srv.stop();
    CHECK(srv.log_file().size() == 1); // only the trusted request got as far as HTTP
  }
  {
    // Through a CONNECT proxy: the proxy relays the TLS bytes and sees only "CONNECT host:port".
    FaultServer origin(www, d + "/work", {"--tls-cert", d + "/server.pem", "--tls-key", d + "/server.key"});
    FaultServer proxy(www, d + "/work");
    Settings via = s;
    via.mirrors = {"https://127.0.0.1:" + std::to_string(origin.port())};
    via.proxy.https = proxy.url();
    CHECK(Client(via).get_small("m.json", 100) == std::string("{\"tls\":true}"));
    const auto plog = proxy.log();
    REQUIRE(plog.size() == 1);
    CHECK(plog[0].path == "127.0.0.1:" + std::to_string(origin.port()));
    CHECK(plog[0].status == 200);
    CHECK(plog[0].bytes_sent > 0);
    origin.stop();
    CHECK(origin.log_file().size() == 1);
  }
  {
    FaultServer srv(www, d + "/work", {"--tls-cert", d + "/other.pem", "--tls-key", d + "/other.key"});
    s.mirrors = {"https://127.0.0.1:" + std::to_string(srv.port())};
    const Error err = error_of([&] { Client(s).get_small("m.json", 100); });
    CHECK(contains(err.what(), "not trusted"));
  }
  {
    FaultServer srv(
        www, d + "/work",
        {"--tls-cert", d + "/server.pem", "--tls-key", d + "/server.key", "--tls-client-ca", d + "/ca.pem"});
    s.mirrors = {"https://127.0.0.1:" + std::to_string(srv.port())};
    CHECK_THROWS_AS(Client(s).get_small("m.json", 100), NetError);
    Settings mtls = s;
    mtls.client_cert = d + "/client.pem";
    mtls.client_key = d + "/client.key";
    CHECK(Client(mtls).get_small("m.json", 100) == std::string("{\"tls\":true}"));
  }
  Settings bad = s;
  bad.ca_file = d + "/missing.pem";
  CHECK(error_of([&] { Client c(bad); }).code() == ExitCode::usage);
  bad = s;
  bad.client_cert = d + "/client.pem";
  CHECK(error_of([&] { Client c(bad); }).code() == ExitCode::usage);
}

// ------------------------------------------------------------------------------------ bounds: every call ends

namespace {

// What a call run by run_bounded() did.
struct Bounded {
  bool ended = false;  // false: still running at the limit (then it was killed)
  int code = -1;       // the exit code of the Error it threw, 0 when it returned
  std::string message; // that Error's message
  double seconds = 0;  // how long it ran
};

// Runs `fn` in a forked child so that a test of "this call ends" fails instead of hanging when it does not:
// the child is killed once `limit` has passed.
Bounded run_bounded(const std::string& work, std::chrono::seconds limit, const std::function<void()>& fn) {
  const std::string out = work + "/bounded-message";
  fs::remove(out);
  std::cout.flush(); // the child must not write out what the parent had buffered
  std::cerr.flush();
  std::fflush(nullptr);
  const auto start = Clock::now();
  const pid_t child = ::fork();
  if (child == 0) {
    int code = 0;
    std::string message;
    try {
      fn();
    } catch (const Error& e) {
      code = static_cast<int>(e.code());
      message = e.what();
    } catch (const std::exception& e) {
      code = 100;
      message = e.what();
    }
    try {
      testutil::write_file(out, message);
    } catch (...) {
    }
    ::_exit(code);
  }
  REQUIRE(child > 0);
  Bounded b;
  int status = 0;
  for (;;) {
    if (::waitpid(child, &status, WNOHANG) == child) break;
    if (Clock::now() - start > limit) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      b.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      return b;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  b.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  b.ended = true;
  b.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (fs::exists(out)) b.message = testutil::read_file(out);
  return b;
}

} // namespace

TEST_CASE("net::Downloader ends when every reply forces a restart: each restart is a counted attempt") {
  Env e;
  FaultServer srv(e.root, e.work);
  std::string expected;
  SUBCASE("a dropped connection, then HTTP 416 to every request (the restarts used to loop at once, forever)") {
    srv.fault("mode=drop-at&n=" + std::to_string(cut) + "&count=1");
    srv.fault("mode=status&n=416");
    expected = "HTTP 416";
  }
  SUBCASE("a mirror that cannot resume: 416 to every Range request, every other reply cut at the same byte") {
    // Bytes fetched again after a restart are not progress, so they do not clear the mirror's failure count.
    srv.fault("mode=no-resume&n=" + std::to_string(cut));
    expected = "gave up after 3 attempt(s)";
  }
  Settings s = fast({srv.url()});
  s.retry.max_attempts = 3;
  const Target t = e.target({srv.url("/t.bin")});
  const Bounded b = run_bounded(e.work, std::chrono::seconds(20), [&] {
    state::StateDb db(e.state_dir);
    Client c(s);
    Downloader(c, db).fetch(t, e.dl);
  });
  REQUIRE_MESSAGE(b.ended, "fetch() was still running after 20 s");
  CHECK(b.code == static_cast<int>(ExitCode::failure));
  CHECK_MESSAGE(contains(b.message, expected), b.message);
  CHECK_MESSAGE(contains(b.message, "gave up"), b.message);
  CHECK(b.seconds < 10);
  const auto log = srv.log();
  CHECK(log.size() >= 3);
  CHECK(log.size() <= 4); // retries = 3: a handful of requests, not one per pass of a loop
  CHECK(!fs::exists(e.final_path()));
}

TEST_CASE("net::Downloader cuts a running transfer at the deadline and keeps the partial for the next run") {
  Env e;
  FaultServer srv(e.root, e.work);
  srv.fault("mode=slow&n=64"); // 64 KiB/s: the 2 MiB target would take 32 s
  Settings s = fast({srv.url()});
  s.retry.deadline = milliseconds(2000);
  s.min_rate = 0; // the deadline alone
  const Target t = e.target({srv.url("/t.bin")});
  const Bounded b = run_bounded(e.work, std::chrono::seconds(15), [&] {
    state::StateDb db(e.state_dir);
    Client c(s);
    Downloader(c, db).fetch(t, e.dl);
  });
  REQUIRE_MESSAGE(b.ended, "fetch() was still running after 15 s");
  CHECK(b.code == static_cast<int>(ExitCode::failure));
  CHECK_MESSAGE(contains(b.message, "cut at the [repository] deadline"), b.message);
  CHECK_MESSAGE(contains(b.message, "the next run resumes it"), b.message);
  CHECK(b.seconds < 4);
  CHECK(fs::file_size(e.partial_path()) > 0);
  CHECK(fs::file_size(e.partial_path()) < e.data.size());
  state::StateDb db(e.state_dir);
  CHECK(db.download_get(e.sha));
  CHECK(srv.log().size() == 1);
}

TEST_CASE("net::Client::get_small cuts metadata served at 1 byte/s at the rate floor, body or headers") {
  Env e;
  testutil::write_file(e.root + "/timestamp.json", std::string(400, 't'));
  FaultServer srv(e.root, e.work);
  std::string stage;
  SUBCASE("the body trickles") {
    srv.fault("mode=trickle&n=1");
    stage = "too slow reading the body";
  }
  SUBCASE("the status line and headers trickle") {
    srv.fault("mode=trickle&n=1&headers=1");
    stage = "too slow waiting for the reply's headers";
  }
  Settings s = fast({srv.url()});
  s.retry.max_attempts = 2;
  s.min_rate = 1024;
  s.min_rate_window = milliseconds(1500);
  const Bounded b =
      run_bounded(e.work, std::chrono::seconds(20), [&] { Client(s).get_small("timestamp.json", 16384); });
  REQUIRE_MESSAGE(b.ended, "get_small() was still running after 20 s");
  CHECK(b.code == static_cast<int>(ExitCode::failure));
  CHECK_MESSAGE(contains(b.message, srv.url("/timestamp.json") + ": " + stage), b.message);
  CHECK_MESSAGE(contains(b.message, "below the floor of 1024 bytes/s"), b.message);
  CHECK_MESSAGE(contains(b.message, "gave up after 2 attempt(s)"), b.message);
  CHECK(b.seconds < 2 * 1.5 + 2); // two windows, one backoff, slack
  CHECK(srv.log().size() == 2);
}

TEST_CASE("net::settings_from_config reads the rate floor and refuses one above the bandwidth limit") {
  config::Config c;
  c.repository_urls = {"http://127.0.0.1:1"};
  Settings s = net::settings_from_config(c);
  CHECK(s.min_rate == 1024);
  CHECK(s.min_rate_window == milliseconds(30000));
  c.min_rate = 0;
  CHECK(net::settings_from_config(c).min_rate == 0);
  c.min_rate = 4096;
  c.bandwidth_limit_kib = 4;
  const Error err = error_of([&] { net::settings_from_config(c); });
  CHECK(err.code() == ExitCode::usage);
  CHECK(contains(err.what(), "min_rate"));
  c.bandwidth_limit_kib = 5;
  CHECK(net::settings_from_config(c).min_rate == 4096);
}

// ------------------------------------------------------------------------------------ malformed replies (fuzzing)

namespace {

// The NetError that Client::get throws for `reply` (a NetError with an empty message when it did not throw).
NetError get_error(const std::string& reply) {
  testutil::CannedServer srv(reply);
  Client client(fast({}));
  try {
    auto r = client.get(srv.url(), {});
    char buf[64];
    while (r->read(buf, sizeof buf) > 0) {
    }
  } catch (const NetError& e) {
    return e;
  }
  return NetError(net::Failure::connect, "");
}

} // namespace

TEST_CASE("net::Client refuses a status outside 100..599 (tests/fuzz/http: 999 was undefined behaviour)") {
  // Poco casts the status to its HTTPStatus enum, which ends at 511: reading 999 back was UB (UBSan: "load of
  // value 999, which is not a valid value for type HTTPStatus").
  for (const std::string status : {"999", "600", "099", "000"}) {
    const NetError e = get_error("HTTP/1.1 " + status + " X\r\nContent-Length: 0\r\n\r\n");
    CHECK_MESSAGE(contains(e.what(), "refusing the reply: status " + std::to_string(std::stoi(status)) +
                                         " is not an HTTP status (100 to 599)"),
                  e.what());
    CHECK(e.kind() == net::Failure::transfer);
  }
  for (const std::string line : {"HTTP/1.1 2 OK", "HTTP/1.1 -1 X", "HTTP/1.1 +20 OK", "HTTP/1.1 2000 OK", "ICY 200 OK",
                                 "HTTP/1.1 20x OK", "HTTP/1.1  200 OK"}) {
    const NetError e = get_error(line + "\r\nContent-Length: 0\r\n\r\n");
    CHECK_MESSAGE(contains(e.what(), "refusing the reply: the status line '" + line + "' is not 'HTTP/1.x"), e.what());
  }
  SUBCASE("codes Poco has no name for still come through as themselves") {
    Client client(fast({}));
    for (int code : {512, 599, 299}) {
      testutil::CannedServer srv("HTTP/1.1 " + std::to_string(code) + " Odd\r\nContent-Length: 2\r\n\r\nok");
      auto r = client.get(srv.url(), {});
      CHECK(r->status() == code);
      CHECK(r->content_length() == 2);
    }
    testutil::CannedServer srv("HTTP/1.0 404\r\n\r\n"); // no reason phrase: allowed
    CHECK(client.get(srv.url(), {})->status() == 404);
  }
}

TEST_CASE("net::Client refuses a Content-Length that is not a byte count (tests/fuzz/http: abc and -5 got through)") {
  // "abc" used to throw Poco::SyntaxException out of Response::read (not a NetError, so no retry and no message
  // naming the URL) and "-5" read as "no Content-Length".
  for (const std::string v : {"abc", "-5", "+5", "5x", "0x10", "1234567890123456789", "5 5"}) {
    const NetError e = get_error("HTTP/1.1 200 OK\r\nContent-Length: " + v + "\r\n\r\nhello");
    CHECK_MESSAGE(
        contains(e.what(), "refusing the reply: Content-Length '" + v + "' is not a byte count (1 to 18 digits)"),
        e.what());
    CHECK(e.kind() == net::Failure::transfer);
  }
  CHECK(contains(get_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello").what(),
                 "two different Content-Length headers ('5' and '6')"));
  CHECK(contains(get_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: abc\r\n\r\n"
                           "5\r\nhello\r\n0\r\n\r\n")
                     .what(),
                 "both Transfer-Encoding and Content-Length"));
  CHECK(contains(get_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").what(),
                 "Transfer-Encoding 'gzip, chunked' is not supported"));
  SUBCASE("the same Content-Length twice, and chunked bodies, are fine") {
    Client client(fast({}));
    testutil::CannedServer srv("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello");
    auto r = client.get(srv.url(), {});
    CHECK(r->content_length() == 5);
    char buf[16];
    CHECK(r->read(buf, sizeof buf) == 5);
    r.reset();
    testutil::CannedServer chunked("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    r = client.get(chunked.url(), {});
    CHECK(r->content_length() == -1);
    std::string body;
    for (std::size_t n; (n = r->read(buf, sizeof buf)) > 0;) body.append(buf, n);
    CHECK(body == "hello");
  }
}

TEST_CASE("net::parse_content_range reads digits only, as RFC 9110 writes them") {
  auto cr = net::parse_content_range("bytes 10-14/15");
  REQUIRE(cr);
  CHECK(cr->first == 10);
  CHECK(cr->last == 14);
  CHECK(cr->total == std::optional<std::uint64_t>(15));
  cr = net::parse_content_range("bytes 0-18446744073709551614/*");
  REQUIRE(cr);
  CHECK(cr->last == 18446744073709551614ull);
  CHECK(!cr->total);
  CHECK(net::parse_content_range("bytes 005-9/10")); // leading zeros are digits too
  // sscanf("%llu") took signs, blanks and wrapped negative numbers: "-1" was 2^64 - 1, so a total of "-1" read as
  // "unknown".
  for (const char* bad : {"bytes +5-9/10", "bytes  5-9/10", "bytes 5- 9/10", "bytes 0-5/-1", "bytes -1-5/10",
                          "bytes 0-18446744073709551616/*", "bytes 9-5/10", "bytes 5-10/10", "bytes 5-9/10 ",
                          "bytes 5-9/", "bytes 5-9", "bytes=5-9/10", "bits 5-9/10", "bytes 5-9/**", ""})
    CHECK_MESSAGE(!net::parse_content_range(bad), bad);
}
