// archive::ParallelGzipSink: one valid .tar.gz for gzip and GNU tar, the same bytes on any thread count, errors
// of the sink underneath propagated, empty and small input.
#include "archive/gzip.hpp"
#include "archive/tar.hpp"
#include "util/error.hpp"
#include "util/io.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <sys/wait.h>

using airlock::Error;
using airlock::ExitCode;
using airlock::archive::GzipSink;
using airlock::archive::GzipSource;
using airlock::archive::ParallelGzipSink;

namespace {

constexpr std::size_t kBlock = ParallelGzipSink::block_size;

int sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Text with counters and incompressible runs, as a backup holds.
std::string sample(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n);
  for (std::size_t line = 0; s.size() < n; ++line) {
    if (line % 200 == 199) {
      for (int i = 0; i < 4096; ++i) s += static_cast<char>(rng());
    } else {
      s += "2026-12-02T14:00:00Z INFO request " + std::to_string(line) + " took " + std::to_string(rng() % 250) +
           " ms\n";
    }
  }
  s.resize(n);
  return s;
}

// Passes everything on to `s`; throws Error(failure, "No space left on device") once `limit` bytes are reached.
class FailingSink : public airlock::util::Sink {
public:
  explicit FailingSink(std::size_t limit = SIZE_MAX) : limit_(limit) {}
  void write(const void* data, std::size_t size) override {
    if (s.size() + size > limit_) {
      ++failures;
      airlock::fail(ExitCode::failure, "cannot write out.tar.gz: No space left on device");
    }
    s.append(static_cast<const char*>(data), size);
    ++writes;
  }
  using Sink::write;
  std::string s;
  int writes = 0, failures = 0;

private:
  std::size_t limit_;
};

std::string gzip_one(const std::string& data, int level = 6) {
  FailingSink out;
  GzipSink gz(out, level);
  gz.write(data);
  gz.finish();
  return out.s;
}

// Writes `data` in pieces of `piece` bytes (odd sizes cross block boundaries).
std::string gzip_parallel(const std::string& data, unsigned threads, std::size_t piece = 7919, int level = 6) {
  FailingSink out;
  ParallelGzipSink gz(out, level, threads);
  for (std::size_t i = 0; i < data.size(); i += piece) gz.write(data.data() + i, std::min(piece, data.size() - i));
  gz.finish();
  return out.s;
}

std::string gunzip(const std::string& gz) {
  airlock::util::StringSource src(gz);
  GzipSource g(src, "test.gz");
  std::string out;
  std::vector<char> buf(1 << 16);
  while (std::size_t n = g.read(buf.data(), buf.size())) out.append(buf.data(), n);
  return out;
}

} // namespace

TEST_CASE("archive::ParallelGzipSink writes one member per block, the same bytes on 2, 3 and 8 threads") {
  const std::string data = sample(5 * kBlock + 12345);
  const std::string two = gzip_parallel(data, 2);
  CHECK(gzip_parallel(data, 3, 1 << 20) == two);
  CHECK(gzip_parallel(data, 8, 333) == two);
  CHECK(gzip_parallel(data, 0) == two); // one per CPU
  // Each block is an independent gzip member, exactly as GzipSink compresses that block alone.
  std::string members;
  for (std::size_t i = 0; i < data.size(); i += kBlock) members += gzip_one(data.substr(i, kBlock));
  CHECK(two == members);
  CHECK(gunzip(two) == data);
  // The same content as one stream from GzipSink, within 1% of its size.
  const std::string one = gzip_one(data);
  CHECK(gunzip(one) == gunzip(two));
  CHECK(static_cast<double>(two.size()) <= static_cast<double>(one.size()) * 1.01);
}

TEST_CASE("archive::ParallelGzipSink output is a .tar.gz that gzip -t and GNU tar read, tree byte-identical") {
  testutil::TempDir t;
  const std::string src = t / "src";
  std::filesystem::create_directories(src + "/logs/a");
  testutil::write_file(src + "/big.log", sample(3 * kBlock + 99));
  testutil::write_file(src + "/logs/a/small.log", sample(5000, 2));
  testutil::write_file(src + "/logs/empty", "");
  for (int i = 0; i < 50; ++i) testutil::write_file(src + "/logs/a/f" + std::to_string(i), sample(40000, i));
  const std::string out = t / "out.tar.gz";
  {
    airlock::util::AtomicFile file(out);
    ParallelGzipSink gz(file, 6, 4);
    airlock::archive::TarWriter tar(gz);
    tar.add_tree(src, "src");
    tar.finish();
    gz.finish();
    file.commit();
  }
  CHECK(sh("gzip -t '" + out + "'") == 0);
  CHECK(sh("tar -tzf '" + out + "' | grep -qx 'src/logs/a/f49'") == 0);
  std::filesystem::create_directories(t / "x");
  REQUIRE(sh("tar -xzf '" + out + "' -C '" + t / "x" + "'") == 0);
  CHECK(sh("diff -r --no-dereference '" + src + "' '" + t / "x/src" + "'") == 0);
}

TEST_CASE("archive::ParallelGzipSink on empty input and input smaller than a block equals GzipSink") {
  for (unsigned threads : {2u, 5u}) {
    INFO("threads " << threads);
    const std::string empty = gzip_parallel("", threads);
    CHECK(empty.size() == 20); // header and trailer of one empty member
    CHECK(empty == gzip_one(""));
    CHECK(gunzip(empty).empty());
    const std::string small = sample(100000);
    CHECK(gzip_parallel(small, threads) == gzip_one(small));
    // Exactly two blocks: two members, no empty third one.
    const std::string two_blocks = sample(2 * kBlock);
    CHECK(gzip_parallel(two_blocks, threads, kBlock) ==
          gzip_one(two_blocks.substr(0, kBlock)) + gzip_one(two_blocks.substr(kBlock)));
  }
  testutil::TempDir t;
  testutil::write_file(t / "empty.gz", gzip_parallel("", 2));
  CHECK(sh("gzip -t '" + t / "empty.gz" + "'") == 0);
}

TEST_CASE("archive::ParallelGzipSink passes a sink error in the middle on unchanged and refuses to go on") {
  const std::string data = sample(12 * kBlock);
  const std::string full = gzip_parallel(data, 2);
  // Fail at several points: inside the first member, in the middle, in the last member written by finish().
  for (std::size_t limit : {std::size_t{10}, full.size() / 2, full.size() - 5}) {
    INFO("limit " << limit);
    FailingSink out(limit);
    bool thrown = false;
    {
      ParallelGzipSink gz(out, 6, 3);
      try {
        for (std::size_t i = 0; i < data.size(); i += 100000)
          gz.write(data.data() + i, std::min<std::size_t>(100000, data.size() - i));
        gz.finish();
      } catch (const Error& e) {
        thrown = true;
        CHECK(e.code() == ExitCode::failure);
        CHECK(std::string(e.what()) == "cannot write out.tar.gz: No space left on device");
        CHECK_THROWS_WITH_AS(gz.write("x"), doctest::Contains("after an earlier error"), Error);
        CHECK_THROWS_WITH_AS(gz.finish(), doctest::Contains("after an earlier error"), Error);
      }
    } // the destructor stops the workers (the test would hang otherwise)
    CHECK(thrown);
    CHECK(out.failures == 1);
    CHECK(out.s.size() <= limit);
    CHECK(full.compare(0, out.s.size(), out.s) == 0); // what was written is a prefix of the full output
  }
}

TEST_CASE("archive::ParallelGzipSink destroyed without finish() writes no partial member and checks its use") {
  const std::string data = sample(10 * kBlock);
  FailingSink out;
  {
    ParallelGzipSink gz(out, 6, 2);
    gz.write(data);
  }
  // Only whole members of the first blocks (those the ring had to write to make room), never the last block.
  std::string members;
  for (std::size_t i = 0; members.size() < out.s.size(); i += kBlock) members += gzip_one(data.substr(i, kBlock));
  CHECK(members == out.s);
  CHECK(out.s.size() < gzip_parallel(data, 2).size());

  CHECK_THROWS_WITH_AS(ParallelGzipSink(out, 10, 2), doctest::Contains("level 10"), Error);
  FailingSink sink;
  ParallelGzipSink gz(sink, 1, 2);
  gz.finish();
  CHECK_THROWS_WITH_AS(gz.finish(), doctest::Contains("finish() called twice"), Error);
  CHECK_THROWS_WITH_AS(gz.write("x"), doctest::Contains("write after finish()"), Error);
}

TEST_CASE("archive::make_gzip_writer: one thread is one GzipSink stream, more are parallel members") {
  const std::string data = sample(3 * kBlock);
  for (unsigned threads : {1u, 2u, 16u, 1000u}) {
    INFO("threads " << threads);
    FailingSink out;
    auto gz = airlock::archive::make_gzip_writer(out, 6, threads);
    gz->write(data);
    gz->finish();
    CHECK(out.s == (threads == 1 ? gzip_one(data) : gzip_parallel(data, 2)));
  }
}
