// bundle/zip ZipReader: the container of every bundle, read from a USB stick. The whole structure is checked
// when it opens; then every entry is read to its end (CRC checked, and once with the CRC skipped) and looked
// up by name. Invariants: an accepted archive's entries lie inside the file, their names follow the rules of
// zip.hpp (relative, no "." or ".." or empty component, no backslash or NUL) and are unique.
#include "bundle/zip.hpp"
#include "fuzz.hpp"

#include <set>

using namespace airlock;

namespace {

bool safe_name(const std::string& n) {
  if (n.empty() || n.size() > bundle::kMaxZipNameBytes || n.front() == '/' || n.back() == '/') return false;
  if (n.find('\\') != std::string::npos || n.find('\0') != std::string::npos) return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = n.find('/', start);
    const std::string part = n.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

void drain(util::Source& s) {
  char buf[4096];
  while (s.read(buf, sizeof buf) > 0) {
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto bytes = std::make_shared<fuzz::MemoryReadAt>(std::string(reinterpret_cast<const char*>(data), size));
  fuzz::refused([&] { bundle::ends_with_zip_end_record(*bytes); });
  std::unique_ptr<bundle::ZipReader> zip;
  if (fuzz::refused([&] { zip = std::make_unique<bundle::ZipReader>("fuzz.zip", bytes); })) return 0;
  std::set<std::string> names;
  for (const auto& e : zip->entries()) {
    if (!safe_name(e.name)) fuzz::broken("accepted an unsafe entry name");
    if (!names.insert(e.name).second) fuzz::broken("accepted a duplicate entry name");
    if (e.data_offset > size || e.size > size - e.data_offset) fuzz::broken("an entry's data lies outside the file");
    if (zip->find(e.name) != &e) fuzz::broken("find() does not return the entry of that name");
    fuzz::refused([&] { drain(*zip->open(e)); });
    fuzz::refused([&] { drain(*zip->open(e, bundle::ZipReader::Crc::skip)); });
    fuzz::refused([&] { zip->read_small(e, 1024); });
  }
  if (zip->find("no\\such")) fuzz::broken("find() returned an entry that is not there");
  return 0;
}
