#include "util/error.hpp"
#include "util/read_ahead.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>

using airlock::Error;
using airlock::ExitCode;
using airlock::util::ReadAheadSource;

namespace {

// Serves `s` at most `chunk` bytes per read(); throws Error(bad_input) instead of the bytes from `fail_at` on.
class TrickleSource : public airlock::util::Source {
public:
  TrickleSource(std::string s, std::size_t chunk, std::size_t fail_at = SIZE_MAX)
      : s_(std::move(s)), chunk_(chunk), fail_at_(fail_at) {}
  std::size_t read(void* buf, std::size_t size) override {
    if (pos_ >= fail_at_) airlock::fail(ExitCode::bad_input, "backup.tar.gz: corrupt gzip data");
    std::size_t n = std::min({size, chunk_, s_.size() - pos_, fail_at_ - pos_});
    std::memcpy(buf, s_.data() + pos_, n);
    pos_ += n;
    ++reads;
    return n;
  }
  int reads = 0;

private:
  std::string s_;
  std::size_t chunk_, fail_at_, pos_ = 0;
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131) ^ (i >> 9));
  return s;
}

std::string read_all(airlock::util::Source& in, std::size_t piece) {
  std::string out, buf(piece, '\0');
  while (std::size_t n = in.read(buf.data(), buf.size())) out.append(buf.data(), n);
  return out;
}

} // namespace

TEST_CASE("util::ReadAheadSource yields exactly the bytes of its source, in order, for any read sizes") {
  const std::string data = pattern(3'000'017);
  for (std::size_t piece : {std::size_t{1}, std::size_t{4093}, std::size_t{1} << 22}) {
    INFO("piece " << piece);
    TrickleSource in(data, 70001);
    ReadAheadSource ahead(in, 65536, 3);
    CHECK(read_all(ahead, piece) == data);
    char c;
    CHECK(ahead.read(&c, 1) == 0); // stays at the end
  }
  TrickleSource empty("", 10);
  ReadAheadSource ahead(empty);
  CHECK(read_all(ahead, 100).empty());
}

TEST_CASE("util::ReadAheadSource rethrows its source's error after every byte before it") {
  const std::string data = pattern(1'000'000);
  TrickleSource in(data, 9999, 700'000);
  ReadAheadSource ahead(in, 65536, 2);
  std::string got, buf(5000, '\0');
  try {
    while (std::size_t n = ahead.read(buf.data(), buf.size())) got.append(buf.data(), n);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::bad_input);
    CHECK(std::string(e.what()) == "backup.tar.gz: corrupt gzip data");
  }
  CHECK(got == data.substr(0, 700'000));
}

TEST_CASE("util::ReadAheadSource destroyed before the end stops its thread and reads ahead only a bounded amount") {
  const std::string data = pattern(50'000'000);
  TrickleSource in(data, 1 << 16);
  {
    ReadAheadSource ahead(in, 1 << 16, 4);
    char buf[10];
    CHECK(ahead.read(buf, sizeof buf) == sizeof buf);
    CHECK(std::memcmp(buf, data.data(), sizeof buf) == 0);
  } // joins; reading all 50 MB would take the source 763 reads
  CHECK(in.reads <= 7);
}
