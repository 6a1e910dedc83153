#include "net/http.hpp"

#include "about/build_info.hpp"
#include "config/config.hpp"
#include "util/watchdog.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/DNS.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <istream>
#include <limits>
#include <random>
#include <thread>

namespace airlock::net {
namespace {

using Clock = std::chrono::steady_clock;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

double seconds(milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

Poco::Timespan timespan(milliseconds d) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(d.count()) * 1000);
}

// True when `host` matches one entry of a NO_PROXY list: "*", an exact host or address, or a domain (with or
// without a leading dot) that `host` ends in.
bool bypass(const std::string& no_proxy, const std::string& host) {
  const std::string h = lower(host);
  std::size_t pos = 0;
  while (pos <= no_proxy.size()) {
    std::size_t comma = no_proxy.find(',', pos);
    if (comma == std::string::npos) comma = no_proxy.size();
    std::string e = no_proxy.substr(pos, comma - pos);
    pos = comma + 1;
    e.erase(0, e.find_first_not_of(" \t"));
    e.erase(e.find_last_not_of(" \t") + 1);
    e = lower(e);
    if (e.empty()) continue;
    if (e == "*") return true;
    if (e.front() == '.') e.erase(0, 1);
    if (h == e ||
        (h.size() > e.size() && h.compare(h.size() - e.size(), e.size(), e) == 0 && h[h.size() - e.size() - 1] == '.'))
      return true;
  }
  return false;
}

struct ProxyAddress {
  std::string host, user, password;
  Poco::UInt16 port = 1080;
};

ProxyAddress parse_proxy(const std::string& proxy) {
  std::string s = proxy;
  if (s.find("://") == std::string::npos) s = "http://" + s;
  try {
    Poco::URI uri(s);
    if (uri.getScheme() != "http")
      fail(ExitCode::usage, fmt::format("proxy {}: only http:// proxies are supported", proxy));
    if (uri.getHost().empty()) fail(ExitCode::usage, fmt::format("proxy {}: no host", proxy));
    ProxyAddress p;
    p.host = uri.getHost();
    const std::string authority = s.substr(s.find("://") + 3, s.find('/', s.find("://") + 3) - s.find("://") - 3);
    const auto at = authority.rfind('@');
    if (authority.find(':', at == std::string::npos ? 0 : at) != std::string::npos) p.port = uri.getPort();
    const std::string info = uri.getUserInfo();
    const auto colon = info.find(':');
    p.user = info.substr(0, colon);
    if (colon != std::string::npos) p.password = info.substr(colon + 1);
    return p;
  } catch (const Poco::Exception& e) {
    fail(ExitCode::usage, fmt::format("proxy {}: {}", proxy, e.displayText()));
  }
}

// Exposes HTTPSession::read (bytes the session already buffered, else one recv into the caller's buffer), so a
// body is read in large partial reads. The istream of receiveResponse() would block until a whole buffer is
// full and lose what it had read when the connection then fails.
template <class Base> class RawSession : public Base {
public:
  using Base::Base;
  int read_some(char* buf, std::streamsize n) { return Base::read(buf, n); }
  // Uses a socket connected (and for TLS, handshaken) by the caller instead of Poco's own connect.
  void adopt(const Poco::Net::StreamSocket& s) { Base::attachSocket(s); }
};

// Connects to the addresses of `host` in turn until one accepts (as curl does, without its "happy eyeballs"
// race). Poco's HostEntry sorts them (IPv4 first) and its sessions try only the first, so an unreachable IPv4
// address hid a working IPv6 one. Each address gets the connect timeout; the last address's error is thrown
// (DNS errors as Poco reports them: "Host not found: NAME", ...).
Poco::Net::StreamSocket connect_any(const std::string& host, Poco::UInt16 port, const Settings& st) {
  std::vector<Poco::Net::IPAddress> addrs;
  Poco::Net::IPAddress ip;
  if (Poco::Net::IPAddress::tryParse(host, ip))
    addrs.push_back(ip);
  else
    addrs = Poco::Net::DNS::hostByName(host).addresses();
  if (addrs.empty()) throw Poco::Net::NoAddressFoundException(host);
  for (std::size_t i = 0;; ++i) {
    try {
      Poco::Net::StreamSocket s;
      s.connect(Poco::Net::SocketAddress(addrs[i], port), timespan(st.connect_timeout));
      s.setReceiveTimeout(timespan(st.stall_timeout));
      s.setSendTimeout(timespan(st.stall_timeout));
      s.setNoDelay(true);
      return s;
    } catch (const Poco::Exception&) {
      if (i + 1 == addrs.size()) throw;
    }
  }
}

// A proxy URL without its password, for messages.
std::string shown(const ProxyAddress& p) { return fmt::format("{}:{}", p.host, p.port); }

} // namespace

// ---------------------------------------------------------------------------------------------------- settings

Proxy proxy_from_environment() {
  auto pick = [](const char* low, const char* up) {
    std::string v = env(low);
    return v.empty() ? env(up) : v;
  };
  return Proxy{pick("http_proxy", "HTTP_PROXY"), pick("https_proxy", "HTTPS_PROXY"), pick("no_proxy", "NO_PROXY")};
}

Settings settings_from_config(const config::Config& c) {
  Settings s;
  s.mirrors = c.repository_urls;
  s.ca_file = c.ca_file;
  s.client_cert = c.client_cert;
  s.client_key = c.client_key;
  s.proxy = proxy_from_environment();
  if (!c.proxy.empty()) s.proxy.http = s.proxy.https = c.proxy;
  s.connect_timeout = milliseconds(c.connect_timeout_s * 1000);
  s.stall_timeout = milliseconds(c.stall_timeout_s * 1000);
  s.retry.max_attempts = static_cast<int>(std::max<std::int64_t>(1, c.retries));
  s.retry.deadline = milliseconds(c.deadline_s * 1000);
  s.bandwidth_limit_kib = static_cast<std::uint64_t>(std::max<std::int64_t>(0, c.bandwidth_limit_kib));
  s.min_rate = static_cast<std::uint64_t>(std::max<std::int64_t>(0, c.min_rate));
  s.min_rate_window = milliseconds(c.min_rate_window_s * 1000);
  if (s.bandwidth_limit_kib && s.min_rate && s.min_rate_window.count() && s.min_rate >= s.bandwidth_limit_kib * 1024)
    fail(ExitCode::usage, fmt::format("[repository] min_rate = {} bytes/s is not below bandwidth_limit = {} KiB/s: "
                                      "every transfer would be cut as too slow; lower min_rate (0 turns it off) "
                                      "or raise bandwidth_limit",
                                      s.min_rate, s.bandwidth_limit_kib));
  return s;
}

std::string proxy_for(const Proxy& p, const std::string& url) {
  std::string host;
  bool https = false;
  try {
    Poco::URI uri(url);
    host = uri.getHost();
    https = uri.getScheme() == "https";
  } catch (const Poco::Exception&) {
    return "";
  }
  const std::string& proxy = https ? p.https : p.http;
  if (proxy.empty() || bypass(p.no_proxy, host)) return "";
  return proxy;
}

std::string join_url(const std::string& base, const std::string& path) {
  std::string out = base;
  while (!out.empty() && out.back() == '/') out.pop_back();
  out += '/';
  std::size_t i = 0;
  while (i < path.size() && path[i] == '/') ++i;
  for (; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::optional<ContentRange> parse_content_range(const std::string& v) {
  // Digits only: the sscanf("%llu") this replaces also took "bytes +5-9/10", "bytes  5-9/10" and "-1" (wrapped
  // to 2^64 - 1); tests/fuzz/http.cpp compares this with a second reading of RFC 9110.
  std::size_t i = 6;
  auto number = [&](std::uint64_t& out) {
    const std::size_t start = i;
    out = 0;
    for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) {
      const auto d = static_cast<std::uint64_t>(v[i] - '0');
      if (out > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
      out = out * 10 + d;
    }
    return i > start;
  };
  ContentRange r;
  if (v.rfind("bytes ", 0) != 0 || !number(r.first) || i >= v.size() || v[i++] != '-' || !number(r.last) ||
      i >= v.size() || v[i++] != '/')
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

// ---------------------------------------------------------------------------------------------------- response

namespace {

// A header value or status line for a message: at most 80 bytes, bytes outside printable ASCII as \xNN.
std::string printable(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size() && i < 80; ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return v.size() > 80 ? out + "..." : out;
}

bool all_digits(std::string_view v) {
  return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The reply's status line and headers, read as Poco's HTTPResponse::read() reads them, with the checks that must
// come before Poco acts on them. Poco alone turns any three characters that parse as a number into its
// HTTPStatus enum, whose values end at 511 ("HTTP/1.1 999 X" and "HTTP/1.1 -1 X" were undefined behaviour, found
// by tests/fuzz/http.cpp), and reads Content-Length with a parser that accepts "-5" and "+5" and throws
// Poco::SyntaxException for "abc". Here:
// - the status line is "HTTP/1.<digit> <three digits>[ <reason>]" with a code from 100 to 599;
// - each Content-Length is 1 to 18 digits, and several of them must agree;
// - Transfer-Encoding, when present, is one "chunked" (the only coding; airlock asks for no other), and a reply
//   may not carry both it and Content-Length (RFC 9112 section 6.3: a sign of response smuggling).
// A refusal is kept in `refusal` and thrown as Poco::Net::MessageException, so that receiveResponse() closes the
// session as for any malformed reply; Client::get() then throws a NetError naming the URL and the refusal.
class Reply : public Poco::Net::HTTPResponse {
public:
  int code = 0;
  std::int64_t length = -1;
  std::string refusal;

  void read(std::istream& in) override {
    static const int eof = std::char_traits<char>::eof();
    code = 0;
    length = -1;
    refusal.clear();
    int ch = in.get();
    if (in.bad()) throw Poco::Net::NetException("Error reading HTTP response header");
    if (ch == eof) throw Poco::Net::NoMessageException();
    std::string line;
    while (ch != eof && ch != '\n' && line.size() < 1024) {
      line += static_cast<char>(ch);
      ch = in.get();
    }
    if (ch != '\n') refuse(fmt::format("the status line '{}' is unterminated or too long", printable(line)));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto digit = [&](std::size_t i) { return line[i] >= '0' && line[i] <= '9'; };
    if (line.size() < 12 || line.compare(0, 7, "HTTP/1.") != 0 || !digit(7) || line[8] != ' ' || !digit(9) ||
        !digit(10) || !digit(11) || (line.size() > 12 && line[12] != ' '))
      refuse(fmt::format("the status line '{}' is not 'HTTP/1.x <three-digit status> <reason>'", printable(line)));
    code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (code < 100 || code > 599) refuse(fmt::format("status {} is not an HTTP status (100 to 599)", code));
    MessageHeader::read(in);
    ch = in.get();
    while (ch != '\n' && ch != eof) ch = in.get();
    setVersion(line.substr(0, 8));
    // Poco decides by the enum whether a body follows (not after 1xx, 204, 304) and skips 100 Continue. Its
    // values stop at 511: a code above that gets 500, which Poco treats the same way (a body follows).
    setStatus(static_cast<HTTPStatus>(code <= 511 ? code : 500));
    setReason(line.size() > 13 ? line.substr(13) : std::string());
    check_framing();
  }

private:
  [[noreturn]] void refuse(const std::string& why) {
    refusal = why;
    throw Poco::Net::MessageException(why);
  }

  void check_framing() {
    std::vector<std::string> lengths, codings;
    for (const auto& [name, value] : *this) {
      if (Poco::icompare(name, CONTENT_LENGTH) == 0) lengths.push_back(value);
      if (Poco::icompare(name, TRANSFER_ENCODING) == 0) codings.push_back(value);
    }
    if (!codings.empty()) {
      if (codings.size() > 1 || Poco::icompare(Poco::trim(codings[0]), CHUNKED_TRANSFER_ENCODING) != 0)
        refuse(fmt::format("Transfer-Encoding '{}' is not supported (only a single 'chunked')",
                           printable(codings.size() > 1 ? codings[0] + ", " + codings[1] : codings[0])));
      if (!lengths.empty())
        refuse("the reply has both Transfer-Encoding and Content-Length, which RFC 9112 forbids (a sign of "
               "response smuggling)");
    }
    for (const auto& v : lengths) {
      if (!all_digits(v) || v.size() > 18)
        refuse(fmt::format("Content-Length '{}' is not a byte count (1 to 18 digits)", printable(v)));
      if (v != lengths[0])
        refuse(
            fmt::format("two different Content-Length headers ('{}' and '{}')", printable(lengths[0]), printable(v)));
    }
    if (!lengths.empty()) length = static_cast<std::int64_t>(std::stoll(lengths[0]));
  }
};

} // namespace

struct Response::Impl {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  Reply reply;
  std::istream* body = nullptr;                         // chunked bodies are read through Poco's stream
  std::function<int(char*, std::streamsize)> read_some; // other bodies straight from the session
  std::string url;
  std::uint64_t received = 0;
  bool at_end = false;
  TransferStats* stats = nullptr;
  milliseconds stall{0};
  std::uint64_t limit_bps = 0;
  Clock::time_point started = Clock::now();
  util::RateFloor floor;
  // Declared after `session`, so it is destroyed (its thread joined) before the socket closes.
  std::unique_ptr<util::SocketWatchdog> watchdog;

  // When the watchdog cut the transfer: the NetError that says why, else nothing.
  void throw_if_cut(const char* stage) const {
    if (!watchdog) return;
    switch (watchdog->tripped()) {
    case util::Tripped::no:
      return;
    case util::Tripped::deadline:
      throw NetError(Failure::transfer,
                     fmt::format("{}: cut at the [repository] deadline {} after {} body bytes in {:.1f} s (raise "
                                 "deadline if a file needs longer on this link)",
                                 url, stage, received, watchdog->elapsed_s()));
    case util::Tripped::too_slow:
      throw NetError(Failure::transfer,
                     fmt::format("{}: too slow {}: {} bytes in the last {:.1f} s, below the floor of {} bytes/s "
                                 "([repository] min_rate, min_rate_window = {} s), after {} body bytes: the mirror "
                                 "or the link is too slow, or slow on purpose (on a link this slow lower min_rate, "
                                 "0 turns the floor off; else check the mirror)",
                                 url, stage, watchdog->slow_bytes(), watchdog->slow_seconds(), floor.bytes_per_s,
                                 seconds(floor.window), received));
    }
  }
};

Response::Response(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Response::~Response() = default;
const std::string& Response::url() const { return impl_->url; }
int Response::status() const { return impl_->reply.code; }
std::string Response::header(const std::string& name) const { return impl_->reply.get(name, ""); }
std::int64_t Response::content_length() const { return impl_->reply.length; }
std::uint64_t Response::received() const { return impl_->received; }

std::size_t Response::read(void* buf, std::size_t size) {
  Impl& r = *impl_;
  if (r.at_end || size == 0) return 0;
  if (r.limit_bps) size = std::min<std::size_t>(size, std::max<std::uint64_t>(1, r.limit_bps / 10));
  const std::int64_t length = content_length();
  if (length >= 0) size = std::min<std::uint64_t>(size, static_cast<std::uint64_t>(length) - r.received);
  std::size_t n = 0;
  try {
    if (size == 0) {
      n = 0;
    } else if (r.reply.getChunkedTransferEncoding()) {
      r.body->read(static_cast<char*>(buf), static_cast<std::streamsize>(std::min<std::size_t>(size, 16384)));
      n = static_cast<std::size_t>(r.body->gcount());
    } else {
      const int got =
          r.read_some(static_cast<char*>(buf), static_cast<std::streamsize>(std::min<std::size_t>(size, 1 << 30)));
      n = got > 0 ? static_cast<std::size_t>(got) : 0;
    }
  } catch (const Poco::TimeoutException&) {
    r.throw_if_cut("reading the body");
    throw NetError(Failure::transfer, fmt::format("{}: no data for {} s after {} body bytes (stall timeout)", r.url,
                                                  seconds(r.stall), r.received));
  } catch (const Poco::Exception& e) {
    r.throw_if_cut("reading the body");
    throw NetError(Failure::transfer,
                   fmt::format("{}: connection failed after {} body bytes: {}", r.url, r.received, e.displayText()));
  } catch (const std::ios_base::failure& e) {
    r.throw_if_cut("reading the body");
    throw NetError(Failure::transfer,
                   fmt::format("{}: connection failed after {} body bytes: {}", r.url, r.received, e.what()));
  }
  r.received += n;
  if (r.stats) r.stats->wire_bytes += n;
  if (r.watchdog) r.watchdog->progress(r.received);
  if (n == 0 && size > 0) r.throw_if_cut("reading the body"); // a cut socket reads as the end of the body
  if (n == 0) {
    r.at_end = true;
    if (length >= 0 && r.received < static_cast<std::uint64_t>(length))
      throw NetError(Failure::transfer,
                     fmt::format("{}: the connection closed after {} of {} body bytes", r.url, r.received, length));
  }
  if (r.limit_bps) {
    const auto due = r.started + std::chrono::microseconds(r.received * 1000000 / r.limit_bps);
    if (due > Clock::now()) std::this_thread::sleep_until(due);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------- client

struct Client::Impl {
  Settings settings;
  Poco::Net::Context::Ptr tls;
};

Client::Client(Settings s) : impl_(std::make_unique<Impl>()) {
  impl_->settings = std::move(s);
  const Settings& st = impl_->settings;
  if (st.client_cert.empty() != st.client_key.empty())
    fail(ExitCode::usage, "[repository] client_cert and client_key must be set together (mutual TLS)");
  Poco::Net::Context::Params p;
  p.caLocation = st.ca_file;
  p.loadDefaultCAs = st.system_ca == SystemCa::yes;
  p.verificationMode = Poco::Net::Context::VERIFY_STRICT;
  p.verificationDepth = 9;
  p.certificateFile = st.client_cert;
  p.privateKeyFile = st.client_key;
  p.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:@STRENGTH";
  try {
    impl_->tls = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
    impl_->tls->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  } catch (const Poco::Exception& e) {
    fail(ExitCode::usage, fmt::format("TLS settings (ca_file '{}', client_cert '{}', client_key '{}'): {}; check "
                                      "that the files exist and hold PEM data",
                                      st.ca_file, st.client_cert, st.client_key, e.displayText()));
  }
}

Client::~Client() = default;

const Settings& Client::settings() const { return impl_->settings; }

std::unique_ptr<Response> Client::get(const std::string& url, const Headers& headers, TransferStats* stats,
                                      Clock::time_point deadline) const {
  Settings st = impl_->settings;
  const auto now = Clock::now();
  if (now >= deadline)
    throw NetError(Failure::transfer, fmt::format("GET {}: not started: the [repository] deadline has passed", url));
  if (deadline != Clock::time_point::max())
    st.connect_timeout = std::max(
        milliseconds(1), std::min(st.connect_timeout, std::chrono::duration_cast<milliseconds>(deadline - now)));
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception& e) {
    fail(ExitCode::usage, fmt::format("{} is not a valid URL: {}", url, e.displayText()));
  }
  const bool https = uri.getScheme() == "https";
  if (!https && uri.getScheme() != "http")
    fail(ExitCode::usage, fmt::format("{}: only http:// and https:// URLs are supported", url));

  auto r = std::make_unique<Response::Impl>();
  r->url = url;
  r->stats = stats;
  r->stall = st.stall_timeout;
  r->limit_bps = st.bandwidth_limit_kib * 1024;
  r->floor = util::RateFloor{st.min_rate, st.min_rate_window};
  const std::string proxy = proxy_for(st.proxy, url);
  std::string via;
  std::optional<ProxyAddress> pa;
  if (!proxy.empty()) {
    pa = parse_proxy(proxy);
    via = " via proxy " + shown(*pa);
  }
  // Through a proxy Poco connects (to the proxy) itself; directly, connect_any() tries every address of the
  // name and the session gets the connected socket (TLS: the handshake, with SNI and the name checked, happens
  // in attach()).
  auto open_session = [&] {
    if (https) {
      auto session =
          std::make_unique<RawSession<Poco::Net::HTTPSClientSession>>(uri.getHost(), uri.getPort(), impl_->tls);
      if (!pa) {
        auto secure = Poco::Net::SecureStreamSocket::attach(connect_any(uri.getHost(), uri.getPort(), st),
                                                            uri.getHost(), impl_->tls);
        secure.setReceiveTimeout(timespan(st.stall_timeout));
        secure.setSendTimeout(timespan(st.stall_timeout));
        session->adopt(secure);
      }
      r->read_some = [p = session.get()](char* b, std::streamsize n) { return p->read_some(b, n); };
      r->session = std::move(session);
    } else {
      auto session = std::make_unique<RawSession<Poco::Net::HTTPClientSession>>(uri.getHost(), uri.getPort());
      if (!pa) session->adopt(connect_any(uri.getHost(), uri.getPort(), st));
      r->read_some = [p = session.get()](char* b, std::streamsize n) { return p->read_some(b, n); };
      r->session = std::move(session);
    }
    if (pa) {
      Poco::Net::HTTPClientSession::ProxyConfig pc;
      pc.host = pa->host;
      pc.port = pa->port;
      pc.username = pa->user;
      pc.password = pa->password;
      r->session->setProxyConfig(pc);
    }
    r->session->setTimeout(timespan(st.connect_timeout), timespan(st.stall_timeout), timespan(st.stall_timeout));
    // One request per connection ("Connection: close" is set on the request). The session itself must say
    // keep-alive when it was handed a socket: otherwise sendRequest() closes that socket and connects anew, to
    // the first address only.
    r->session->setKeepAlive(!pa);
  };

  Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathEtc().empty() ? "/" : uri.getPathEtc(),
                             Poco::Net::HTTPMessage::HTTP_1_1);
  req.set("User-Agent", std::string("airlock/") + about::airlock_version());
  req.set("Accept-Encoding", "identity");
  req.setKeepAlive(false);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (stats) ++stats->requests;
  try {
    open_session();
    r->session->sendRequest(req);
    // From here every recv (the reply's headers included, which Poco's parser reads byte by byte) is bounded.
    r->watchdog = std::make_unique<util::SocketWatchdog>(static_cast<int>(r->session->socket().impl()->sockfd()),
                                                         deadline, r->floor);
  } catch (const Poco::Net::SSLException& e) {
    const std::string text = e.displayText();
    const bool cert = dynamic_cast<const Poco::Net::CertificateValidationException*>(&e) ||
                      text.find("certificate verify failed") != std::string::npos;
    if (cert)
      throw NetError(Failure::refused, fmt::format("GET {}{}: the server's certificate is not trusted: {}; check "
                                                   "[repository] ca_file and the server's name",
                                                   url, via, text));
    throw NetError(Failure::connect, fmt::format("GET {}{}: TLS handshake failed: {}", url, via, text));
  } catch (const Poco::TimeoutException&) {
    throw NetError(Failure::connect, fmt::format("GET {}{}: no connection within {} s (connect timeout)", url, via,
                                                 seconds(st.connect_timeout)));
  } catch (const Poco::Exception& e) {
    throw NetError(Failure::connect, fmt::format("GET {}{}: cannot connect: {}", url, via, e.displayText()));
  }
  try {
    r->body = &r->session->receiveResponse(r->reply);
    r->body->exceptions(std::ios::badbit);
  } catch (const Poco::TimeoutException&) {
    r->throw_if_cut("waiting for the reply's headers");
    throw NetError(Failure::transfer,
                   fmt::format("GET {}{}: no reply within {} s (stall timeout)", url, via, seconds(st.stall_timeout)));
  } catch (const Poco::Exception& e) {
    r->throw_if_cut("waiting for the reply's headers");
    if (!r->reply.refusal.empty())
      throw NetError(Failure::transfer, fmt::format("GET {}{}: refusing the reply: {}", url, via, r->reply.refusal));
    throw NetError(Failure::transfer, fmt::format("GET {}{}: no valid reply: {}", url, via, e.displayText()));
  }
  r->started = Clock::now();
  return std::unique_ptr<Response>(new Response(std::move(r)));
}

namespace {

// Throws the NetError that an unusable status means.
[[noreturn]] void status_error(const Response& r) {
  const int s = r.status();
  const std::string what = fmt::format("GET {}: HTTP {}", r.url(), s);
  if (s >= 500 || s == 408 || s == 429) throw NetError(Failure::server, what);
  throw NetError(Failure::refused, what + " (check the repository URL and the server's permissions)");
}

} // namespace

std::optional<std::string> Client::get_small(const std::string& path, std::size_t max_bytes,
                                             TransferStats* stats) const {
  const auto& mirrors = impl_->settings.mirrors;
  if (mirrors.empty()) fail(ExitCode::usage, "no repository URL is configured ([repository] urls)");
  Attempts attempts(impl_->settings.retry, mirrors.size());
  bool not_found = false;
  for (;;) {
    const std::string url = join_url(mirrors[attempts.mirror()], path);
    try {
      auto r = get(url, {}, stats, attempts.deadline());
      if (r->status() == 404 || r->status() == 410) {
        not_found = true;
        if (!attempts.drop_mirror() || attempts.tried(attempts.mirror())) return std::nullopt;
        continue;
      }
      if (r->status() != 200) status_error(*r);
      if (r->content_length() > static_cast<std::int64_t>(max_bytes))
        fail(ExitCode::verify_failed, fmt::format("{}: the server announces {} bytes, more than the {} allowed for "
                                                  "this file (endless-data defence); refusing it",
                                                  url, r->content_length(), max_bytes));
      std::string body;
      char buf[16384];
      for (;;) {
        const std::size_t n = r->read(buf, sizeof buf);
        if (n == 0) break;
        if (body.size() + n > max_bytes)
          fail(ExitCode::verify_failed, fmt::format("{}: the server sent more than the {} bytes allowed for this "
                                                    "file (endless data); refusing it",
                                                    url, max_bytes));
        body.append(buf, n);
      }
      return body;
    } catch (const NetError& e) {
      if (stats) ++stats->failures;
      if (not_found) { // another mirror said 404: only a mirror not asked yet could still have the file
        if (!attempts.drop_mirror() || attempts.tried(attempts.mirror())) return std::nullopt;
        continue;
      }
      if (!attempts.failed(e, GotBytes::no))
        throw NetError(e.kind(), fmt::format("{}; gave up {}", e.what(), attempts.summary()));
    }
  }
}

// ---------------------------------------------------------------------------------------------------- attempts

Attempts::Attempts(const RetryPolicy& policy, std::size_t mirrors)
    : policy_(policy), failures_(std::max<std::size_t>(mirrors, 1), 0),
      used_up_(std::max<std::size_t>(mirrors, 1), false), tried_(std::max<std::size_t>(mirrors, 1), false),
      start_(Clock::now()) {
  policy_.max_attempts = std::max(policy_.max_attempts, 1);
}

bool Attempts::usable(std::size_t m) const { return !used_up_[m] && failures_[m] < policy_.max_attempts; }

bool Attempts::pick_and_wait(std::size_t from) {
  const std::size_t n = failures_.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t m = (from + i) % n;
    if (!usable(m)) continue;
    current_ = m;
    if (failures_[m] > 0) {
      const double base =
          std::min(seconds(policy_.backoff_max), seconds(policy_.backoff_initial) * std::pow(2.0, failures_[m] - 1));
      thread_local std::mt19937 rng{std::random_device{}()};
      const double wait = base * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
      const auto until = Clock::now() + std::chrono::microseconds(static_cast<std::int64_t>(wait * 1e6));
      if (until > start_ + policy_.deadline) return false;
      std::this_thread::sleep_until(until);
    } else if (Clock::now() > start_ + policy_.deadline) {
      return false;
    }
    ++attempts_;
    return true;
  }
  return false;
}

bool Attempts::failed(const NetError& e, GotBytes got) {
  const std::size_t m = current_;
  tried_[m] = true;
  if (got == GotBytes::yes) failures_[m] = 0;
  ++failures_[m];
  switch (e.kind()) {
  case Failure::refused:
    used_up_[m] = true;
    return pick_and_wait(m + 1);
  case Failure::connect:
    return pick_and_wait(m + 1);
  case Failure::transfer:
  case Failure::server:
    return pick_and_wait(m);
  }
  return false;
}

bool Attempts::drop_mirror() {
  tried_[current_] = true;
  used_up_[current_] = true;
  const std::size_t n = failures_.size();
  for (std::size_t i = 1; i <= n; ++i)
    if (usable((current_ + i) % n)) {
      current_ = (current_ + i) % n;
      ++attempts_;
      return true;
    }
  return false;
}

void Attempts::next_mirror() {
  tried_[current_] = true;
  current_ = (current_ + 1) % failures_.size();
  ++attempts_;
}

std::string Attempts::summary() const {
  const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
  return fmt::format("after {} attempt(s) on {} mirror(s) in {:.1f} s", attempts_, failures_.size(), secs);
}

} // namespace airlock::net
