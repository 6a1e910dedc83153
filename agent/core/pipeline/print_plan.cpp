// --plan: what an import would change, printed and nothing done.
#include "pipeline/choose.hpp"
#include "pipeline/run.hpp"

#include "log/log.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

namespace airlock::pipeline {
namespace {

struct FileChanges {
  std::vector<std::string> added, changed, removed;
};

FileChanges diff_files(const release::Manifest& m, const std::optional<release::Manifest>& old) {
  std::map<std::string, const release::FileEntry*> old_files;
  if (old)
    for (const auto& f : old->files) old_files[f.path] = &f;
  FileChanges d;
  std::set<std::string> now;
  for (const auto& f : m.files) {
    now.insert(f.path);
    auto it = old_files.find(f.path);
    if (it == old_files.end())
      d.added.push_back(f.path);
    else if (it->second->type != f.type || it->second->sha256 != f.sha256 || it->second->mode != f.mode ||
             it->second->target != f.target)
      d.changed.push_back(f.path);
  }
  for (const auto& [path, _] : old_files)
    if (!now.count(path)) d.removed.push_back(path);
  return d;
}

void print_images(Context& ctx, const release::Manifest& m, const trust::TrustedState& st, std::ostream& o) {
  o << "images:\n";
  const auto needs = image_needs(ctx, m);
  for (const auto& i : m.images) {
    const std::string tags = fmt::format("{}", fmt::join(i.tags, ", "));
    auto n = std::find_if(needs.begin(), needs.end(), [&](const image::Need& x) { return x.image == &i; });
    if (n == needs.end()) {
      o << fmt::format("  {} ({}): present, not loaded\n", i.id.substr(0, 19), tags);
      continue;
    }
    std::uint64_t bytes = signed_target(st, i.config, m.version).length;
    for (std::size_t k = n->held; k < i.layers.size(); ++k)
      bytes += signed_target(st, i.layers[k].blob, m.version).length;
    o << fmt::format("  {} ({}): load; {} of {} layer(s) to fetch ({}), {} in the engine\n", i.id.substr(0, 19), tags,
                     i.layers.size() - n->held, i.layers.size(), log::human_bytes(bytes), n->held);
  }
}

} // namespace

void print_plan(Context& ctx, const release::Manifest& m, const trust::TrustedState& st,
                const std::optional<std::string>& current, std::uint64_t read_bytes, std::uint64_t disk_bytes) {
  std::ostream& o = std::cout;
  o << fmt::format("plan: {} {} -> {} ({})\n", ctx.cfg().app_name, current.value_or("(nothing installed)"), m.version,
                   m.is_patch ? "patch from " + m.base_version : std::string("full release"));
  std::optional<release::Manifest> old;
  if (current) old = stored_manifest(ctx.layout(), *current);
  const auto d = diff_files(m, old);
  auto list = [&](const char* what, const std::vector<std::string>& v) {
    o << fmt::format("files {}: {}\n", what, v.size());
    for (std::size_t i = 0; i < v.size() && i < 50; ++i) o << "  " << v[i] << "\n";
    if (v.size() > 50) o << fmt::format("  ... and {} more\n", v.size() - 50);
  };
  if (!old) o << "files: no release.json of the installed version to compare with; every file is new\n";
  list("added", d.added);
  list("changed", d.changed);
  list("removed", d.removed);
  print_images(ctx, m, st, o);
  if (current) {
    try {
      auto p = ctx.project(*current, require_manifest(ctx.layout(), *current).compose_file);
      auto svcs = ctx.engine().services(p);
      o << fmt::format("services restarted (project {}): {}\n", p.name, fmt::join(svcs, ", "));
    } catch (const Error& e) {
      o << "services: unknown (" << e.what() << ")\n";
    }
  }
  o << fmt::format("bytes to read and verify: {}\ndisk needed (staging, images, backup): about {}\n",
                   log::human_bytes(read_bytes), log::human_bytes(disk_bytes));
  o << "nothing was changed (--plan)\n";
}

} // namespace airlock::pipeline
