// Retention after a commit: old releases, their images, old pre-upgrade backups.
#include "pipeline/run.hpp"

#include "backup/records.hpp"
#include "log/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace airlock::pipeline {
namespace fs = std::filesystem;
namespace {

// Installed versions, newest first, each once.
std::vector<std::string> install_order(Run& run) {
  std::vector<std::string> order;
  for (const auto& i : run.db().installs(run.ctx().cfg().app_name))
    if (std::find(order.begin(), order.end(), i.version) == order.end()) order.push_back(i.version);
  return order;
}

void prune_releases(Run& run) {
  const auto& l = run.layout();
  const auto order = install_order(run);
  std::set<std::string> keep = {run.plan().to, run.plan().from};
  for (const auto& v : order)
    if (keep.size() < static_cast<std::size_t>(run.ctx().cfg().keep_releases)) keep.insert(v);
  std::set<std::string> kept_images, dropped_images;
  std::vector<std::string> dropped;
  for (const auto& e : fs::directory_iterator(l.releases_dir())) {
    const std::string v = e.path().filename().string();
    if (!e.is_directory() || v.find(".partial") != std::string::npos) continue;
    auto m = stored_manifest(l, v);
    if (keep.count(v) || std::find(order.begin(), order.end(), v) == order.end()) { // never installed: staged
      if (m)
        for (const auto& i : m->images) kept_images.insert(i.id);
      continue;
    }
    if (m)
      for (const auto& i : m->images) dropped_images.insert(i.id);
    dropped.push_back(v);
  }
  for (const auto& v : dropped) {
    fs::remove_all(l.release_dir(v));
    fs::remove(l.manifest_path(v));
    log::event(log::Level::info, "prune", "release", "pruned release " + v);
  }
  for (const auto& id : dropped_images)
    if (!kept_images.count(id) && run.engine().image_present(id)) {
      if (run.engine().remove_image(id))
        log::event(log::Level::info, "prune", "image", "pruned image " + id);
      else
        log::event(log::Level::warning, "prune", "image", "could not remove image " + id + " (in use?)");
    }
}

} // namespace

void prune_after_commit(Run& run) {
  try {
    prune_releases(run);
    const auto p = backup::prune(run.layout(), run.db(), static_cast<long>(run.ctx().cfg().backup_keep),
                                 state::BackupKind::pre_upgrade);
    if (p.removed) log::event(log::Level::info, "prune", "backup", fmt::format("pruned {} backup(s)", p.removed));
  } catch (const std::exception& e) {
    log::event(log::Level::warning, "prune", "failed", std::string("pruning after the commit failed: ") + e.what());
  }
}

} // namespace airlock::pipeline
