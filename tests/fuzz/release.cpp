// release/: release.json (parse_manifest), which names every path that staging writes, and the version rules
// (release/version.hpp) that name directories of a site. Invariants: every path of an accepted release is a
// safe relative path and every version is valid; to_json_text() of an accepted release parses again to the same
// release; compare_versions() is a consistent order (reflexive, antisymmetric, and never throws on valid
// versions). An input whose first line is not JSON is also read as two versions separated by a space.
#include "fuzz.hpp"
#include "release/manifest.hpp"
#include "release/version.hpp"

using namespace airlock;

namespace {

int sign(int v) { return (v > 0) - (v < 0); }

void check_order(const std::string& a, const std::string& b) {
  if (!release::is_valid_version(a) || !release::is_valid_version(b)) return;
  int ab = 0, ba = 0, aa = 1;
  if (fuzz::refused([&] {
        ab = release::compare_versions(a, b);
        ba = release::compare_versions(b, a);
        aa = release::compare_versions(a, a);
      }))
    fuzz::broken("compare_versions() refused valid versions");
  if (aa != 0) fuzz::broken("a version does not compare equal to itself");
  if (sign(ab) != -sign(ba)) fuzz::broken("compare_versions() is not antisymmetric");
}

void check_paths(const release::Manifest& m) {
  auto safe = [](const std::string& p) {
    if (!release::is_safe_relative_path(p)) fuzz::broken("accepted the unsafe path '" + p + "'");
  };
  safe(m.compose_file);
  safe(m.payload);
  for (const auto& f : m.files) safe(f.path);
  for (const auto& d : m.deletes) safe(d);
  for (const auto& i : m.images) {
    if (m.format == 2) safe(i.config);
    if (i.archive) safe(*i.archive);
    for (const auto& l : i.layers) safe(l.blob);
  }
  for (const auto* v : {&m.version, &m.min_agent_version})
    if (!release::is_valid_version(*v)) fuzz::broken("accepted the version '" + *v + "'");
  if (m.is_patch && !release::is_valid_version(m.base_version)) fuzz::broken("accepted a bad base_version");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  release::Manifest m;
  if (fuzz::refused([&] { m = release::parse_manifest(input, "fuzz release.json"); })) {
    const std::string line(input.substr(0, input.find('\n')));
    const std::size_t space = line.find(' ');
    if (space != std::string::npos) check_order(line.substr(0, space), line.substr(space + 1));
    return 0;
  }
  check_paths(m);
  check_order(m.version, m.min_agent_version);
  if (m.is_patch) check_order(m.version, m.base_version);
  const std::string text = release::to_json_text(m);
  release::Manifest again;
  if (fuzz::refused([&] { again = release::parse_manifest(text, "to_json_text"); }))
    fuzz::broken("to_json_text() of an accepted release does not parse");
  if (release::to_json_text(again) != text || again.files.size() != m.files.size() ||
      again.images.size() != m.images.size() || again.deletes.size() != m.deletes.size())
    fuzz::broken("to_json_text() changed the release");
  return 0;
}
