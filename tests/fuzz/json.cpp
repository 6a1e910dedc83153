// util/json: the strict parser that reads every TUF metadata file, release.json and docker's manifest.json.
// Invariants besides "never crashes, hangs or throws anything but airlock::Error": what parse() accepts,
// pretty() and compact() write back as JSON that parses to the same value, and canonical() accepts it too.
#include "util/json.hpp"
#include "fuzz.hpp"

using namespace airlock;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  json::Value v;
  json::ParseLimits small;
  small.max_depth = 8;
  small.max_bytes = 4096;
  fuzz::refused([&] { json::parse(text, "fuzz input", small); });
  if (fuzz::refused([&] { v = json::parse(text, "fuzz input"); })) return 0;
  std::string pretty, compact;
  if (fuzz::refused([&] { pretty = json::pretty(v); }) || fuzz::refused([&] { compact = json::compact(v); }) ||
      fuzz::refused([&] { json::canonical(v); }))
    fuzz::broken("a parsed value cannot be written back");
  json::Value again;
  if (fuzz::refused([&] { again = json::parse(pretty, "pretty"); }) || !(again == v))
    fuzz::broken("parse(pretty(v)) != v");
  if (fuzz::refused([&] { again = json::parse(compact, "compact"); }) || !(again == v))
    fuzz::broken("parse(compact(v)) != v");
  return 0;
}
