// The upgrade as a state machine held as data (DESIGN.md "Round 2 decisions"). Every journaled step of an
// upgrade, a rollback and an apply is one row of `steps`: its journal name (the only place a step name is
// spelled), the phase it runs in, what a crash inside it means for recovery, whether it ends an upgrade, and
// which path of the pipeline reaches it (so the black-box kill matrix knows how to get there).
//
// Recovery (recover.cpp) reads this table only: over the steps an interrupted upgrade had begun, the strongest
// OnCrash wins (abandon < roll_back < roll_back_with_data < roll_forward). A rollback step's row says
// roll_back: the rollback runs again from its start, restoring data/ when the forward steps had begun to change
// it.
// Thread-safety: constant data.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace airlock::pipeline {

enum class Step {
  begin,         // the plan, as JSON in the row's detail
  fetch,         // release targets verified into <state>/downloads
  stage,         // releases/<to> built and verified; compose `config` accepts it
  load,          // images loaded (those already present are skipped)
  staged,        // --stage-only ends here; `apply` continues
  verify_staged, // apply: the staged tree and its images are still intact
  pre_copy,      // the data set is copied next to itself while the old release runs (not where reflinks work)
  stop,          // the services are stopped: the downtime starts
  snapshot,      // the point-in-time snapshot of the data set: the pre-copy brought up to date, or a reflink clone
  switch_current,
  restore, // manual rollback with --restore-data: data/ from a backup
  start,   // compose up of <to>
  health,  // the health gate of <to>
  commit,  // install recorded, audit written
  archive, // the tar.gz backup written from the snapshot and verified; snapshots and old releases pruned
  rb_stop,
  rb_switch,
  rb_restore, // data/ and site/ from the pre-upgrade backup (only when <to> may have written them)
  rb_start,
  rb_health,
  rollback, // the closing row of a failed upgrade: done = rolled back (or nothing to undo), failed = attention
};

enum class Phase { before_stop, downtime, after_commit };

// What a crash inside the step means for the next run's recover().
enum class OnCrash {
  abandon,             // the running site was not touched: close the upgrade, nothing to undo
  roll_back,           // the services may be stopped or switched: roll back to <from>
  roll_back_with_data, // <to> may have changed data/: roll back and restore data/ from the pre-upgrade backup
  roll_forward,        // the health gate passed: finish the commit
};

// The command that reaches a step, for the kill matrix.
enum class Path {
  upgrade,        // import of a healthy release
  rollback,       // import of a release that fails its health gate
  stage_only,     // import --stage-only
  apply,          // apply after --stage-only
  manual_restore, // rollback --restore-data
};

struct StepInfo {
  Step step;
  std::string_view name; // the journal's step name
  Phase phase;
  OnCrash on_crash;
  bool terminal; // done in this step ends the upgrade
  Path path;
};

inline constexpr std::array<StepInfo, 21> steps{{
    {Step::begin, "begin", Phase::before_stop, OnCrash::abandon, false, Path::upgrade},
    {Step::fetch, "fetch", Phase::before_stop, OnCrash::abandon, false, Path::upgrade},
    {Step::stage, "stage", Phase::before_stop, OnCrash::abandon, false, Path::upgrade},
    {Step::load, "load", Phase::before_stop, OnCrash::abandon, false, Path::upgrade},
    {Step::staged, "staged", Phase::before_stop, OnCrash::abandon, true, Path::stage_only},
    {Step::verify_staged, "verify-staged", Phase::before_stop, OnCrash::abandon, false, Path::apply},
    {Step::pre_copy, "pre-copy", Phase::before_stop, OnCrash::abandon, false, Path::upgrade},
    {Step::stop, "stop", Phase::downtime, OnCrash::roll_back, false, Path::upgrade},
    {Step::snapshot, "snapshot", Phase::downtime, OnCrash::roll_back, false, Path::upgrade},
    {Step::switch_current, "switch", Phase::downtime, OnCrash::roll_back, false, Path::upgrade},
    {Step::restore, "restore", Phase::downtime, OnCrash::roll_back_with_data, false, Path::manual_restore},
    {Step::start, "start", Phase::downtime, OnCrash::roll_back_with_data, false, Path::upgrade},
    {Step::health, "health", Phase::downtime, OnCrash::roll_back_with_data, false, Path::upgrade},
    {Step::commit, "commit", Phase::after_commit, OnCrash::roll_forward, false, Path::upgrade},
    {Step::archive, "archive", Phase::after_commit, OnCrash::roll_forward, true, Path::upgrade},
    {Step::rb_stop, "rb-stop", Phase::downtime, OnCrash::roll_back, false, Path::rollback},
    {Step::rb_switch, "rb-switch", Phase::downtime, OnCrash::roll_back, false, Path::rollback},
    {Step::rb_restore, "rb-restore", Phase::downtime, OnCrash::roll_back, false, Path::rollback},
    {Step::rb_start, "rb-start", Phase::downtime, OnCrash::roll_back, false, Path::rollback},
    {Step::rb_health, "rb-health", Phase::downtime, OnCrash::roll_back, false, Path::rollback},
    {Step::rollback, "rollback", Phase::downtime, OnCrash::abandon, true, Path::rollback},
}};

// The row of `s` (every Step has one: a static_assert in steps.cpp checks the order).
const StepInfo& info(Step s);
// The row whose journal name is `name`; nullopt for a name no step has (a journal of a newer airlock).
std::optional<StepInfo> find_step(std::string_view name);

std::string_view phase_name(Phase p);      // before-stop | downtime | after-commit
std::string_view on_crash_name(OnCrash c); // abandon | roll-back | roll-back-with-data | roll-forward
std::string_view path_name(Path p);        // upgrade | rollback | stage-only | apply | manual-restore

// Where the fault hook is called: right after the step's journal row is opened, and right after its work is
// done and before the row is closed (the worst moment for a crash).
enum class When { begin, end };

} // namespace airlock::pipeline
