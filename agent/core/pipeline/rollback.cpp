// The way back: the rollback after a failed downtime, `apply` of a staged upgrade, and `rollback` by hand.
#include "pipeline/data_set.hpp"
#include "pipeline/run.hpp"

#include "backup/backup.hpp"
#include "bundle/downloads.hpp"
#include "log/log.hpp"
#include "site/stage.hpp"
#include "trust/client.hpp"
#include "util/error.hpp"
#include "util/io.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace airlock::pipeline {
namespace fs = std::filesystem;
namespace {

// rb-stop .. rb-health: back to `from` (or to nothing installed after a first install).
void roll_back_steps(Run& run, bool restore_data) {
  const Plan& p = run.plan();
  const auto& l = run.layout();
  run.step(Step::rb_stop, "stop the services of " + p.to, [&] { return run.stop(p.to); });
  run.step(Step::rb_switch, p.from.empty() ? std::string("remove current") : "current -> releases/" + p.from, [&] {
    if (p.from.empty()) { // the first install: back to nothing installed
      std::error_code ec;
      fs::remove(l.current_link(), ec);
      util::fsync_dir(l.app_dir());
      return std::string("current removed");
    }
    site::switch_current(l.app_dir(), p.from);
    return std::string("switched");
  });
  if (restore_data)
    run.step(Step::rb_restore, "the data set from its snapshot", [&] { return swap_snapshots_in(run); });
  if (p.from.empty()) return;
  run.step(Step::rb_start, "start " + p.from, [&] {
    run.start(p.from);
    return std::string("started");
  });
  run.step(Step::rb_health, "health gate of " + p.from, [&] {
    const auto h = run.health_gate(p.from);
    if (!h.ok) fail(ExitCode::failure, "the old release " + p.from + " is not healthy either: " + h.reason);
    return fmt::format("healthy after {} ms", h.elapsed.count());
  });
}

// Where the data set as it was before the upgrade is, for the operator.
std::string snapshots_text(Run& run) {
  std::string out;
  for (const auto& d : journaled_data_set(run.db(), run.id()))
    if (dataset::snapshot_exists(d.path, run.id())) out += "\n  " + dataset::snapshot_path(d.path, run.id());
  return out.empty() ? "" : "; the data set as it was before the upgrade is in" + out;
}

} // namespace

Report roll_back(Run& run, const std::string& reason, bool restore_data, std::int64_t downtime_ms,
                 const std::string& action) {
  const Plan& p = run.plan();
  const auto t0 = run.ctx().clock().steady();
  log::event(log::Level::warning, "upgrade", "rollback", fmt::format("rolling back to {}: {}", p.from, reason));
  Report rep = report_of(run);
  try {
    roll_back_steps(run, restore_data);
    rep.outcome = Outcome::rolled_back;
    rep.downtime_ms = downtime_ms >= 0 ? downtime_ms + ms_since(run.ctx(), t0) : 0;
    // The old release runs again: now the snapshots (not needed, or swapped in) and the trees they replaced go.
    discard_snapshots(run);
    rep.reason = reason;
    run.mark(Step::rollback, state::StepStatus::done,
             "rolled back to " + (p.from.empty() ? "nothing installed" : p.from) + ": " + reason);
    run.audit(action, "rolled-back", "", rep.downtime_ms, reason);
  } catch (const std::exception& e) {
    rep.outcome = Outcome::needs_attention;
    rep.reason = fmt::format(
        "{}\nthe rollback failed too: {}\nsite state:\n{}what to do: fix the cause above, then run 'airlock recover' "
        "(it retries the rollback to {}){}",
        reason, e.what(), run.site_state_text(), p.from, snapshots_text(run));
    run.mark(Step::rollback, state::StepStatus::failed, rep.reason);
    run.audit(action, "rollback-failed", "", 0, rep.reason);
  }
  run.post_hooks(rep.outcome == Outcome::rolled_back ? hooks::Event::post_rollback : hooks::Event::needs_attention,
                 rep);
  return rep;
}

Report apply(Context& ctx, state::StateDb& db, const Options& o) {
  const auto& l = ctx.layout();
  auto last = db.latest_upgrade();
  if (!last || last->step != info(Step::staged).name || last->status != state::StepStatus::done) {
    // No staged upgrade: what `upgrade --download-only` downloaded, imported without the network.
    if (!bundle::has_downloads(l))
      fail(ExitCode::not_found, "no staged or downloaded upgrade to apply (run 'airlock import --stage-only BUNDLE' "
                                "or 'airlock upgrade --download-only' first)");
    bundle::DownloadsCache cache(l);
    Options io = o;
    io.action = "apply";
    io.source_label = cache.describe();
    return import(ctx, db, cache, io);
  }
  Plan plan;
  for (const auto& r : db.journal_for(last->upgrade_id))
    if (r.step == info(Step::begin).name) plan = Plan::from_json(r.detail);
  const auto current = site::current_version(l.app_dir());
  if (current.value_or("") != plan.from)
    fail(ExitCode::not_applicable, fmt::format("upgrade {} was staged for {} -> {}, but {} is installed now; import "
                                               "the bundle again",
                                               last->upgrade_id, plan.from, plan.to, current.value_or("nothing")));
  plan.action = "apply";
  Run run(ctx, db, last->upgrade_id, plan);
  run.pre_upgrade_hooks(Run::Staged::keep); // refused: still staged, `apply` can run again
  try {
    run.step(Step::verify_staged, "releases/" + plan.to + " and its images", [&] {
      auto m = require_manifest(l, plan.to);
      // The metadata that vouched for the staged release must still be current (a freeze attack could stage a
      // release and wait): a refresh (import or upgrade again) renews it.
      trust::check_unexpired(trust::TrustedState::load(l.trust_dir()), run.ctx().clock().unix_seconds());
      site::verify_tree(l.release_dir(plan.to), m);
      for (const auto& i : m.images)
        if (!run.engine().image_present(i.id))
          fail(ExitCode::not_found, "image " + i.id + " is no longer in the engine; import the bundle again");
      run.engine().validate(run.project(plan.to));
      return std::string("intact");
    });
  } catch (const std::exception& e) {
    run.mark(Step::rollback, state::StepStatus::done,
             std::string("apply refused before the services stopped: ") + e.what());
    run.audit("apply", "failed", "", 0, e.what());
    throw;
  }
  return finish(run);
}

Report rollback(Context& ctx, state::StateDb& db, bool restore_data) {
  const auto& l = ctx.layout();
  const auto current = site::current_version(l.app_dir());
  if (!current) fail(ExitCode::not_found, "nothing is installed; there is nothing to roll back");
  std::optional<state::Install> cur_install, prev;
  for (const auto& i : db.installs(ctx.cfg().app_name)) {
    if (!cur_install) {
      if (i.version == *current) cur_install = i;
      continue;
    }
    if (i.version != *current) {
      prev = i;
      break;
    }
  }
  if (!prev || !fs::is_directory(l.release_dir(prev->version)))
    fail(ExitCode::not_found,
         fmt::format("no earlier release of {} is staged to go back to (installed: {})", ctx.cfg().app_name, *current));
  Plan plan{*current, prev->version, UpgradeKind::rollback, "", "manual rollback", "", "rollback"};
  if (restore_data) {
    plan.restore_backup = cur_install ? backup_of(db, cur_install->upgrade_id) : "";
    if (plan.restore_backup.empty())
      fail(ExitCode::not_found, fmt::format("no pre-upgrade backup was taken when {} was installed; roll back without "
                                            "--restore-data, or restore a backup by hand",
                                            *current));
  }
  Run run(ctx, db, state::new_id(), plan);
  run.engine().ping();
  run.engine().compose_command();
  auto m = require_manifest(l, prev->version);
  for (const auto& i : m.images)
    if (!run.engine().image_present(i.id))
      fail(ExitCode::not_found, fmt::format("image {} of {} is no longer in the engine; import {}'s bundle instead",
                                            i.id, prev->version, prev->version));
  run.begin();
  run.pre_upgrade_hooks();
  return finish(run);
}

} // namespace airlock::pipeline
