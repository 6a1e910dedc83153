// net/http: what the client makes of a server's reply: the status line, the headers, Content-Length, chunked
// bodies, Content-Range. The input is the whole reply, sent as it is by a loopback server (the same one the unit
// tests use, tests/unit/canned_server.hpp) to the real Client over a real socket, so the bytes go through Poco's
// parser and airlock's checks exactly as a mirror's would. Each input is fetched twice: with Client::get (then
// the status, the headers and the body are read) and with Client::get_small (bounded metadata fetches).
// Invariants: a status is a three-digit code 100..599; Content-Length is -1 or a byte count; a body never
// exceeds its Content-Length, and a body read to its end has exactly that length.
#include "canned_server.hpp"
#include "fuzz.hpp"
#include "net/http.hpp"

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

// An accepted Content-Range prints back as itself: it is read one way only (no signs, spaces or wrapped values).
void check_range(const std::string& v) {
  const auto cr = net::parse_content_range(v);
  if (!cr) return;
  const std::string back = "bytes " + std::to_string(cr->first) + "-" + std::to_string(cr->last) + "/" +
                           (cr->total ? std::to_string(*cr->total) : "*");
  if (back != v) fuzz::broken("Content-Range '" + v + "' was read as '" + back + "'");
  if (cr->last < cr->first || (cr->total && cr->last >= *cr->total)) fuzz::broken("an impossible Content-Range");
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
