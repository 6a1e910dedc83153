// A loopback HTTP "server" that answers every request with the same bytes, whatever they are: for the tests and
// the fuzz target (tests/fuzz/http.cpp) of what the client does with a malformed reply. Each connection: read the
// request up to its blank line, send the reply, shut the socket down for writing, drain, close. One thread
// serves the connections in turn. Plain POSIX; no doctest, so the fuzz targets can use it too.
#pragma once

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace testutil {

class CannedServer {
public:
  explicit CannedServer(std::string reply = {}) : reply_(std::move(reply)) {
    std::signal(SIGPIPE, SIG_IGN); // a client that hangs up early must not kill the test
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("CannedServer: cannot listen on 127.0.0.1");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  CannedServer(const CannedServer&) = delete;
  CannedServer& operator=(const CannedServer&) = delete;

  std::string url(const std::string& path = "/file") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // The reply to the requests from now on. Waits until the connections accepted so far are done.
  void reply(std::string bytes) {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [&] { return !busy_; });
    reply_ = std::move(bytes);
  }
  // Waits until the connections accepted so far are done (the client hung up or read everything).
  void wait_idle() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [&] { return !busy_; });
  }
  unsigned requests() const { return requests_; }

private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string reply;
      {
        std::lock_guard<std::mutex> lock(mu_);
        busy_ = true;
        reply = reply_;
      }
      ++requests_;
      handle(c, reply);
      ::close(c);
      {
        std::lock_guard<std::mutex> lock(mu_);
        busy_ = false;
      }
      idle_.notify_all();
    }
  }
  static void handle(int c, const std::string& reply) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<std::size_t>(n));
    }
    for (std::size_t off = 0; off < reply.size();) {
      const ssize_t n = ::send(c, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
    ::shutdown(c, SHUT_WR);
    for (;;) { // until the client closes (or 5 s): a close before that could reset what it has not read yet
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0 || ::recv(c, buf, sizeof buf, 0) <= 0) return;
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<unsigned> requests_{0};
  std::mutex mu_;
  std::condition_variable idle_;
  bool busy_ = false;
  std::string reply_;
};

} // namespace testutil
