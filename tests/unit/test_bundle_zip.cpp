#include "bundle/zip.hpp"
#include "util/error.hpp"

#include "testutil.hpp"
#include <doctest/doctest.h>

#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

using airlock::Error;
using airlock::ExitCode;
using airlock::bundle::Zip64;
using airlock::bundle::ZipReader;
using airlock::bundle::ZipWriter;

namespace {

std::string le(std::uint64_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

std::uint32_t crc_of(std::string_view s) {
  return static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// Runs a shell command; returns its exit status and its stdout+stderr.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  return {::pclose(p), out};
}

// Checks that the reader refuses `path` as bad input with a message containing `needle`.
void check_refused(const std::string& path, const std::string& needle) {
  try {
    ZipReader r(path);
    FAIL("accepted an archive that should be refused with: " << needle);
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
  }
}

// A hand-built stored zip with no checks at all, for the refusal tests.
struct Raw {
  Raw(std::string n, std::string d) : name(std::move(n)), data(std::move(d)) {}
  Raw& with_method(std::uint16_t v) {
    method = v;
    return *this;
  }
  Raw& with_flags(std::uint16_t v) {
    flags = v;
    return *this;
  }
  Raw& with_local_name(std::string v) {
    local_name = std::move(v);
    return *this;
  }
  Raw& with_declared_size(std::uint32_t v) {
    declared_size = v;
    return *this;
  }
  Raw& with_descriptor_crc(std::uint32_t v) {
    descriptor_crc = v;
    return *this;
  }
  Raw& with_offset(std::uint32_t v) {
    offset = v;
    return *this;
  }

  std::string name;
  std::string data;
  std::uint16_t method = 0;
  std::uint16_t flags = 0;
  std::optional<std::string> local_name;
  std::optional<std::uint32_t> declared_size;  // size fields of both headers
  std::optional<std::uint32_t> descriptor_crc; // with flag 0x08: the CRC in the data descriptor
  std::optional<std::uint32_t> offset;         // central directory offset; no local header is written
};

std::string raw_local(const Raw& e) {
  const bool dd = e.flags & 0x08;
  const std::uint32_t size = e.declared_size.value_or(static_cast<std::uint32_t>(e.data.size()));
  const std::string name = e.local_name.value_or(e.name);
  std::string s = "PK\x03\x04" + le(10, 2) + le(e.flags, 2) + le(e.method, 2) + le(0, 2) + le(0x21, 2) +
                  le(dd ? 0 : crc_of(e.data), 4) + le(size, 4) + le(size, 4) + le(name.size(), 2) + le(0, 2) + name +
                  e.data;
  if (dd) s += "PK\x07\x08" + le(e.descriptor_crc.value_or(crc_of(e.data)), 4) + le(size, 4) + le(size, 4);
  return s;
}

std::string raw_zip(const std::vector<Raw>& entries) {
  std::string out, cd;
  for (const auto& e : entries) {
    std::uint64_t offset = out.size();
    if (e.offset) {
      offset = *e.offset;
    } else {
      out += raw_local(e);
    }
    const std::uint32_t size = e.declared_size.value_or(static_cast<std::uint32_t>(e.data.size()));
    cd += "PK\x01\x02" + le(0x031e, 2) + le(10, 2) + le(e.flags, 2) + le(e.method, 2) + le(0, 2) + le(0x21, 2) +
          le(crc_of(e.data), 4) + le(size, 4) + le(size, 4) + le(e.name.size(), 2) + le(0, 2) + le(0, 2) + le(0, 2) +
          le(0, 2) + le(0, 4) + le(offset, 4) + e.name;
  }
  return out + cd + "PK\x05\x06" + le(0, 2) + le(0, 2) + le(entries.size(), 2) + le(entries.size(), 2) +
         le(cd.size(), 4) + le(out.size(), 4) + le(0, 2);
}

void check_raw_refused(const std::vector<Raw>& entries, const std::string& needle) {
  testutil::TempDir dir;
  testutil::write_file(dir / "raw.zip", raw_zip(entries));
  check_refused(dir / "raw.zip", needle);
}

const std::string kMeta = "{\"signed\":{\"version\":1}}";
std::string pattern(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; s.size() < n; ++i) s += "payload line " + std::to_string(i) + "\n";
  s.resize(n);
  return s;
}

// A small valid bundle written by ZipWriter: "meta/root.json" at byte 0, then "targets/app.tar.gz".
std::string write_small_bundle(const std::string& path, Zip64 zip64 = Zip64::when_needed) {
  ZipWriter w(path, zip64);
  w.add_bytes("meta/root.json", kMeta);
  w.add_bytes("targets/app.tar.gz", pattern(5000));
  w.finish();
  return testutil::read_file(path);
}

void patch(std::string& bytes, std::size_t at, const std::string& with) { bytes.replace(at, with.size(), with); }

std::size_t central_dir(const std::string& bytes) { return bytes.find("PK\x01\x02"); }

// Reads a whole entry through open() in odd-sized chunks.
std::string stream_all(const ZipReader& r, const airlock::bundle::ZipEntry& e) {
  auto src = r.open(e);
  std::string out;
  char buf[777];
  while (std::size_t n = src->read(buf, sizeof buf)) out.append(buf, n);
  return out;
}

} // namespace

TEST_CASE("bundle::ZipWriter and ZipReader round-trip files, bytes and empty entries") {
  testutil::TempDir dir;
  // Crosses the 1 MiB copy buffer, with an all-zero block in the middle (written as a hole).
  std::string big = pattern(1 << 20) + std::string(1 << 20, '\0') + pattern((1 << 20) + 5);
  testutil::write_file(dir / "big.bin", big);
  testutil::write_file(dir / "empty", "");
  ZipWriter w(dir / "b.zip");
  w.add_bytes("metadata/1.root.json", kMeta);
  w.add_file("targets/deep/er/big.bin", dir / "big.bin");
  w.add_file("targets/empty", dir / "empty");
  w.finish();

  ZipReader r(dir / "b.zip");
  REQUIRE(r.entries().size() == 3);
  CHECK(r.entries()[0].name == "metadata/1.root.json");
  CHECK(r.entries()[1].name == "targets/deep/er/big.bin");
  CHECK(r.entries()[2].name == "targets/empty");
  CHECK(r.entries()[0].data_offset == 30 + 20);
  CHECK(r.entries()[1].size == big.size());
  CHECK(r.entries()[1].crc32 == crc_of(big));
  CHECK(r.find("targets/nope") == nullptr);
  CHECK(r.find("targets") == nullptr);
  REQUIRE(r.find("targets/empty") != nullptr);
  CHECK(r.read_small(*r.find("metadata/1.root.json"), 1024) == kMeta);
  CHECK(r.read_small(*r.find("targets/empty"), 0).empty());
  CHECK(stream_all(r, *r.find("targets/deep/er/big.bin")) == big);
  CHECK(stream_all(r, *r.find("targets/empty")).empty());

  auto [rc, out] = run("unzip -o -q " + (dir / "b.zip") + " -d " + (dir / "x"));
  CHECK_MESSAGE(rc == 0, out);
  CHECK(testutil::read_file(dir / "x/targets/deep/er/big.bin") == big);
  CHECK(testutil::read_file(dir / "x/metadata/1.root.json") == kMeta);
}

TEST_CASE("bundle::ZipWriter output passes Info-ZIP unzip -t/-l and python3 -m zipfile -t") {
  for (Zip64 mode : {Zip64::when_needed, Zip64::always}) {
    testutil::TempDir dir;
    write_small_bundle(dir / "b.zip", mode);
    auto [rc_t, out_t] = run("unzip -t " + (dir / "b.zip"));
    CHECK_MESSAGE(rc_t == 0, out_t);
    CHECK(out_t.find("No errors detected") != std::string::npos);
    auto [rc_l, out_l] = run("unzip -l " + (dir / "b.zip"));
    CHECK_MESSAGE(rc_l == 0, out_l);
    CHECK(out_l.find("     5000  1980-01-01 00:00   targets/app.tar.gz") != std::string::npos);
    CHECK(out_l.find("2 files") != std::string::npos);
    auto [rc_p, out_p] = run("python3 -m zipfile -t " + (dir / "b.zip"));
    CHECK_MESSAGE(rc_p == 0, out_p);
    CHECK(out_p.find("Done testing") != std::string::npos);
    CHECK(out_p.find("corrupt") == std::string::npos);
  }
}

TEST_CASE("bundle::ZipWriter with forced ZIP64 records is read back (small-file ZIP64 test)") {
  testutil::TempDir dir;
  std::string bytes = write_small_bundle(dir / "b.zip", Zip64::always);
  CHECK(bytes.find("PK\x06\x06") != std::string::npos);                  // ZIP64 end of central directory record
  CHECK(bytes.find("PK\x06\x07") != std::string::npos);                  // and its locator
  CHECK(bytes.substr(bytes.size() - 12, 10) == std::string(10, '\xff')); // classic end record: all sentinels
  CHECK(bytes.substr(18, 8) == std::string(8, '\xff'));                  // local sizes: in the ZIP64 extra field
  ZipReader r(dir / "b.zip");
  REQUIRE(r.entries().size() == 2);
  CHECK(r.read_small(r.entries()[0], 100) == kMeta);
  CHECK(r.read_small(r.entries()[1], 5000) == pattern(5000));
  auto [rc, out] = run("zipinfo -v " + (dir / "b.zip"));
  CHECK_MESSAGE(out.find("PKWARE 64-bit sizes") != std::string::npos, out);
}

// Writing and reading 4.5 GiB means computing its CRC-32 three times (writer, ZipReader, Python) at about
// 1 GB/s: about 35 s under ASan, so it runs only with AIRLOCK_SLOW_TESTS=1. The forced-ZIP64 test above and
// the 100000-entry test below cover the ZIP64 records in every run.
TEST_CASE("bundle::ZipWriter and ZipReader handle a sparse 4.5 GiB entry past the 4 GiB offsets (ZIP64)" *
          doctest::skip(std::getenv("AIRLOCK_SLOW_TESTS") == nullptr)) {
  testutil::TempDir dir;
  const std::uint64_t big = 4608ull << 20; // 4.5 GiB, all zeros, sparse
  testutil::write_file(dir / "sparse", "");
  std::filesystem::resize_file(dir / "sparse", big);
  auto t0 = std::chrono::steady_clock::now();
  ZipWriter w(dir / "big.zip");
  w.add_bytes("before", "first");
  w.add_file("targets/huge.img", dir / "sparse");
  w.add_bytes("after", "last"); // its local header offset is above 4 GiB
  w.finish();
  std::filesystem::remove(dir / "sparse");

  ZipReader r(dir / "big.zip");
  REQUIRE(r.entries().size() == 3);
  const auto* huge = r.find("targets/huge.img");
  REQUIRE(huge != nullptr);
  CHECK(huge->size == big);
  CHECK(r.find("after")->data_offset > big);
  CHECK(r.read_small(*r.find("after"), 10) == "last");
  CHECK(r.read_small(*r.find("before"), 10) == "first");
  CHECK_THROWS_AS((void)r.read_small(*huge, 1 << 20), Error);
  // Stream the whole entry: the CRC check at the end must pass, and exactly `big` bytes come out.
  auto src = r.open(*huge);
  std::vector<char> buf(1 << 20);
  std::uint64_t total = 0;
  while (std::size_t n = src->read(buf.data(), buf.size())) total += n;
  CHECK(total == big);

  auto [rc_l, out_l] = run("unzip -l " + (dir / "big.zip"));
  CHECK_MESSAGE(rc_l == 0, out_l);
  CHECK(out_l.find("4831838208") != std::string::npos);
  auto [rc_p, out_p] = run("python3 -m zipfile -t " + (dir / "big.zip"));
  CHECK_MESSAGE(rc_p == 0, out_p);
  CHECK(out_p.find("Done testing") != std::string::npos);
  MESSAGE("4.5 GiB ZIP64 round trip took "
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
}

TEST_CASE("bundle::ZipWriter and ZipReader handle 100000 entries (ZIP64 end records) and refuse one more") {
  testutil::TempDir dir;
  {
    ZipWriter w(dir / "many.zip");
    for (std::size_t i = 0; i < airlock::bundle::kMaxZipEntries; ++i)
      w.add_bytes("t/" + std::to_string(i), std::to_string(i));
    try {
      w.add_bytes("one-too-many", "x");
      FAIL("accepted entry 100001");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::bad_input);
      CHECK(std::string(e.what()).find("a bundle holds at most 100000 entries") != std::string::npos);
    }
    w.finish();
  }
  CHECK(testutil::read_file(dir / "many.zip").find("PK\x06\x06") != std::string::npos); // more than 65535 entries
  ZipReader r(dir / "many.zip");
  REQUIRE(r.entries().size() == 100000);
  CHECK(r.entries()[99999].name == "t/99999");
  REQUIRE(r.find("t/54321") != nullptr);
  CHECK(r.read_small(*r.find("t/54321"), 10) == "54321");
  auto [rc, out] = run("unzip -l " + (dir / "many.zip") + " | tail -1");
  CHECK_MESSAGE(out.find("100000 files") != std::string::npos, out);
}

TEST_CASE("bundle::ZipWriter writes and ZipReader reads an empty bundle") {
  testutil::TempDir dir;
  ZipWriter w(dir / "empty.zip");
  w.finish();
  CHECK(testutil::read_file(dir / "empty.zip").size() == 22);
  CHECK(ZipReader(dir / "empty.zip").entries().empty());
}

TEST_CASE("bundle::ZipWriter is deterministic") {
  testutil::TempDir dir;
  CHECK(write_small_bundle(dir / "a.zip") == write_small_bundle(dir / "b.zip"));
}

TEST_CASE("bundle::ZipWriter leaves no file without finish()") {
  testutil::TempDir dir;
  {
    ZipWriter w(dir / "b.zip");
    w.add_bytes("a", "data");
  }
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("bundle::ZipWriter refuses unsafe and duplicate names and keeps going") {
  testutil::TempDir dir;
  ZipWriter w(dir / "b.zip");
  w.add_bytes("a/b", "x");
  for (const std::string& name :
       {std::string("../x"), std::string("/abs"), std::string("a//b"), std::string("a\\b"), std::string("./a"),
        std::string("dir/"), std::string(""), std::string("a\0b", 3), std::string(4097, 'n'), std::string("a/b")}) {
    try {
      w.add_bytes(name, "x");
      FAIL("accepted name " << name);
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::bad_input);
    }
  }
  CHECK_THROWS_AS(w.add_file("c", dir / "missing"), Error);
  w.add_bytes("c", "y");
  w.finish();
  ZipReader r(dir / "b.zip");
  CHECK(r.entries().size() == 2);
}

TEST_CASE("bundle::ZipReader reads zips made by Info-ZIP zip -0, to a file and streamed with data descriptors") {
  testutil::TempDir dir;
  std::filesystem::create_directory(dir / "src");
  std::filesystem::create_directory(dir / "src/sub");
  testutil::write_file(dir / "src/a.txt", "hello\n");
  testutil::write_file(dir / "src/sub/b.bin", pattern(70000));
  auto [rc1, out1] = run("cd " + (dir / "src") + " && zip -q -0 -D ../seek.zip a.txt sub/b.bin");
  REQUIRE_MESSAGE(rc1 == 0, out1);
  auto [rc2, out2] = run("cd " + (dir / "src") + " && zip -q -0 -D - a.txt sub/b.bin | cat > ../stream.zip");
  REQUIRE_MESSAGE(rc2 == 0, out2);
  CHECK(testutil::read_file(dir / "stream.zip").find("PK\x07\x08") != std::string::npos);
  for (const char* name : {"seek.zip", "stream.zip"}) {
    ZipReader r(dir / name);
    REQUIRE(r.entries().size() == 2);
    CHECK(r.read_small(*r.find("a.txt"), 100) == "hello\n");
    CHECK(stream_all(r, *r.find("sub/b.bin")) == pattern(70000));
  }
}

TEST_CASE("bundle::ZipReader refuses files that are not zips, truncated or padded archives") {
  testutil::TempDir dir;
  testutil::write_file(dir / "tiny", "PK");
  check_refused(dir / "tiny", "too short for a zip file");
  testutil::write_file(dir / "text", "this is a plain text file and certainly not a zip archive\n");
  check_refused(dir / "text", "no end of central directory record");

  const std::string good = write_small_bundle(dir / "good.zip");
  testutil::write_file(dir / "cut.zip", good.substr(0, good.size() - 10));
  check_refused(dir / "cut.zip", "no end of central directory record");
  // Cut in the middle of the data but with the end of the archive still in place.
  const std::size_t cd = central_dir(good);
  testutil::write_file(dir / "hole.zip", good.substr(0, cd / 2) + good.substr(cd));
  check_refused(dir / "hole.zip", "lies beyond the end of the archive");
  testutil::write_file(dir / "prefixed.zip", "#!/bin/sh\nexit 0\n" + good);
  check_refused(dir / "prefixed.zip", "unexplained bytes between the central directory and the end records");
  testutil::write_file(dir / "trailing.zip", good + "junk");
  check_refused(dir / "trailing.zip", "no end of central directory record");
  // Entry data declared larger than what lies before the central directory.
  check_raw_refused({Raw("a", "abc").with_declared_size(1000)},
                    "bytes of data at byte 31, beyond the start of the central directory");
}

TEST_CASE("bundle::ZipReader refuses a zip-slip name") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/etc/passwd", "has an absolute name"},
      {"../../etc/cron.d/x", "has a \"..\" path component"},
      {"targets/../../x", "has a \"..\" path component"},
      {"..", "has a \"..\" path component"},
      {"targets\\..\\x", "has a backslash"},
      {"targets//x", "has an empty path component"},
      {"./x", "has a \".\" path component"},
      {"targets/./x", "has a \".\" path component"},
      {std::string("targets/x\0.txt", 14), "has a NUL byte"},
      {std::string(4097, 'n'), "has a name of 4097 bytes, more than the 4096 allowed"},
      {"", "has an empty name"},
      {"targets/", "is a directory entry"},
  };
  for (const auto& [name, needle] : cases) {
    CAPTURE(name);
    check_raw_refused({Raw("ok", "1"), Raw(name, "2")}, needle);
  }
  // A 4096-byte name is still fine.
  testutil::TempDir dir;
  testutil::write_file(dir / "long.zip", raw_zip({Raw(std::string(4096, 'n'), "x")}));
  CHECK(ZipReader(dir / "long.zip").entries().size() == 1);
}

TEST_CASE("bundle::ZipReader refuses duplicate names, compressed and encrypted entries") {
  check_raw_refused({Raw("a/b", "1"), Raw("c", "2"), Raw("a/b", "3")}, "entry \"a/b\" appears twice (duplicate name)");
  check_raw_refused({Raw("x.gz", "abc").with_method(8)}, "entry \"x.gz\" is compressed (method 8)");
  check_raw_refused({Raw("secret", "abc").with_flags(1)}, "entry \"secret\" is encrypted");
  check_raw_refused({Raw("secret", "abc").with_flags(0x40)}, "entry \"secret\" is encrypted");
}

TEST_CASE("bundle::ZipReader checks data descriptors") {
  testutil::TempDir dir;
  testutil::write_file(dir / "dd.zip", raw_zip({Raw("a", "abc").with_flags(8), Raw("b", "d")}));
  ZipReader r(dir / "dd.zip");
  CHECK(r.read_small(*r.find("a"), 10) == "abc");
  CHECK(r.find("b")->data_offset == 30 + 1 + 3 + 16 + 30 + 1);
  check_raw_refused({Raw("a", "abc").with_flags(8).with_descriptor_crc(0x12345678)},
                    "entry \"a\" has a data descriptor that disagrees with the central directory");
}

TEST_CASE("bundle::ZipReader refuses a local header that disagrees with the central directory") {
  testutil::TempDir dir;
  const std::string good = write_small_bundle(dir / "good.zip");
  const std::size_t cd = central_dir(good);
  auto refused_patch = [&](std::size_t at, const std::string& with, const std::string& needle) {
    std::string bad = good;
    patch(bad, at, with);
    testutil::write_file(dir / "bad.zip", bad);
    check_refused(dir / "bad.zip", needle);
  };
  // The first local header is at byte 0: flags at 6, method at 8, CRC at 14, sizes at 18 and 22.
  refused_patch(8, le(8, 2), "entry \"meta/root.json\" has compression method 8 in its local header");
  refused_patch(6, le(0, 2), "entry \"meta/root.json\" has flags 0x00000000 in its local header");
  refused_patch(14, le(0xdeadbeef, 4), "its local header and the central directory disagree on its CRC-32");
  refused_patch(18, le(7, 4) + le(7, 4), "its local header and the central directory disagree on its size");
  refused_patch(30, "x", "entry \"meta/root.json\" is named \"xeta/root.json\" in its local header");
  // The central directory entry: sizes at +20 (compressed) and +24, local header offset at +42.
  refused_patch(cd + 20, le(3, 4), "is stored, but its compressed size (3) differs from its size (");
  refused_patch(cd + 42, le(1, 4), "entry \"meta/root.json\" has no local header at byte 1");
  check_raw_refused({Raw("a", "abc").with_local_name("b")}, "entry \"a\" is named \"b\" in its local header");
}

TEST_CASE("bundle::ZipReader refuses overlapping entries") {
  // Entry "b" is a complete, consistent local header and data hidden inside the data of entry "a".
  const Raw inner("b", "hidden");
  check_raw_refused({Raw("a", raw_local(inner)), Raw("b", "hidden").with_offset(31)},
                    "entries \"a\" and \"b\" overlap");
}

TEST_CASE("bundle::ZipReader refuses entry count mismatches, multi-disk archives and too many entries") {
  testutil::TempDir dir;
  const std::string good = write_small_bundle(dir / "good.zip");
  const std::size_t end = good.size() - 22;
  auto refused_patch = [&](const std::string& base, std::size_t at, const std::string& with,
                           const std::string& needle) {
    std::string bad = base;
    patch(bad, at, with);
    testutil::write_file(dir / "bad.zip", bad);
    check_refused(dir / "bad.zip", needle);
  };
  refused_patch(good, end + 8, le(3, 2) + le(3, 2), "(entry count mismatch)");
  refused_patch(good, end + 8, le(1, 2) + le(1, 2), "bytes left after the 1 entries the end record declares");
  refused_patch(good, end + 4, le(1, 2), "multi-disk");
  refused_patch(good, end + 10, le(1, 2), "multi-disk");
  refused_patch(good, end + 16, le(central_dir(good) + 1000, 4), "lies beyond the end of the archive");

  // ZIP64: the record starts 56 + 20 bytes before the classic end record; counts at +24 and +32.
  const std::string z64 = write_small_bundle(dir / "z64.zip", Zip64::always);
  const std::size_t record = z64.size() - 22 - 20 - 56;
  REQUIRE(z64.substr(record, 4) == "PK\x06\x06");
  refused_patch(z64, record + 24, le(100001, 8) + le(100001, 8),
                "it declares 100001 entries, more than the 100000 allowed");
  refused_patch(z64, record + 24, le(3, 8) + le(3, 8), "(entry count mismatch)");
  refused_patch(z64, record + 16, le(1, 4), "multi-disk");
  refused_patch(z64, record, "PK\x06\x07", "no ZIP64 end of central directory record at byte");
  refused_patch(z64, z64.size() - 22 + 8, le(5, 2) + le(5, 2),
                "the end of central directory record and its ZIP64 record disagree");
}

TEST_CASE("bundle::ZipReader detects a CRC mismatch at the end of a streaming read") {
  testutil::TempDir dir;
  std::string bytes = write_small_bundle(dir / "b.zip");
  ZipReader good(dir / "b.zip");
  const auto entry = *good.find("targets/app.tar.gz");
  bytes[entry.data_offset + 4000] ^= 0x01;
  testutil::write_file(dir / "b.zip", bytes);

  ZipReader r(dir / "b.zip"); // the structure is fine: only reading the data finds the damage
  auto src = r.open(*r.find("targets/app.tar.gz"));
  char buf[1000];
  for (int i = 0; i < 4; ++i) CHECK(src->read(buf, sizeof buf) == 1000);
  try {
    (void)src->read(buf, sizeof buf);
    FAIL("no error for a corrupt entry");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_MESSAGE(std::string(e.what()).find("entry \"targets/app.tar.gz\" is corrupt: its data has CRC-32") !=
                      std::string::npos,
                  e.what());
  }
  CHECK_THROWS_AS((void)src->read(buf, sizeof buf), Error); // and it stays refused
  CHECK_THROWS_AS((void)r.read_small(*r.find("targets/app.tar.gz"), 10000), Error);
  CHECK(r.read_small(*r.find("meta/root.json"), 100) == kMeta);
}

TEST_CASE("bundle::ZipReader::read_small refuses an entry above its limit") {
  testutil::TempDir dir;
  write_small_bundle(dir / "b.zip");
  ZipReader r(dir / "b.zip");
  try {
    (void)r.read_small(*r.find("targets/app.tar.gz"), 4999);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::bad_input);
    CHECK(std::string(e.what()).find("entry \"targets/app.tar.gz\" is 5000 bytes, more than the 4999 allowed") !=
          std::string::npos);
  }
  CHECK(r.read_small(*r.find("targets/app.tar.gz"), 5000) == pattern(5000));
}
