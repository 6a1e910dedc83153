#include "bundle/container.hpp"
#include "bundle/zip.hpp"
#include "fleet/offer.hpp"
#include "image/plan.hpp"
#include "release/manifest.hpp"
#include "release/version.hpp"
#include "repo/repository.hpp"
#include "trust/target.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <set>

namespace airlock::bundle_tool {

std::vector<std::string> upgrade_steps(const Repository& repo, const ExportOptions& opt) {
  struct Rel {
    std::string version;
    fleet::Offer offer;
  };
  std::vector<Rel> rels; // full releases for the architecture after --from, up to --version (in --channel)
  for (const auto& [name, t] : repo.targets().targets) {
    const auto& c = t.custom;
    if (json::string_or(c, "role", "") != "release" || json::string_or(c, "kind", "") != "full" ||
        json::string_or(c, "arch", "") != opt.arch)
      continue;
    const std::string v = json::string_or(c, "version", "");
    if (release::compare_versions(v, *opt.from) <= 0 || release::compare_versions(v, opt.version) > 0) continue;
    fleet::Offer o = fleet::offer_of(c, name);
    if (opt.channel && !o.in_channel(*opt.channel)) continue;
    rels.push_back({v, std::move(o)});
  }
  std::vector<std::string> steps;
  std::string at = *opt.from;
  while (release::compare_versions(at, opt.version) < 0) {
    const Rel* next = nullptr; // the newest release that installs over `at`
    for (const auto& r : rels)
      if (release::compare_versions(r.version, at) > 0 &&
          (r.offer.min_upgrade_from.empty() || release::compare_versions(at, r.offer.min_upgrade_from) >= 0) &&
          (!next || release::compare_versions(r.version, next->version) > 0))
        next = &r;
    if (!next) {
      std::string so_far = *opt.from;
      for (const auto& s : steps) so_far += " -> " + s;
      fail(ExitCode::not_found,
           fmt::format("no upgrade path from {} to {} for {} in {}{}: it ends at {} (a release there needs a newer "
                       "installed version than any published one gives)",
                       *opt.from, opt.version, opt.arch, repo.dir(),
                       opt.channel ? " in channel " + *opt.channel : std::string(), so_far));
    }
    steps.push_back(next->version);
    at = next->version;
  }
  return steps;
}

std::size_t export_bundle(const Repository& repo, const ExportOptions& opt) {
  const auto& targets = repo.targets().targets;
  const std::string full_dir = release::release_dir(repo.app(), opt.version, opt.arch);
  if (!targets.count(full_dir + "/release.json"))
    fail(ExitCode::not_found, fmt::format("release {} for {} is not in repository {} ('airlock-bundle inspect {}' "
                                          "lists what is)",
                                          opt.version, opt.arch, repo.dir(), repo.dir()));
  std::set<std::string> names;
  auto manifest_of = [&](const std::string& dir) {
    const auto& rel = targets.at(dir + "/release.json");
    names.insert(rel.name);
    return release::parse_manifest(util::read_file(repo.target_file(rel), 8u << 20), rel.name);
  };
  // With --from, the images' configs and layers that the site lacks (as a site running the releases before lacks
  // them: by chain, image/plan.hpp); otherwise all of them.
  std::vector<docker::LocalImage> base_images;
  auto add_release = [&](const std::string& dir) {
    const auto m = manifest_of(dir);
    names.insert(m.payload);
    for (const auto& img : m.images)
      if (img.archive) names.insert(*img.archive); // release.json format 1
    const image::TakeDelta take = [&](const std::string&) { return !opt.no_deltas; };
    for (const auto& name : image::blobs(image::needs(m, base_images), take)) names.insert(name);
    return m;
  };
  auto held_after = [&](const release::Manifest& m) { // the engine keeps the images of the release before
    for (const auto& img : m.images) {
      docker::LocalImage held{img.id, {}};
      for (const auto& l : img.layers) held.layers.push_back(l.diff_id);
      base_images.push_back(std::move(held));
    }
  };
  if (opt.from) {
    const std::string base_dir = release::release_dir(repo.app(), *opt.from, opt.arch);
    if (!targets.count(base_dir + "/release.json"))
      fail(ExitCode::not_found,
           fmt::format("release {} for {} (--from) is not in repository {}", *opt.from, opt.arch, repo.dir()));
    const auto& base_rel = targets.at(base_dir + "/release.json");
    held_after(release::parse_manifest(util::read_file(repo.target_file(base_rel), 8u << 20), base_rel.name));
    // Every step of the required upgrade path (min_upgrade_from), each as a patch from the step before where the
    // repository has one.
    std::string prev = *opt.from;
    for (const auto& step : upgrade_steps(repo, opt)) {
      const std::string pdir = release::patch_dir(repo.app(), step, opt.arch, prev);
      const bool has_patch = targets.count(pdir + "/release.json") > 0;
      if (!has_patch && opt.patch_only)
        fail(ExitCode::not_found,
             fmt::format("no patch from {} to {} for {} in {}; make it with 'airlock-bundle patch add --from {} --to "
                         "{}', or export without --patch-only",
                         prev, step, opt.arch, repo.dir(), prev, step));
      if (has_patch) add_release(pdir);
      const auto m =
          !opt.patch_only ? add_release(release::release_dir(repo.app(), step, opt.arch)) : manifest_of(pdir);
      held_after(m);
      prev = step;
    }
  } else {
    if (opt.patch_only) fail(ExitCode::usage, "--patch-only needs --from");
    add_release(full_dir);
  }

  bundle::ZipWriter zip(opt.out, bundle::Zip64::when_needed, opt.part_size);
  for (const auto& m : repo.metadata_files()) zip.add_file("metadata/" + m, repo.dir() + "/metadata/" + m);
  for (const auto& name : names) {
    const auto& t = targets.at(name);
    // Never ship a damaged file: check it against the signed metadata first.
    util::FileSource check(repo.target_file(t));
    trust::verify_target(t, check, "repository " + repo.dir());
    zip.add_file(bundle::target_path(t), repo.target_file(t));
  }
  zip.finish();
  return names.size();
}

} // namespace airlock::bundle_tool
