// Helpers shared by the unit tests. Each test gets its own temporary directory, removed when the test ends
// (set AIRLOCK_KEEP_TEST_TMP=1 to keep them for inspection).
#pragma once

#include "util/error.hpp"

#include <arpa/inet.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace testutil {

// /dev/shm when it is writable, else the temp directory: for tests whose many fsyncs would otherwise dominate
// (the pipeline's crash matrix), since what they check is the order of steps, not the disk.
inline std::filesystem::path memory_dir() {
  return ::access("/dev/shm", W_OK) == 0 ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
}

class TempDir {
public:
  explicit TempDir(const std::filesystem::path& base = std::filesystem::temp_directory_path()) {
    std::string templ = (base / "airlock-unit.XXXXXX").string();
    if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    if (!std::getenv("AIRLOCK_KEEP_TEST_TMP")) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

private:
  std::filesystem::path path_;
};

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
  if (!f) throw std::runtime_error("cannot write " + path);
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// The Error thrown by fn, or an Error(ok, "") when it did not throw.
template <class Fn> airlock::Error error_of(Fn fn) {
  try {
    fn();
  } catch (const airlock::Error& e) {
    return e;
  }
  return airlock::Error(airlock::ExitCode::ok, "");
}

// A TCP socket bound to an ephemeral port on 127.0.0.1 (not listening yet); sets `port`.
inline int bind_loopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("cannot bind a loopback socket");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

} // namespace testutil
