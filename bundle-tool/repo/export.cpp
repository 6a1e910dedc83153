#include "bundle/container.hpp"
#include "bundle/zip.hpp"
#include "image/plan.hpp"
#include "release/manifest.hpp"
#include "repo/repository.hpp"
#include "trust/target.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <set>

namespace airlock::bundle_tool {

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
  // With --from, the images' configs and layers that the base release's images lack (as a site running it
  // lacks them: by chain, image/plan.hpp); otherwise all of them.
  std::vector<docker::LocalImage> base_images;
  auto add_release = [&](const std::string& dir) {
    const auto m = manifest_of(dir);
    names.insert(m.payload);
    for (const auto& img : m.images)
      if (img.archive) names.insert(*img.archive); // release.json format 1
    for (const auto& name : image::blobs(image::needs(m, base_images))) names.insert(name);
  };
  if (opt.from) {
    const std::string pdir = release::patch_dir(repo.app(), opt.version, opt.arch, *opt.from);
    if (!targets.count(pdir + "/release.json"))
      fail(ExitCode::not_found, fmt::format("no patch from {} to {} for {} in {}; make it with 'airlock-bundle patch "
                                            "add --from {} --to {}'",
                                            *opt.from, opt.version, opt.arch, repo.dir(), *opt.from, opt.version));
    const std::string base_dir = release::release_dir(repo.app(), *opt.from, opt.arch);
    const auto& base_rel = targets.at(base_dir + "/release.json");
    for (const auto& img :
         release::parse_manifest(util::read_file(repo.target_file(base_rel), 8u << 20), base_rel.name).images) {
      docker::LocalImage held{img.id, {}};
      for (const auto& l : img.layers) held.layers.push_back(l.diff_id);
      base_images.push_back(std::move(held));
    }
    add_release(pdir);
  } else if (opt.patch_only) {
    fail(ExitCode::usage, "--patch-only needs --from");
  }
  if (!opt.patch_only) add_release(full_dir);

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
