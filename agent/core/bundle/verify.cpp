#include "bundle/verify.hpp"

#include "trust/target.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <map>

namespace airlock::bundle {

std::uint64_t verify_target_in(Container& c, const trust::TargetFile& t, util::Source& src, util::Sink* copy) {
  try {
    return trust::verify_target(t, src, c.describe(), copy);
  } catch (const Error& e) {
    const std::string hint = c.damage_hint();
    if (hint.empty()) throw;
    fail(e.code(), e.what() + hint);
  }
}

VerifyReport verify_container(Container& c, trust::TrustedState start, std::int64_t now) {
  VerifyReport r{std::move(start), {}, {}, {}, 0};
  trust::refresh(r.state, c, trust::RefreshOptions{now});
  std::map<std::string, const trust::TargetFile*> by_path;
  for (const auto& [name, t] : r.state.targets->meta.targets) by_path.emplace(target_path(t), &t);
  std::map<std::string, bool> present;
  for (const auto& path : c.target_files()) {
    auto it = by_path.find(path);
    if (it == by_path.end()) {
      if (c.is_bundle())
        fail(ExitCode::verify_failed, fmt::format("{}: holds {}, which no signed target lists; refusing the bundle",
                                                  c.describe(), util::quoted(path)));
      r.unlisted.push_back(path);
      continue;
    }
    auto src = c.open(path);
    r.bytes += verify_target_in(c, *it->second, *src);
    r.verified.push_back({*it->second, path});
    present[path] = true;
  }
  for (const auto& [path, t] : by_path)
    if (!present.count(path)) r.absent.push_back(t->name);
  return r;
}

} // namespace airlock::bundle
