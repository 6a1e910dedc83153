// net/http: what the client makes of a server's reply: the status line, the headers, Content-Length, chunked
// bodies, Content-Range. The input is the whole reply, sent as it is by a loopback server (the same one the unit
// tests use, tests/unit/canned_server.hpp) to the real Client over a real socket, so the bytes go through Poco's
// parser and airlock's checks exactly as a mirror's would. Each input is fetched twice: with Client::get (then
// the status, the headers and the body are read) and with Client::get_small (bounded metadata fetches).
// Invariants: a status is a three-digit code 100..599; Content-Length is -1 or a byte count; a body never
// exceeds its Content-Length, and a body read to its end has exactly that length.
#include "net/http.hpp"
#include "canned_server.hpp"
#include "fuzz.hpp"

using namespace airlock;

namespace {

net::Settings settings(const testutil::CannedServer& server) {
  net::Settings s;
  s.mirrors = {server.url("/")};
  s.system_ca = net::SystemCa::no;
  s.connect_timeout = std::chrono::milliseconds(5000);
  s.stall_timeout = std::chrono::milliseconds(5000);
  s.min_rate = 0;
  s.retry.max_attempts = 1;
  s.retry.backoff_initial = s.retry.backoff_max = std::chrono::milliseconds(0);
  return s;
}

// A second reading of Content-Range, written from RFC 9110 section 14.4 ("bytes" SP first "-" last "/" (complete
// | "*"), each a run of digits), to compare parse_content_range() with: the same verdict and the same numbers.
std::optional<net::ContentRange> reference_range(const std::string& v) {
  std::size_t i = 0;
  auto number = [&](std::uint64_t& out) {
    const std::size_t start = i;
    out = 0;
    for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) {
      if (out > (UINT64_MAX - static_cast<unsigned>(v[i] - '0')) / 10) return false;
      out = out * 10 + static_cast<unsigned>(v[i] - '0');
    }
    return i > start;
  };
  net::ContentRange r;
  if (v.rfind("bytes ", 0) != 0) return std::nullopt;
  i = 6;
  if (!number(r.first) || i >= v.size() || v[i++] != '-' || !number(r.last) || i >= v.size() || v[i++] != '/')
    return std::nullopt;
  if (i + 1 == v.size() && v[i] == '*') {
    ++i;
  } else {
    std::uint64_t total = 0;
    if (!number(total)) return std::nullopt;
    r.total = total;
  }
  if (i != v.size() || r.last < r.first || (r.total && r.last >= *r.total)) return std::nullopt;
  return r;
}

void check_range(const std::string& v) {
  const auto got = net::parse_content_range(v);
  const auto want = reference_range(v);
  if (got.has_value() != want.has_value() ||
      (got && (got->first != want->first || got->last != want->last || got->total != want->total)))
    fuzz::broken("Content-Range '" + v + "' was " + (got ? "accepted" : "refused") + ", RFC 9110 says " +
                 (want ? "accept" : "refuse") + (got && want ? " (as other numbers)" : ""));
}

void get(const net::Client& client, const std::string& url) {
  auto r = client.get(url, {{"Range", "bytes=10-"}});
  const int status = r->status();
  if (status < 100 || status > 599) fuzz::broken("status " + std::to_string(status) + " outside 100..599");
  const std::int64_t length = r->content_length();
  if (length < -1) fuzz::broken("a negative Content-Length other than -1");
  r->header("ETag");
  check_range(r->header("Content-Range"));
  std::uint64_t total = 0;
  char buf[4096];
  for (std::size_t n; (n = r->read(buf, sizeof buf)) > 0;) {
    total += n;
    if (length >= 0 && total > static_cast<std::uint64_t>(length)) fuzz::broken("a body beyond Content-Length");
  }
  if (length >= 0 && total != static_cast<std::uint64_t>(length)) fuzz::broken("a body shorter than Content-Length");
  if (r->received() != total) fuzz::broken("received() differs from the bytes read");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_range(std::string(reinterpret_cast<const char*>(data), std::min<std::size_t>(size, 64)));
  static testutil::CannedServer server;
  static const net::Client client(settings(server));
  server.reply(std::string(reinterpret_cast<const char*>(data), size));
  fuzz::refused([&] { get(client, server.url()); });
  fuzz::refused([&] { client.get_small("timestamp.json", 1000); });
  server.wait_idle();
  return 0;
}
