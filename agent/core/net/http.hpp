// HTTP(S) for the online mode: the [repository] settings, one GET at a time, the retry policy over a list of
// mirrors, and a bounded GET for small files (TUF metadata). Poco Net and NetSSL_OpenSSL stay inside http.cpp.
//
// TLS: certificates are always verified, chain and host name, loopback included (Poco VERIFY_STRICT), against
// `ca_file` plus the system store (OpenSSL's default paths, /usr/lib/ssl on Debian; SSL_CERT_FILE and
// SSL_CERT_DIR override them). TLS 1.2 is the minimum. A client certificate is sent when one is configured.
// Proxies: plain-HTTP URLs go to the proxy as absolute-form requests, HTTPS URLs through a CONNECT tunnel, so
// the proxy never sees the TLS content. Only "http://" proxies are supported.
// Names: numeric addresses never need a lookup. Names go through getaddrinfo; with glibc 2.36 the "files" and
// "dns" sources are built into libc, so a static binary resolves /etc/hosts names even in a chroot holding only
// the binary and /etc/hosts (tests/integration/online_check_resolves_hosts_names_in_a_chroot.sh, DNS through a
// test resolver too). The connect timeout does not bound the lookup. Direct connections try every address of
// the name (Poco's order: IPv4 first) until one accepts; Poco alone tries only the first, so an unreachable
// IPv4 address hid a working IPv6 one. A proxy's name is still connected by Poco, first address only.
//
// Errors: transport failures and unusable HTTP statuses throw NetError (an Error with code failure) whose kind
// tells the retry loop what to do; bad settings throw Error(usage); refused content throws Error(verify_failed).
// Thread-safety: Settings and the free functions are plain values / pure. A Client may be shared by threads
// once constructed; each Response and each Attempts object is used by one thread.
#pragma once

#include "util/error.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace airlock::config {
struct Config;
}

namespace airlock::net {

using std::chrono::milliseconds;

enum class SystemCa { yes, no };

// Exponential backoff with jitter over mirrors (see Attempts for the exact rules).
struct RetryPolicy {
  int max_attempts = 5;               // failed attempts per mirror before it is given up
  milliseconds backoff_initial{1000}; // wait before the 2nd attempt on a mirror; doubles each time
  milliseconds backoff_max{60000};    // cap of one wait (before jitter)
  milliseconds deadline{3600 * 1000}; // after the first attempt: no attempt starts, and a running one is cut
};

struct Proxy {
  std::string http;     // for http:// URLs: "http://[user:password@]host[:port]" or "host[:port]" (port 1080 when
                        // absent, as in curl); "" = direct
  std::string https;    // for https:// URLs (CONNECT tunnel); same forms
  std::string no_proxy; // "host,.domain,domain,1.2.3.4,*": hosts that bypass the proxy (curl's NO_PROXY rules)
};

struct Settings {
  std::vector<std::string> mirrors; // repository base URLs, tried in order
  std::string ca_file;              // PEM bundle trusted in addition to the system store; "" = none
  SystemCa system_ca = SystemCa::yes;
  std::string client_cert, client_key; // PEM files for mutual TLS; "" = no client certificate
  Proxy proxy;
  milliseconds connect_timeout{15000};
  milliseconds stall_timeout{60000}; // no byte (response headers or body) for this long ends the attempt
  RetryPolicy retry;
  std::uint64_t bandwidth_limit_kib = 0; // KiB/s per transfer; 0 = unlimited
  // The rate floor of every transfer (curl's --speed-limit/--speed-time): once min_rate_window has passed since
  // the request went out, a transfer whose body bytes over the last min_rate_window average below min_rate
  // bytes/s is cut (NetError(transfer), retried per the policy). 0 in either turns the floor off.
  std::uint64_t min_rate = 1024;
  milliseconds min_rate_window{30000};
};

// The proxies of the environment: http_proxy, https_proxy, no_proxy, and their upper-case forms (the lower-case
// one wins when both are set).
Proxy proxy_from_environment();
// The [repository] settings of `c`. A proxy set in the config is used for both schemes and replaces the
// environment's; otherwise the environment's proxies apply. NO_PROXY always comes from the environment.
// Throws Error(usage) when a bandwidth limit is set at or below min_rate (every transfer would be cut).
Settings settings_from_config(const config::Config& c);
// The proxy that `url` goes through under `p`, or "" for a direct connection.
std::string proxy_for(const Proxy& p, const std::string& url);
// `base` + "/" + `path`, with each byte of `path` outside [A-Za-z0-9-._~/] percent-encoded.
std::string join_url(const std::string& base, const std::string& path);

// The Content-Range of a 206 reply: "bytes FIRST-LAST/TOTAL", or "bytes FIRST-LAST/*" when the total is unknown.
struct ContentRange {
  std::uint64_t first = 0, last = 0;  // the bytes sent, inclusive
  std::optional<std::uint64_t> total; // nullopt for "*"
};
// `v` as a Content-Range (RFC 9110 section 14.4), or nullopt when it is malformed (anything but digits where
// the numbers go, a number beyond 2^64 - 1), LAST is below FIRST, or LAST is not below TOTAL.
std::optional<ContentRange> parse_content_range(const std::string& v);

// Counters of one call, so callers and tests can see what went over the wire.
struct TransferStats {
  std::uint64_t wire_bytes = 0; // response body bytes received, over every request
  unsigned requests = 0;        // requests started (a refused connection counts)
  unsigned failures = 0;        // attempts that failed (each was retried or ended the call)
  unsigned restarts = 0;        // downloads: times the partial file was discarded and the download began again at 0
  std::uint64_t resumed_at = 0; // downloads: bytes of an earlier partial file kept at the start of the call
};

// What the retry loop does after a failed attempt.
enum class Failure {
  connect,  // no connection (refused, unreachable, DNS, connect timeout, TLS handshake): try the next mirror
  transfer, // the connection broke or stalled, or the reply was unusable: retry this mirror after a backoff
  server,   // HTTP 5xx, 408 or 429: retry this mirror after a backoff
  refused,  // will not get better on this mirror (certificate refused, 4xx other than 404): next mirror
};

class NetError : public Error {
public:
  NetError(Failure kind, const std::string& message) : Error(ExitCode::failure, message), kind_(kind) {}
  Failure kind() const noexcept { return kind_; }

private:
  Failure kind_;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// The reply to one GET: status and headers are read; the body is read with read().
class Response {
public:
  ~Response();
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;
  const std::string& url() const;
  int status() const;                                // 100..599 (Client::get refuses any other)
  std::string header(const std::string& name) const; // "" when absent
  std::int64_t content_length() const;               // -1 when absent (or chunked), else >= 0
  // Reads up to `size` body bytes; returns 0 only at the end of the body. Throws NetError(transfer) when the
  // connection breaks, stalls longer than the stall timeout, ends before Content-Length, averages below the
  // rate floor, or is still running at the deadline given to Client::get (the message says which). Honours the
  // bandwidth limit by sleeping.
  std::size_t read(void* buf, std::size_t size);
  std::uint64_t received() const; // body bytes read so far

private:
  friend class Client;
  struct Impl;
  explicit Response(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Client {
public:
  // Loads the CA file, the system store and the client certificate once. Throws Error(usage) naming the file
  // when one cannot be used.
  explicit Client(Settings s);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  const Settings& settings() const;

  // One GET of `url` (http or https) with extra request headers; no retries. Any status is returned. Throws
  // NetError(connect) when no connection or TLS session could be set up (NetError(refused) for a certificate
  // that fails verification), NetError(transfer) when the reply headers do not arrive (or trickle in below the
  // rate floor, or not before `deadline`) or are refused ("refusing the reply: ..."): a status line other than
  // "HTTP/1.x <100..599> <reason>", a Content-Length that is not 1 to 18 digits or two that differ, a
  // Transfer-Encoding other than one "chunked", or both Transfer-Encoding and Content-Length. Error(usage) for a
  // URL that is not http(s). `stats`, when given,
  // counts the request and the body bytes read.
  // Bounds: from the moment the request is sent until the Response is destroyed, a util::SocketWatchdog ends
  // the transfer at `deadline` and when it averages below the rate floor (Settings::min_rate); the connect
  // timeout is shortened to what is left before `deadline`, and a deadline already passed throws at once.
  std::unique_ptr<Response>
  get(const std::string& url, const Headers& headers, TransferStats* stats = nullptr,
      std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max()) const;

  // GETs "<mirror>/<path>" of a small file from the mirrors in order, with retries per the policy (every
  // attempt bounded by the rate floor and the policy's deadline, see get()). An attempt keeps nothing, so bytes
  // it received do not count as progress (GotBytes::no): a trickling mirror is used up. Returns the
  // body of the first 200, or nullopt when a mirror answers 404/410 and no mirror that was not asked yet is
  // left. Refuses to read more than `max_bytes` (endless-data defence): a longer Content-Length or body throws
  // Error(verify_failed) at once, without asking another mirror. When every attempt fails, throws NetError
  // naming the URL and the last failure.
  std::optional<std::string> get_small(const std::string& path, std::size_t max_bytes,
                                       TransferStats* stats = nullptr) const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

enum class GotBytes { no, yes };

// The retry policy over `mirrors` mirrors, for one call. Start on mirror 0; after each failed attempt call
// failed(), which picks the next mirror and waits:
//  - a mirror is used up after max_attempts failures; an attempt that received new bytes (GotBytes::yes) first
//    clears its mirror's count, so a slow but moving transfer is never given up;
//  - connect failures move on to the next usable mirror, transfer and server failures stay on this mirror
//    until it is used up, refused failures use the mirror up at once;
//  - an attempt on a mirror that has failed before waits min(backoff_max, backoff_initial * 2^(k-1)) times a
//    random factor in [0.5, 1] (k: its failures so far); a first attempt on a mirror starts at once;
//  - no attempt starts after the deadline (counted from construction); callers pass deadline() to Client::get
//    so that a running transfer is cut by it too.
class Attempts {
public:
  Attempts(const RetryPolicy& policy, std::size_t mirrors);
  std::size_t mirror() const { return current_; }
  // Records the failure of the attempt on mirror(), then picks and waits for the next attempt. Returns false
  // when there is none: every mirror is used up or the deadline would pass while waiting.
  bool failed(const NetError& e, GotBytes got);
  // Uses the current mirror up without counting a failure (a 404, a file that fails verification) and moves to
  // the next usable one at once. Returns false when none is left.
  bool drop_mirror();
  // Moves to the next mirror in order (the same one when there is only one), usable or not, at once.
  void next_mirror();
  // Whether an attempt on mirror m has failed or m was dropped.
  bool tried(std::size_t m) const { return tried_[m]; }
  // The end of the policy's deadline: construction + RetryPolicy::deadline.
  std::chrono::steady_clock::time_point deadline() const { return start_ + policy_.deadline; }
  // "after 3 attempts on 2 mirrors in 12 s": for messages.
  std::string summary() const;

private:
  bool usable(std::size_t m) const;
  bool pick_and_wait(std::size_t from);
  RetryPolicy policy_;
  std::vector<int> failures_;
  std::vector<bool> used_up_, tried_;
  std::size_t current_ = 0;
  unsigned attempts_ = 1;
  std::chrono::steady_clock::time_point start_;
};

} // namespace airlock::net
