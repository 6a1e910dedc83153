#include "bundle/container.hpp"
#include "bundle/parts.hpp"
#include "bundle/verify.hpp"
#include "bundle/zip.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

using airlock::ExitCode;
using airlock::bundle::part_path;
using airlock::bundle::PartSet;
using airlock::bundle::ZipReader;
using airlock::bundle::ZipWriter;
namespace bundle = airlock::bundle;
namespace fs = std::filesystem;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

// The entries of every test bundle: small metadata (local headers close together, so part boundaries of a few
// dozen bytes fall inside headers), a random payload, and an all-zero one that the writer leaves as a hole.
struct Content {
  std::string meta = R"({"signed":{"_type":"timestamp"}})";
  std::string blob = random_bytes(20000, 7);
  std::string zeros = std::string(9000, '\0');
  const std::string blob_name = "targets/demo/" + std::string(64, 'a') + ".app.tar.gz";
};

void write_bundle(const Content& c, const std::string& path, std::optional<std::uint64_t> part_size) {
  ZipWriter w(path, bundle::Zip64::when_needed, part_size);
  w.add_bytes("metadata/timestamp.json", c.meta);
  w.add_bytes(c.blob_name, c.blob);
  w.add_bytes("targets/demo/zeros.bin", c.zeros);
  w.finish();
}

std::string join(const std::string& base) {
  std::string all;
  for (unsigned n = 1; fs::exists(part_path(base, n)); ++n) all += testutil::read_file(part_path(base, n));
  return all;
}

unsigned count_parts(const std::string& base) {
  unsigned n = 0;
  while (fs::exists(part_path(base, n + 1))) ++n;
  return n;
}

std::string read_entry(const ZipReader& r, const std::string& name) {
  const auto* e = r.find(name);
  REQUIRE(e != nullptr);
  return r.read_small(*e, 8 << 20);
}

// Opens the set (as the agent does) and returns the Error, or Error(ok) when it opened.
airlock::Error open_error(const std::string& path) {
  return testutil::error_of([&] { (void)bundle::open_container(path); });
}

bool contains(const airlock::Error& e, const std::string& needle) {
  return std::string(e.what()).find(needle) != std::string::npos;
}

} // namespace

TEST_CASE("bundle::ZipWriter parts join to the single-file bundle byte for byte, at boundaries inside headers") {
  testutil::TempDir dir;
  const Content c;
  write_bundle(c, dir / "whole.airlock", std::nullopt);
  const std::string whole = testutil::read_file(dir / "whole.airlock");
  // 37: the first part ends inside the first local header's name; 45: right after that header; 4096 and 20000:
  // inside the payload; 29999: the end records straddle the last two parts.
  for (std::uint64_t size : std::vector<std::uint64_t>{37, 45, 1000, 4096, 20000, whole.size() - 10}) {
    CAPTURE(size);
    const std::string base = dir / ("set-" + std::to_string(size) + ".airlock");
    write_bundle(c, base, size);
    const unsigned n = count_parts(base);
    CHECK(n == (whole.size() + size - 1) / size);
    for (unsigned i = 1; i < n; ++i) CHECK(fs::file_size(part_path(base, i)) == size);
    CHECK(fs::file_size(part_path(base, n)) <= size);
    CHECK(join(base) == whole);
    CHECK_FALSE(fs::exists(base)); // the set replaces the single file, it does not come with one

    auto set = PartSet::open(part_path(base, 1));
    CHECK(set->count() == n);
    CHECK(set->size() == whole.size());
    ZipReader r(part_path(base, 1), set);
    REQUIRE(r.entries().size() == 3);
    CHECK(read_entry(r, "metadata/timestamp.json") == c.meta);
    CHECK(read_entry(r, c.blob_name) == c.blob); // CRC-32 checked across the part boundaries
    CHECK(read_entry(r, "targets/demo/zeros.bin") == c.zeros);
    // Positioned reads across several parts at once.
    std::string mid(3 * size + 5, '\0');
    if (mid.size() < whole.size()) {
      CHECK(set->pread(mid.data(), mid.size(), size - 2) == mid.size());
      CHECK(mid == whole.substr(size - 2, mid.size()));
    }
    std::string past(100, '\0');
    CHECK(set->pread(past.data(), past.size(), whole.size() - 10) == 10);
  }
}

TEST_CASE("bundle::ZipWriter parts: a part whose tail is a skipped zero block still has its full size") {
  testutil::TempDir dir;
  const std::string base = dir / "z.airlock";
  const std::string zeros = dir / "zeros";
  testutil::write_file(zeros, "");
  fs::resize_file(zeros, 3 << 20); // a sparse file: the writer skips its all-zero blocks, so some parts get no write
  {
    ZipWriter w(base, bundle::Zip64::when_needed, 4096);
    w.add_file("targets/zeros", zeros);
    w.finish();
  }
  const unsigned n = count_parts(base);
  REQUIRE(n > 700);
  for (unsigned i = 1; i < n; ++i) REQUIRE(fs::file_size(part_path(base, i)) == 4096);
  ZipReader r(part_path(base, 1), PartSet::open(part_path(base, 1)));
  CHECK(read_entry(r, "targets/zeros") == std::string(3 << 20, '\0'));
}

TEST_CASE("bundle part set with one part: part-001 only, read as the bundle; the base name opens it too") {
  testutil::TempDir dir;
  const Content c;
  write_bundle(c, dir / "whole.airlock", std::nullopt);
  const std::string base = dir / "one.airlock";
  write_bundle(c, base, 1 << 20);
  CHECK(count_parts(base) == 1);
  CHECK(testutil::read_file(part_path(base, 1)) == testutil::read_file(dir / "whole.airlock"));
  for (const std::string& path : {part_path(base, 1), base}) {
    auto container = bundle::open_container(path);
    CHECK(container->is_bundle());
    CHECK(container->describe() == "bundle " + part_path(base, 1) + " (a set of 1 part)");
    CHECK(container->fetch("timestamp.json", 1000) == c.meta);
    CHECK(container->target_files().size() == 2);
  }
  CHECK(bundle::bundle_sha256(part_path(base, 1)) ==
        airlock::util::sha256_hex(testutil::read_file(dir / "whole.airlock")));
}

TEST_CASE("bundle part set: a missing part is refused before anything is read, naming the part") {
  testutil::TempDir dir;
  const Content c;
  const std::string base = dir / "s.airlock";
  write_bundle(c, base, 4096);
  const unsigned n = count_parts(base);
  REQUIRE(n == 8);

  SUBCASE("in the middle") {
    fs::remove(part_path(base, 3));
    const auto e = open_error(part_path(base, 1));
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(contains(e, part_path(base, 3) + " is missing (7 of the parts 001 to 008 are there)"), e.what());
    CHECK_MESSAGE(contains(e, "Copy the whole set again"), e.what());
  }
  SUBCASE("the last one, after a full part") {
    fs::remove(part_path(base, n));
    const auto e = open_error(part_path(base, 1));
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(contains(e, "does not end the bundle (no zip end record): " + part_path(base, n) +
                                  " or later parts are missing"),
                  e.what());
  }
  SUBCASE("the first one: giving a later part names it") {
    fs::remove(part_path(base, 1));
    const auto e = open_error(part_path(base, 2));
    CHECK(e.code() == ExitCode::usage);
    CHECK_MESSAGE(contains(e, "is part 2 of a part set: give its first part, " + part_path(base, 1) +
                                  " (it is not there either: copy the whole set again)"),
                  e.what());
    CHECK(open_error(part_path(base, 1)).code() == ExitCode::not_found);
  }
  SUBCASE("a later part given while the first one is there") {
    const auto e = open_error(part_path(base, 4));
    CHECK(e.code() == ExitCode::usage);
    CHECK_MESSAGE(contains(e, "give its first part, " + part_path(base, 1)), e.what());
    CHECK_FALSE(contains(e, "not there"));
  }
}

TEST_CASE("bundle part set: a short part is refused, naming it and the size it must have") {
  testutil::TempDir dir;
  const Content c;
  const std::string base = dir / "s.airlock";
  write_bundle(c, base, 4096);
  const unsigned n = count_parts(base);

  SUBCASE("a middle part") {
    fs::resize_file(part_path(base, 2), 4000);
    const auto e = open_error(part_path(base, 1));
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(contains(e, part_path(base, 2) + " is 4000 bytes, but every part except the last must be 4096 bytes"),
                  e.what());
  }
  SUBCASE("the first part") {
    fs::resize_file(part_path(base, 1), 100);
    const auto e = open_error(part_path(base, 1));
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(contains(e, part_path(base, 1) + " is 100 bytes, but every part except the last must be 4096"),
                  e.what());
  }
  SUBCASE("the last part") {
    fs::resize_file(part_path(base, n), fs::file_size(part_path(base, n)) - 1);
    const auto e = open_error(part_path(base, 1));
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(contains(e, "the last part, " + part_path(base, n) + ", does not end the bundle"), e.what());
  }
  SUBCASE("an empty part") {
    fs::resize_file(part_path(base, 5), 0);
    const auto e = open_error(part_path(base, 1));
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(contains(e, part_path(base, 5) + " is empty"), e.what());
  }
}

TEST_CASE("bundle part set: an extra trailing part is refused, whatever its size") {
  testutil::TempDir dir;
  const Content c;
  const std::string base = dir / "s.airlock";
  write_bundle(c, base, 4096);
  const unsigned n = count_parts(base);
  REQUIRE(fs::file_size(part_path(base, n)) < 4096);

  SUBCASE("after the short last part") {
    testutil::write_file(part_path(base, n + 1), random_bytes(100, 1));
    const auto e = open_error(part_path(base, 1));
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(contains(e, part_path(base, n) + " is "), e.what());
    CHECK_MESSAGE(contains(e, "or the parts after it are from another export"), e.what());
  }
  SUBCASE("a full-size stale part after a full last part") {
    // A set whose last part happens to be full (here: one part of exactly the bundle's size), then a stale part.
    write_bundle(c, dir / "w.airlock", std::nullopt);
    const std::string b2 = dir / "exact.airlock";
    write_bundle(c, b2, fs::file_size(dir / "w.airlock"));
    REQUIRE(count_parts(b2) == 1);
    testutil::write_file(part_path(b2, 2), random_bytes(fs::file_size(part_path(b2, 1)), 2));
    const auto e = open_error(part_path(b2, 1));
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(contains(e, "the last part there, " + part_path(b2, 2) + ", does not end the bundle"), e.what());
    CHECK_MESSAGE(contains(e, "or left from another export"), e.what());
  }
}

TEST_CASE("bundle part set: parts in the wrong order are refused, with the set's hint in the message") {
  testutil::TempDir dir;
  const Content c;
  const std::string base = dir / "s.airlock";
  write_bundle(c, base, 1000);
  const unsigned n = count_parts(base);
  REQUIRE((n >= 10 && n <= 99));
  auto swap = [&](unsigned a, unsigned b) {
    fs::rename(part_path(base, a), dir / "tmp");
    fs::rename(part_path(base, b), part_path(base, a));
    fs::rename(dir / "tmp", part_path(base, b));
  };

  SUBCASE("parts holding zip headers: the structure check refuses the set") {
    swap(1, 2);
    const auto e = open_error(part_path(base, 1));
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(contains(e, "is not a valid bundle"), e.what());
    CHECK_MESSAGE(contains(e, "This bundle is a set of " + std::to_string(n) + " parts (" + base +
                                  ".part-001 to part-0" + std::to_string(n) +
                                  "): a part may be missing, short, damaged or in the wrong place (renamed); copy the "
                                  "whole set again."),
                  e.what());
  }
  SUBCASE("parts inside one payload: the signed SHA-256 refuses the target, with the hint") {
    swap(5, 6); // bytes 4000..6000: all inside the 20000-byte random payload
    auto container = bundle::open_container(part_path(base, 1));
    airlock::trust::TargetFile t;
    t.name = "demo/app.tar.gz";
    t.length = c.blob.size();
    t.sha256 = airlock::util::sha256_hex(c.blob);
    auto src = container->open(c.blob_name);
    REQUIRE(src != nullptr);
    const auto e = testutil::error_of([&] { bundle::verify_target_in(*container, t, *src); });
    CHECK(e.code() == ExitCode::verify_failed);
    CHECK_MESSAGE(contains(e, "does not match its signed SHA-256"), e.what());
    CHECK_MESSAGE(contains(e, "This bundle is a set of " + std::to_string(n) + " parts"), e.what());
    // The zip CRC-32 catches it too, for readers that check it.
    ZipReader r(part_path(base, 1), PartSet::open(part_path(base, 1)));
    const auto crc = testutil::error_of([&] { (void)read_entry(r, c.blob_name); });
    CHECK(crc.code() == ExitCode::bad_input);
    CHECK_MESSAGE(contains(crc, "is corrupt: its data has CRC-32"), crc.what());
  }
}

TEST_CASE("bundle::ZipWriter parts: stale later parts are removed, too many parts is a usage error") {
  testutil::TempDir dir;
  const Content c;
  const std::string base = dir / "s.airlock";
  write_bundle(c, base, 1000);
  REQUIRE(count_parts(base) > 20);
  testutil::write_file(part_path(base, 31 + 5), "unrelated, but named like a part of this set");
  write_bundle(c, base, 10000);
  CHECK(count_parts(base) == 3);
  CHECK_FALSE(fs::exists(part_path(base, 4)));
  CHECK_FALSE(fs::exists(part_path(base, 36)));
  CHECK_NOTHROW(bundle::open_container(part_path(base, 1)));

  const std::string big = dir / "big.airlock";
  const auto e = testutil::error_of([&] { write_bundle(c, big, 16); });
  CHECK(e.code() == ExitCode::usage);
  CHECK_MESSAGE(contains(e, "does not fit in 999 parts of 16 bytes; nothing was written"), e.what());
  for (const auto& f : fs::directory_iterator(dir.path()))
    CHECK_MESSAGE(f.path().filename().string().rfind("big.", 0) != 0, f.path().string());
}

TEST_CASE("bundle::parse_part_name and part_size_for") {
  CHECK(bundle::parse_part_name("/m/x.airlock.part-001")->base == "/m/x.airlock");
  CHECK(bundle::parse_part_name("x.part-999")->number == 999);
  CHECK(bundle::parse_part_name("x.part-012")->number == 12);
  CHECK_FALSE(bundle::parse_part_name("x.part-000"));
  CHECK_FALSE(bundle::parse_part_name("x.part-01"));
  CHECK_FALSE(bundle::parse_part_name("x.part-0001")); // four digits: not a name the writer makes
  CHECK_FALSE(bundle::parse_part_name("x.part-00a"));
  CHECK_FALSE(bundle::parse_part_name(".part-001"));
  CHECK_FALSE(bundle::parse_part_name("/m/.part-001"));
  CHECK_FALSE(bundle::parse_part_name("x.airlock"));
  CHECK(part_path("/m/x.airlock", 7) == "/m/x.airlock.part-007");
  CHECK(bundle::part_size_for(4ull << 30) == (4ull << 30) - 1);
  CHECK(bundle::part_size_for((4ull << 30) - 1) == (4ull << 30) - 1);
  CHECK(bundle::part_size_for(3900ull << 20) == 3900ull << 20);
  CHECK(bundle::part_size_for(8ull << 30) == 8ull << 30);
}
