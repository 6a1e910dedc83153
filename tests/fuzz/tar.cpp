// archive/tar TarReader (and GzipSource under it): app trees, layers and backups are tar archives, the first two
// from bundles. Each input is read three ways: as it is; with the checksum of every 512-byte block made right
// (random bytes almost never have a valid header checksum, so without this the fuzzer would hardly get past the
// first header); and, when it starts with the gzip magic, through GzipSource. Every entry is read to its end,
// alternately by read() and by skip(). Invariants: only files have data, and read() returns exactly `size`.
#include "archive/tar.hpp"
#include "archive/gzip.hpp"
#include "fuzz.hpp"

using namespace airlock;

namespace {

void read_all(util::Source& in) {
  archive::TarReader tar(in, "fuzz.tar");
  archive::Entry e;
  for (int n = 0; tar.next(e); ++n) {
    if (e.type != archive::Entry::Type::file && e.size != 0) fuzz::broken("an entry that is not a file has a size");
    if (n % 2) {
      tar.skip();
      continue;
    }
    std::uint64_t got = 0;
    char buf[1000];
    for (std::size_t k; (k = tar.read(buf, sizeof buf)) > 0;) got += k;
    if (got != e.size) fuzz::broken("read() did not return exactly the entry's size");
  }
  if (tar.next(e)) fuzz::broken("next() returned an entry after the end of the archive");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string raw(reinterpret_cast<const char*>(data), size);
  {
    fuzz::TrickleSource in(raw);
    fuzz::refused([&] { read_all(in); });
  }
  const std::string fixed = fuzz::with_checksums(raw);
  {
    fuzz::TrickleSource in(fixed);
    fuzz::refused([&] { read_all(in); });
  }
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
    fuzz::TrickleSource in(raw);
    fuzz::refused([&] {
      archive::GzipSource gz(in, "fuzz.tar.gz");
      read_all(gz);
    });
  }
  return 0;
}
