// `import --scan DIR`: the newest bundle on a stick that fits this site.
#include "pipeline/upgrade.hpp"

#include "about/build_info.hpp"
#include "bundle/parts.hpp"
#include "bundle/verify.hpp"
#include "pipeline/select.hpp"
#include "release/version.hpp"
#include "site/stage.hpp"
#include "util/error.hpp"
#include "util/io.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace airlock::pipeline {
namespace fs = std::filesystem;
namespace {

using Candidates = std::vector<std::pair<std::string, std::string>>; // version, path

// The metadata of every file (cheap): which could update this site, and to what; newest first.
Candidates candidates_in(Context& ctx, const std::vector<std::string>& files, std::vector<std::string>& skipped) {
  const auto current = site::current_version(ctx.layout().app_dir());
  Candidates out;
  for (const auto& f : files) {
    try {
      auto source = bundle::open_container(f);
      auto st = trust::TrustedState::load(ctx.layout().trust_dir());
      trust::refresh(st, *source, {ctx.clock().unix_seconds()});
      Wanted w{ctx.cfg().app_name, about::target_arch(), current, std::nullopt, true,
               ctx.cfg().channel,  std::nullopt,         false};
      const auto path = upgrade_path(st, *source, w); // where importing it would lead: its last step
      if (!path.unreachable.empty())
        skipped.push_back(f + ": " + path.unreachable);
      else if (path.steps.empty())
        skipped.push_back(f + ": " + (path.skipped.empty() ? std::string("holds no release") : path.skipped.front()));
      else if (current && release::compare_versions(path.steps.back().version, *current) <= 0)
        skipped.push_back(
            fmt::format("{}: {} is not newer than the installed {}", f, path.steps.back().version, *current));
      else
        out.emplace_back(path.steps.back().version, f);
    } catch (const Error& e) {
      skipped.push_back(f + ": " + e.what());
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return release::compare_versions(a.first, b.first) > 0; });
  return out;
}

// A part set is one bundle, listed by its first part: later parts are dropped here (bundle::open_container finds
// them beside the first), and parts whose first part is not in the directory are skipped once per set.
std::vector<std::string> bundles_among(const std::vector<std::string>& files, std::vector<std::string>& skipped) {
  const std::set<std::string> all(files.begin(), files.end());
  std::set<std::string> reported;
  std::vector<std::string> out;
  for (const auto& f : files) {
    const auto part = bundle::parse_part_name(f);
    if (!part || part->number == 1) {
      out.push_back(f);
      continue;
    }
    const std::string first = bundle::part_path(part->base, 1);
    if (!all.count(first) && reported.insert(part->base).second)
      skipped.push_back(
          fmt::format("{}: a part of a set whose first part, {}, is not there (copy the whole set)", f, first));
  }
  return out;
}

} // namespace

std::optional<std::string> scan(Context& ctx, const std::string& dir, std::vector<std::string>& skipped) {
  if (!fs::is_directory(dir)) fail(ExitCode::not_found, dir + " is not a directory");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  files = bundles_among(files, skipped);
  const auto candidates = candidates_in(ctx, files, skipped);
  // Then every byte of the newest, before it is chosen: a damaged stick must not win over an intact older bundle.
  // From the site's whole trusted state: a bundle older than what the site has seen loses here already.
  const auto site_state = trust::TrustedState::load(ctx.layout().trust_dir());
  std::optional<std::string> best;
  std::string best_version;
  for (const auto& [version, f] : candidates) {
    if (best) {
      skipped.push_back(fmt::format("{}: {} is older than {} in {}", f, version, best_version, *best));
      continue;
    }
    try {
      auto source = bundle::open_container(f);
      bundle::verify_container(*source, site_state, ctx.clock().unix_seconds());
      best = f;
      best_version = version;
    } catch (const Error& e) {
      skipped.push_back(f + ": " + e.what());
    }
  }
  return best;
}

} // namespace airlock::pipeline
