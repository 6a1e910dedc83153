#include "pipeline/data_set.hpp"

#include "backup/records.hpp"
#include "log/log.hpp"
#include "pipeline/choose.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <sys/stat.h>

namespace airlock::pipeline {
namespace fs = std::filesystem;
namespace {

std::string to_json(const std::vector<DataDir>& set) {
  json::Array a;
  for (const auto& d : set) {
    json::Value v;
    v["name"] = d.name;
    v["path"] = d.path;
    v["reflink"] = d.reflink;
    a.push_back(v);
  }
  return json::compact(json::Value(a));
}

bool excluded(const config::Config& cfg, const docker::EngineVolume& v) {
  return std::find_if(cfg.exclude_volumes.begin(), cfg.exclude_volumes.end(), [&](const std::string& x) {
           return x == v.name || x == v.compose_key;
         }) != cfg.exclude_volumes.end();
}

// Bytes a pre-copy writes per filesystem, against what each has free.
void check_copy_space(const Context& ctx, const std::vector<DataDir>& set) {
  std::map<dev_t, std::pair<std::string, std::uint64_t>> need;
  for (const auto& d : set) {
    if (d.reflink) continue;
    struct stat st {};
    if (::stat(d.path.c_str(), &st) != 0) continue;
    auto& n = need[st.st_dev];
    if (n.first.empty()) n.first = fs::path(d.path).parent_path().string();
    n.second += tree_bytes(d.path);
  }
  for (const auto& [dev, n] : need) {
    const auto free = ctx.free_bytes(n.first);
    if (free < n.second)
      fail(ExitCode::failure,
           fmt::format("not enough disk space for the snapshot of the data set: {} needed in {}, {} free; free space "
                       "there (or put the data on XFS or btrfs, where snapshots are reflinks) and run again. Nothing "
                       "was stopped.",
                       log::human_bytes(n.second), n.first, log::human_bytes(free)));
  }
}

} // namespace

std::vector<DataDir> data_set_now(Run& run) {
  const auto& l = run.layout();
  std::vector<DataDir> set = {{"data", l.data_dir()}, {"site", l.site_dir()}};
  for (const auto& v : run.engine().volumes(run.ctx().project_name())) {
    if (excluded(run.ctx().cfg(), v)) continue;
    if (v.driver != "local")
      fail(ExitCode::not_applicable,
           fmt::format("volume {} of project {} uses the '{}' driver, whose data airlock cannot snapshot or restore; "
                       "name it in [backup] exclude_volumes to upgrade without protecting it. Nothing was stopped.",
                       v.name, run.ctx().project_name(), v.driver));
    if (v.mountpoint.empty() || !fs::is_directory(v.mountpoint)) continue; // removed by hand: nothing to protect
    set.push_back({"volumes/" + (v.compose_key.empty() ? v.name : v.compose_key), v.mountpoint});
  }
  for (auto& d : set) d.reflink = dataset::supports_reflink(d.path);
  return set;
}

std::vector<DataDir> journaled_data_set(state::StateDb& db, const std::string& upgrade_id) {
  std::vector<DataDir> set;
  for (const auto& r : db.journal_for(upgrade_id)) {
    if (r.step != info(Step::pre_copy).name || r.detail.rfind("[", 0) != 0) continue; // failed rows hold the error
    const auto doc = json::parse(r.detail.substr(0, r.detail.find('\n')), "the data set of upgrade " + upgrade_id);
    for (const auto& d : doc.as_array())
      set.push_back({json::string_or(d, "name", ""), json::string_or(d, "path", ""),
                     d.find("reflink") && d.find("reflink")->as_bool()});
  }
  return set;
}

std::vector<dataset::Snapshot> pre_copy(Run& run) {
  const auto set = data_set_now(run);
  check_copy_space(run.ctx(), set);
  std::vector<dataset::Snapshot> snaps;
  for (const auto& d : set) snaps.emplace_back(d.path, run.id());
  // The row's detail starts with the data set from the moment it opens: recovery needs it after any crash. A
  // failure removes what was copied (the row then holds the error).
  auto discard = [&] {
    for (auto& s : snaps) s.discard();
  };
  struct Guard {
    std::function<void()> f;
    bool armed = true;
    ~Guard() {
      if (!armed) return;
      try {
        f();
      } catch (...) { // a leftover snapshot is removed by the next run's recovery or by hand; keep the first error
      }
    }
  } guard{discard};
  std::string names;
  for (const auto& d : set) names += (names.empty() ? "" : ", ") + d.name;
  run.step(
      Step::pre_copy, "the data set (" + names + ") before the stop",
      [&] {
        std::string detail = to_json(set);
        for (std::size_t i = 0; i < set.size(); ++i) {
          if (set[i].reflink) {
            detail += fmt::format("\n  {}: reflink, cloned after the stop", set[i].name);
            continue;
          }
          const auto st = snaps[i].copy();
          detail += fmt::format("\n  {}: copied {} entries, {}", set[i].name, st.entries, log::human_bytes(st.bytes));
        }
        return detail;
      },
      to_json(set));
  guard.armed = false;
  return snaps;
}

void take_snapshot(Run& run, std::vector<dataset::Snapshot>& snaps, const std::vector<DataDir>& set) {
  run.step(Step::snapshot, fmt::format("{} directories", set.size()), [&] {
    std::string detail;
    for (std::size_t i = 0; i < set.size(); ++i) {
      if (set[i].reflink) {
        const auto st = snaps[i].copy();
        detail += fmt::format("{}: cloned {} entries ({}){}\n", set[i].name, st.entries, log::human_bytes(st.bytes),
                              st.reflinked || st.bytes == 0 ? "" : ", copied: no reflink after all");
      } else {
        const auto st = snaps[i].update();
        detail += fmt::format("{}: {} changed entries copied ({}), {} removed\n", set[i].name, st.entries,
                              log::human_bytes(st.bytes), st.removed);
      }
    }
    return detail;
  });
}

std::string swap_snapshots_in(Run& run) {
  std::string detail;
  for (const auto& d : journaled_data_set(run.db(), run.id())) {
    dataset::swap_in(d.path, run.id());
    detail += d.name + " ";
  }
  return detail.empty() ? std::string("no data set journaled") : detail + "swapped back in";
}

void discard_snapshots(Run& run) {
  for (const auto& d : journaled_data_set(run.db(), run.id())) {
    dataset::Snapshot(d.path, run.id()).discard();
    dataset::remove_swapped_out(d.path, run.id());
  }
}

std::string archive_snapshots(Run& run) {
  const auto set = journaled_data_set(run.db(), run.id());
  const std::string note = "before " + run.plan().to + " (upgrade " + run.id() + ")";
  for (const auto& b : run.db().backups()) // archived before a crash: the snapshots may be gone already
    if (b.status == state::BackupStatus::complete && b.note == note) return b.id;
  std::vector<backup::Tree> trees;
  for (const auto& d : set) trees.push_back({d.name, dataset::snapshot_path(d.path, run.id())});
  const auto& cfg = run.ctx().cfg();
  auto t = backup::take(run.layout(), run.db(), state::BackupKind::pre_upgrade, run.plan().from, note,
                        {static_cast<int>(cfg.backup_level), static_cast<unsigned>(cfg.backup_threads)}, trees,
                        run.plan().from.empty() ? "" : "releases/" + run.plan().from, {}, run.ctx().disk_probe());
  backup::verify(t.result.path, t.result.sha256);
  // Retention: this upgrade's snapshots and the newest older ones, up to snapshots_keep in all.
  for (const auto& d : set) {
    const std::string parent = fs::path(d.path).parent_path().string();
    const std::string suffix = "-" + fs::path(d.path).filename().string();
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(parent)) {
      const std::string n = e.path().filename().string();
      if (n.rfind(".airlock-snapshot-", 0) == 0 && n.size() > suffix.size() &&
          n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
        found.push_back(e.path().string());
    }
    std::sort(found.rbegin(), found.rend()); // tags are upgrade IDs: newest first
    for (std::size_t i = static_cast<std::size_t>(cfg.snapshots_keep); i < found.size(); ++i) fs::remove_all(found[i]);
  }
  return t.id;
}

} // namespace airlock::pipeline
