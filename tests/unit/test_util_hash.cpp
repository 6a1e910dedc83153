#include "util/error.hpp"
#include "util/hash.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using namespace airlock::util;

TEST_CASE("util::Sha256 gives the FIPS 180-2 known answers, one-shot and streamed") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  std::string million_a(1000000, 'a');
  for (std::size_t i = 0; i < million_a.size(); i += 4096) h.update(std::string_view(million_a).substr(i, 4096));
  CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  h.reset();
  h.update("abc");
  CHECK(h.hex_digest() == sha256_hex("abc"));
}

TEST_CASE("util::BackgroundSha256 gives Sha256's digests: known answers, any update sizes, reset and reuse") {
  BackgroundSha256 empty;
  CHECK(empty.hex_digest() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string million_a(1000000, 'a');
  for (std::size_t chunks : {std::size_t{1}, std::size_t{4}}) {
    BackgroundSha256 h(chunks);
    // Sizes that cross each other (1 byte, odd sizes, a whole 256 KiB buffer): the order of the bytes must hold.
    std::size_t at = 0, step = 1;
    while (at < million_a.size()) {
      const std::size_t n = std::min(step, million_a.size() - at);
      h.update(million_a.data() + at, n);
      at += n;
      step = step >= 262144 ? 1 : step * 7 + 3;
    }
    CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    h.reset();
    h.update("abc", 3);
    h.update(nullptr, 0);
    CHECK(h.hex_digest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
  // Destroyed with bytes still queued: the thread stops and is joined.
  {
    BackgroundSha256 left(2);
    left.update(million_a.data(), million_a.size());
  }
}

TEST_CASE("util::sha256_file_hex hashes a file and names a missing one") {
  testutil::TempDir dir;
  std::string path = dir / "f";
  testutil::write_file(path, "abc");
  CHECK(sha256_file_hex(path) == sha256_hex("abc"));
  std::filesystem::remove(path);
  try {
    (void)sha256_file_hex(path);
    FAIL("no error for a missing file");
  } catch (const airlock::Error& e) {
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
}

TEST_CASE("util::xxh3_64 and to_hex give known values") {
  CHECK(xxh3_64("") == 0x2D06800538D394C2ULL);
  const unsigned char bytes[] = {0x00, 0x7f, 0xff};
  CHECK(to_hex(bytes, 3) == "007fff");
}
