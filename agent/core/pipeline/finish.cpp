// Steps 8 to 13: the downtime of an upgrade whose release is staged and whose images are loaded. The downtime
// holds only the stop, the snapshot's update (or clone), the switch and the start; the tar.gz backup is written
// from the snapshot after the commit.
#include "pipeline/data_set.hpp"
#include "pipeline/run.hpp"

#include "backup/backup.hpp"
#include "log/log.hpp"
#include "site/stage.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <map>

namespace airlock::pipeline {
namespace {

struct Downtime {
  bool data_touched = false; // `to` may have written the data set: a rollback swaps the snapshot back in
};

// The volumes of the journaled data set, compose key -> mountpoint (for a restore from a tar.gz).
std::map<std::string, std::string> volume_dirs(Run& run) {
  std::map<std::string, std::string> out;
  for (const auto& d : journaled_data_set(run.db(), run.id()))
    if (d.name.rfind("volumes/", 0) == 0) out[d.name.substr(8)] = d.path;
  return out;
}

void manual_restore(Run& run, Downtime& d) {
  const Plan& p = run.plan();
  run.step(Step::restore, "restore the data set from backup " + p.restore_backup, [&] {
    auto rb = run.db().backup_get(p.restore_backup);
    if (!rb || rb->status != state::BackupStatus::complete)
      fail(ExitCode::not_found, "backup " + p.restore_backup + " is not complete");
    d.data_touched = true; // the data set changes from here on: a rollback swaps this run's snapshot back in
    backup::restore(run.layout().app_dir(), run.layout().backup_path(rb->id), rb->sha256, volume_dirs(run));
    site::switch_current(run.layout().app_dir(), p.to); // the backup's own `current` may name another release
    return p.restore_backup + " restored";
  });
}

void window(Run& run, std::vector<dataset::Snapshot>& snaps, Downtime& d) {
  const Plan& p = run.plan();
  run.step(Step::stop, "stop the services of " + p.from, [&] { return run.stop(p.from); });
  take_snapshot(run, snaps, journaled_data_set(run.db(), run.id()));
  run.step(Step::switch_current, "current -> releases/" + p.to, [&] {
    site::switch_current(run.layout().app_dir(), p.to);
    return std::string("switched");
  });
  if (!p.restore_backup.empty()) manual_restore(run, d);
  d.data_touched = true;
  run.step(Step::start, "start " + p.to, [&] {
    run.start(p.to);
    return std::string("started");
  });
  run.step(Step::health, "health gate of " + p.to, [&] {
    const auto h = run.health_gate(p.to);
    if (!h.ok) fail(ExitCode::failure, h.reason);
    return fmt::format("healthy after {} ms", h.elapsed.count());
  });
}

} // namespace

void commit_and_archive(Run& run, Report& rep, bool by_recovery) {
  const Plan& p = run.plan();
  if (by_recovery) {
    run.record_install();
    run.mark(Step::commit, state::StepStatus::done, "finished by recovery");
  } else {
    run.step(Step::commit, "record " + p.to + " as installed", [&] {
      run.record_install();
      return fmt::format("installed {}; downtime {} ms", p.to, rep.downtime_ms);
    });
  }
  run.step(Step::archive, "the pre-upgrade backup from the snapshot", [&] {
    try {
      rep.backup_id = archive_snapshots(run);
      return rep.backup_id + " complete and verified";
    } catch (const std::exception& e) { // committed already: the snapshots stay as the pre-upgrade data
      log::event(log::Level::warning, "upgrade", "archive-failed",
                 std::string("the pre-upgrade backup could not be written; the snapshots of the data set stay: ") +
                     e.what());
      return std::string("failed: ") + e.what() + "; the snapshots of the data set stay";
    }
  });
  if (!by_recovery) // the audit row names the backup; recovery writes its own
    run.audit(p.action, "ok", rep.backup_id, rep.downtime_ms,
              fmt::format("{} upgrade {}; downtime {} ms", kind_name(p.kind), run.id(), rep.downtime_ms));
  prune_after_commit(run);
}

Report finish(Run& run) {
  const Plan& p = run.plan();
  Report rep = report_of(run);
  std::vector<dataset::Snapshot> snaps;
  try {
    snaps = pre_copy(run);
  } catch (const std::exception& e) { // pre_copy removed what it had copied
    run.mark(Step::rollback, state::StepStatus::done,
             std::string("failed before the services stopped; nothing to undo: ") + e.what());
    run.audit(p.action, "failed", "", 0, e.what());
    throw;
  }
  const auto t_stop = run.ctx().clock().steady();
  Downtime d;
  try {
    window(run, snaps, d);
    rep.downtime_ms = ms_since(run.ctx(), t_stop);
  } catch (const std::exception& e) {
    return roll_back(run, fmt::format("{} -> {} failed: {}", p.from.empty() ? "(nothing)" : p.from, p.to, e.what()),
                     d.data_touched, ms_since(run.ctx(), t_stop), p.action);
  }
  commit_and_archive(run, rep, false);
  rep.outcome = Outcome::updated;
  run.post_hooks(hooks::Event::post_commit, rep);
  return rep;
}

} // namespace airlock::pipeline
