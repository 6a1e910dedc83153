// Steps 8 to 13: the downtime of an upgrade whose release is staged and whose images are loaded.
#include "pipeline/run.hpp"

#include "backup/records.hpp"
#include "log/log.hpp"
#include "site/stage.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

namespace airlock::pipeline {
namespace {

struct Downtime {
  std::string backup_id;
  bool data_touched = false; // `to` may have written data/: a rollback restores the pre-upgrade backup
};

void stop_and_back_up(Run& run, Downtime& d) {
  const Plan& p = run.plan();
  run.step(Step::stop, "stop the services of " + p.from,
           [&] { return fmt::format("{} container(s) stopped", run.engine().stop_project(run.ctx().project_name())); });
  run.step(Step::backup, "data/, site/ and current before " + p.to, [&] {
    auto t = backup::take(
        run.layout(), run.db(), state::BackupKind::pre_upgrade, p.from,
        "before " + p.to + " (upgrade " + run.id() + ")", static_cast<int>(run.ctx().cfg().backup_level),
        [&](const std::string& id) { d.backup_id = id; }, run.ctx().disk_probe());
    return fmt::format("{} complete: {}, {} entries", t.id, log::human_bytes(t.result.size), t.result.file_count);
  });
}

void switch_and_start(Run& run, Downtime& d) {
  const Plan& p = run.plan();
  run.step(Step::switch_current, "current -> releases/" + p.to, [&] {
    site::switch_current(run.layout().app_dir(), p.to);
    return std::string("switched");
  });
  if (!p.restore_backup.empty()) {
    run.step(Step::restore, "restore data/ and site/ from backup " + p.restore_backup, [&] {
      auto rb = run.db().backup_get(p.restore_backup);
      if (!rb || rb->status != state::BackupStatus::complete)
        fail(ExitCode::not_found, "backup " + p.restore_backup + " is not complete");
      d.data_touched = true; // data/ changes from here on: a rollback restores the pre-step backup
      backup::restore(run.layout().app_dir(), run.layout().backup_path(rb->id), rb->sha256);
      site::switch_current(run.layout().app_dir(), p.to); // the backup's own `current` may name another release
      return p.restore_backup + " restored";
    });
  }
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

void commit(Run& run, const std::string& backup_id, std::int64_t downtime_ms) {
  const Plan& p = run.plan();
  run.step(Step::commit, "record " + p.to + " as installed", [&] {
    run.record_install();
    run.audit(p.action, "ok", backup_id, downtime_ms,
              fmt::format("{} upgrade {}; downtime {} ms", kind_name(p.kind), run.id(), downtime_ms));
    return fmt::format("installed {}; downtime {} ms", p.to, downtime_ms);
  });
}

} // namespace

Report finish(Run& run) {
  const Plan& p = run.plan();
  const auto t_stop = run.ctx().clock().steady();
  Downtime d;
  Report rep = report_of(run);
  try {
    stop_and_back_up(run, d);
    rep.backup_id = d.backup_id;
    switch_and_start(run, d);
    rep.downtime_ms = ms_since(run.ctx(), t_stop);
  } catch (const std::exception& e) {
    return roll_back(run, fmt::format("{} -> {} failed: {}", p.from.empty() ? "(nothing)" : p.from, p.to, e.what()),
                     d.data_touched, d.backup_id, ms_since(run.ctx(), t_stop), p.action);
  }
  commit(run, d.backup_id, rep.downtime_ms);
  prune_after_commit(run);
  rep.outcome = Outcome::updated;
  return rep;
}

} // namespace airlock::pipeline
