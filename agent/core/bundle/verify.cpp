#include "bundle/verify.hpp"

#include "trust/target.hpp"
#include "util/error.hpp"
#include "util/parallel.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

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

std::uint64_t verify_all(Container& c, const std::vector<VerifiedTarget>& targets) {
  // Largest first, so that the last job to start is a small one and no thread idles while one hashes a big file.
  std::vector<std::size_t> order(targets.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return targets[a].target.length > targets[b].target.length; });
  std::mutex open_mutex; // Container::open is one thread at a time; the reads of what it opens are not
  std::atomic<std::uint64_t> bytes{0};
  util::for_each_index(order.size(), util::worker_threads(), [&](std::size_t k) {
    const VerifiedTarget& v = targets[order[k]];
    std::unique_ptr<util::Source> src;
    {
      std::lock_guard<std::mutex> lock(open_mutex);
      src = c.open(v.path);
    }
    if (!src) fail(ExitCode::not_found, fmt::format("{} does not hold {}", c.describe(), util::quoted(v.path)));
    bytes += verify_target_in(c, v.target, *src);
  });
  return bytes.load();
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
    r.verified.push_back({*it->second, path});
    present[path] = true;
  }
  r.bytes = verify_all(c, r.verified);
  for (const auto& [path, t] : by_path)
    if (!present.count(path)) r.absent.push_back(t->name);
  return r;
}

} // namespace airlock::bundle
