// Fault injection for site::stage_full (stage.hpp, "Durability" and the .partial contract):
//  - a disk that fills up while a release is being staged: Error(failure) naming the errno text, nothing left
//    behind (neither <v> nor <v>.partial), and the space is given back (a later, smaller release stages fine);
//  - a process SIGKILLed while staging: the next stage_full of the same input finishes the job, the tree
//    verifies and no .partial remains.
#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "release/manifest.hpp"
#include "site/stage.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/io.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using airlock::Error;
using airlock::ExitCode;
using airlock::archive::Entry;
using airlock::release::FileEntry;
using airlock::release::Manifest;
namespace site = airlock::site;

namespace {

class FaultStringSink : public airlock::util::Sink {
public:
  void write(const void* data, std::size_t size) override { s.append(static_cast<const char*>(data), size); }
  using Sink::write;
  std::string s;
};

// Writes to a file descriptor (the archive of the kill test is too big to keep in memory comfortably).
class FaultFdSink : public airlock::util::Sink {
public:
  explicit FaultFdSink(const std::string& path) : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600)) {
    if (fd_ < 0) throw std::runtime_error("cannot create " + path);
  }
  ~FaultFdSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  FaultFdSink(const FaultFdSink&) = delete;
  FaultFdSink& operator=(const FaultFdSink&) = delete;
  void write(const void* data, std::size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::write(fd_, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error(std::string("write: ") + std::strerror(errno));
      p += n;
      size -= static_cast<std::size_t>(n);
    }
  }
  using Sink::write;

private:
  int fd_;
};

// `size` incompressible bytes from a seeded xorshift generator: the same seed gives the same bytes.
class NoiseSource : public airlock::util::Source {
public:
  NoiseSource(std::uint64_t seed, std::uint64_t size) : x_(seed * 0x9E3779B97F4A7C15ull + 1), left_(size) {}
  std::size_t read(void* buf, std::size_t size) override {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size, left_));
    auto* out = static_cast<unsigned char*>(buf);
    for (std::size_t i = 0; i < n; ++i) {
      if (have_ == 0) {
        x_ ^= x_ << 13;
        x_ ^= x_ >> 7;
        x_ ^= x_ << 17;
        word_ = x_;
        have_ = 8;
      }
      out[i] = static_cast<unsigned char>(word_);
      word_ >>= 8;
      --have_;
    }
    left_ -= n;
    return n;
  }

private:
  std::uint64_t x_, word_ = 0;
  int have_ = 0;
  std::uint64_t left_;
};

std::string noise_sha256(std::uint64_t seed, std::uint64_t size) {
  NoiseSource src(seed, size);
  airlock::util::Sha256 h;
  std::vector<char> buf(1 << 16);
  for (std::size_t n; (n = src.read(buf.data(), buf.size())) > 0;) h.update(buf.data(), n);
  return h.hex_digest();
}

struct NoiseFile {
  std::string path;
  std::uint64_t seed, size;
};

// Writes a .tar.gz of the noise files (mode 0644, under the directory "blobs") to `out`, returns the manifest.
Manifest noise_release(const std::string& version, const std::vector<NoiseFile>& files, airlock::util::Sink& out) {
  Manifest m;
  m.app = "demo";
  m.version = version;
  m.arch = "x86_64";
  airlock::archive::GzipSink gz(out, 1);
  airlock::archive::TarWriter tar(gz);
  Entry d;
  d.path = "blobs";
  d.type = Entry::Type::directory;
  d.mode = 0755;
  d.mtime = 1700000000;
  tar.add(d, nullptr);
  FileEntry fd;
  fd.path = "blobs";
  fd.type = FileEntry::Type::dir;
  fd.mode = 0755;
  m.files.push_back(fd);
  for (const auto& f : files) {
    Entry e;
    e.path = f.path;
    e.mode = 0644;
    e.mtime = 1700000000;
    e.size = f.size;
    NoiseSource content(f.seed, f.size);
    tar.add(e, &content);
    FileEntry fe;
    fe.path = f.path;
    fe.mode = 0644;
    fe.size = f.size;
    fe.sha256 = noise_sha256(f.seed, f.size);
    m.files.push_back(fe);
  }
  tar.finish();
  gz.finish();
  return m;
}

// Bytes in all regular files under `dir` (0 when it does not exist).
std::uintmax_t bytes_under(const std::string& dir) {
  std::error_code ec;
  std::uintmax_t total = 0;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2)) total += it->file_size(ec2);
  }
  return total;
}

// Unmounts on scope exit, whatever happens in between.
struct MountGuard {
  std::string dir;
  bool mounted = false;
  ~MountGuard() {
    if (mounted && ::umount(dir.c_str()) != 0) ::umount2(dir.c_str(), MNT_DETACH);
  }
};

bool leftover(const std::string& releases, const std::string& version) {
  return fs::exists(fs::symlink_status(releases + "/" + version)) ||
         fs::exists(fs::symlink_status(releases + "/" + version + ".partial"));
}

} // namespace

TEST_CASE("fault: a disk that fills up while staging fails cleanly, leaves nothing and frees the space") {
  testutil::TempDir tmp;
  std::string releases = tmp / "app/releases";
  fs::create_directories(releases);
  MountGuard guard{releases};
  if (::geteuid() != 0 || ::mount("tmpfs", releases.c_str(), "tmpfs", 0, "size=2m") != 0) {
    WARN_MESSAGE(false, "cannot mount a 2 MiB tmpfs (needs root): " << std::strerror(errno) << "; test skipped");
    return;
  }
  guard.mounted = true;

  // 5 MiB of incompressible bytes cannot fit into 2 MiB.
  FaultStringSink big;
  Manifest m = noise_release("5.0", {{"blobs/noise.bin", 42, 5u << 20}}, big);
  struct Src : airlock::util::Source {
    const std::string& s;
    std::size_t pos = 0;
    explicit Src(const std::string& str) : s(str) {}
    std::size_t read(void* buf, std::size_t size) override {
      std::size_t n = std::min(size, s.size() - pos);
      std::memcpy(buf, s.data() + pos, n);
      pos += n;
      return n;
    }
  };
  Src src(big.s);
  bool threw = false;
  try {
    site::stage_full(releases, m, src);
  } catch (const Error& e) {
    threw = true;
    std::string what = e.what();
    CHECK_MESSAGE(e.code() == ExitCode::failure, what);
    CHECK_MESSAGE((what.find("No space") != std::string::npos || what.find(std::strerror(ENOSPC)) != std::string::npos),
                  what);
  } catch (const std::exception& e) {
    threw = true;
    FAIL("a full disk gave a non-airlock exception: " << e.what());
  }
  CHECK_MESSAGE(threw, "staging 5 MiB into a 2 MiB tmpfs did not fail");
  CHECK_MESSAGE(!fs::exists(fs::symlink_status(releases + "/5.0")), "releases/5.0 left behind");
  CHECK_MESSAGE(!fs::exists(fs::symlink_status(releases + "/5.0.partial")), "releases/5.0.partial left behind");
  CHECK_MESSAGE(bytes_under(releases) == 0, "bytes still used in the tmpfs: " << bytes_under(releases));

  // The space was given back: a release of 1.5 MiB (which only fits into an empty 2 MiB tmpfs) stages fine.
  FaultStringSink small;
  Manifest m2 = noise_release("1.0", {{"blobs/a.bin", 7, 1u << 20}, {"blobs/b.bin", 8, 512u << 10}}, small);
  Src src2(small.s);
  try {
    site::stage_full(releases, m2, src2);
  } catch (const std::exception& e) {
    FAIL("staging a small release after the full-disk failure: " << e.what());
  }
  site::verify_tree(releases + "/1.0", m2);
  CHECK_FALSE(fs::exists(fs::symlink_status(releases + "/1.0.partial")));
  CHECK_FALSE(leftover(releases, "5.0"));
}

TEST_CASE("fault: staging killed with SIGKILL mid-write is finished by the next stage_full") {
  testutil::TempDir tmp;
  std::string releases = tmp / "app/releases", archive = tmp / "big.tar.gz";
  fs::create_directories(releases);
  // 8 x 16 MiB of incompressible bytes: staging takes long enough to be killed in the middle.
  std::vector<NoiseFile> files;
  for (int i = 0; i < 8; ++i)
    files.push_back({"blobs/f" + std::to_string(i) + ".bin", std::uint64_t(100 + i), 16u << 20});
  Manifest m;
  {
    FaultFdSink out(archive);
    m = noise_release("7.0", files, out);
  }
  std::string partial = releases + "/7.0.partial";

  std::fflush(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 0;
    try {
      airlock::util::FileSource in(archive);
      site::stage_full(releases, m, in);
    } catch (...) {
      rc = 3;
    }
    ::_exit(rc);
  }

  // Kill it once it has started writing file data into the .partial tree.
  bool writing = false;
  for (int i = 0; i < 2000 && !writing; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      FAIL("the staging child exited before it could be killed (status " << status << ")");
    }
    writing = bytes_under(partial) > (1u << 20);
    if (!writing) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE_MESSAGE(writing, "the child never wrote into " << partial);
  REQUIRE_MESSAGE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL),
                  "the child was not killed by SIGKILL (it finished first?) status " << status);
  // The kill hit mid-staging: only the half-written .partial exists.
  CHECK(fs::exists(partial));
  CHECK_FALSE(fs::exists(releases + "/7.0"));

  // The next attempt with the same input finishes the job.
  {
    airlock::util::FileSource in(archive);
    try {
      site::stage_full(releases, m, in);
    } catch (const std::exception& e) {
      FAIL("stage_full after the kill: " << e.what());
    }
  }
  site::verify_tree(releases + "/7.0", m);
  CHECK_FALSE(fs::exists(fs::symlink_status(partial)));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(releases)) names.push_back(e.path().filename().string());
  CHECK_MESSAGE(names == std::vector<std::string>{"7.0"}, "releases/ holds more than 7.0");
}
