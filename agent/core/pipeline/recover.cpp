// Crash recovery, decided by the step table (steps.hpp): the strongest OnCrash among the begun steps.
#include "pipeline/data_set.hpp"
#include "pipeline/run.hpp"

#include "backup/backup.hpp"
#include "log/log.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

namespace airlock::pipeline {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> terminal_steps() {
  std::vector<std::string> out;
  for (const auto& s : steps)
    if (s.terminal) out.emplace_back(s.name);
  return out;
}

struct Decision {
  OnCrash what = OnCrash::abandon;
  bool with_data = false; // some begun step may have changed data/
};

Decision decide(const std::vector<state::JournalEntry>& rows) {
  Decision d;
  for (const auto& r : rows) {
    const auto s = find_step(r.step);
    if (!s)
      fail(ExitCode::needs_attention,
           fmt::format("the journal of upgrade {} names a step '{}' that this airlock does not know; recover it with "
                       "the airlock that wrote it",
                       r.upgrade_id, r.step));
    d.what = std::max(d.what, s->on_crash);
    d.with_data = d.with_data || s->on_crash == OnCrash::roll_back_with_data;
  }
  return d;
}

Report roll_forward(Run& run, Report rep) {
  commit_and_archive(run, rep, true);
  run.audit("recover", "ok", rep.backup_id, 0,
            fmt::format("upgrade {} was interrupted while committing; the commit was finished", run.id()));
  rep.outcome = Outcome::updated;
  rep.reason = "finished the interrupted commit";
  run.post_hooks(hooks::Event::post_commit, rep);
  return rep;
}

} // namespace

std::optional<Report> recover(Context& ctx, state::StateDb& db) {
  clean_interrupted(ctx, db);
  auto last = db.unfinished_upgrade(terminal_steps());
  if (!last) return std::nullopt;
  const auto rows = db.journal_for(last->upgrade_id);
  Plan plan;
  for (const auto& r : rows)
    if (r.step == info(Step::begin).name) plan = Plan::from_json(r.detail);
  Run run(ctx, db, last->upgrade_id, plan);
  log::event(log::Level::warning, "recover", "found",
             fmt::format("upgrade {} ({} -> {}) was interrupted at step '{}' ({}); recovering first", last->upgrade_id,
                         plan.from, plan.to, last->step, state::name(last->status)));
  Report rep = report_of(run);
  if (plan.to.empty()) {
    run.mark(Step::rollback, state::StepStatus::done, "recovered: the upgrade had not recorded its plan; nothing ran");
    rep.outcome = Outcome::abandoned;
    return rep;
  }
  const Decision d = decide(rows);
  if (d.what == OnCrash::roll_forward) return roll_forward(run, rep);
  if (d.what == OnCrash::abandon) {
    discard_snapshots(run);
    run.mark(Step::rollback, state::StepStatus::done, "interrupted before the services stopped; nothing to undo");
    run.audit("recover", "abandoned", "", 0,
              fmt::format("upgrade {} was interrupted at '{}', before the services stopped; the site was untouched",
                          last->upgrade_id, last->step));
    rep.outcome = Outcome::abandoned;
    rep.reason = "interrupted before the services stopped; the running site was untouched";
    return rep;
  }
  return roll_back(run, fmt::format("upgrade {} was interrupted at '{}'", last->upgrade_id, last->step), d.with_data,
                   -1, "recover");
}

void clean_interrupted(Context& ctx, state::StateDb& db) {
  const auto& l = ctx.layout();
  backup::recover(l.app_dir());
  int n = 0;
  for (const auto& b : db.backups()) {
    if (b.status != state::BackupStatus::in_progress) continue;
    db.backup_finish(b.id, state::BackupStatus::failed, 0, "", 0);
    std::error_code ec;
    fs::remove(l.backup_path(b.id), ec);
    ++n;
  }
  // Temp files of killed runs (util::AtomicFile names them "<name>.tmp-<pid>"); under the run lock none is live.
  for (const auto& dir : {l.backups_dir(), l.downloads_dir()})
    if (fs::is_directory(dir))
      for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp-") != std::string::npos) {
          std::error_code ec;
          fs::remove(e.path(), ec);
        }
  if (n)
    log::event(log::Level::warning, "backup", "interrupted", fmt::format("marked {} interrupted backup(s) failed", n));
}

} // namespace airlock::pipeline
