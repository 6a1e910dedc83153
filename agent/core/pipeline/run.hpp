// Internal to pipeline/: one upgrade's plan and the runner that journals its steps. Not for other rooms.
// Thread-safety: one Run per upgrade, used by one thread.
#pragma once

#include "health/health.hpp"
#include "hooks/hooks.hpp"
#include "pipeline/context.hpp"
#include "pipeline/steps.hpp"
#include "pipeline/upgrade.hpp"
#include "release/manifest.hpp"
#include "state/db.hpp"
#include "util/json.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace airlock::pipeline {

enum class UpgradeKind { full, patch, rollback };
const char* kind_name(UpgradeKind k);           // "full" | "patch" | "rollback": the journal's and the report's text
state::ReleaseKind release_kind(UpgradeKind k); // what an install of this kind records

// What an upgrade does, journaled as JSON in its `begin` row so that apply and recover can resume it.
struct Plan {
  std::string from, to; // versions; from is "" for a first install
  UpgradeKind kind = UpgradeKind::full;
  std::string bundle_sha256, source, restore_backup, action = "import";
  std::string to_json() const;
  // The plan in a `begin` row's detail. Error(failure) naming the upgrade for a detail that is not a plan.
  static Plan from_json(const std::string& text);
};

// The stored release.json of a staged release (<state>/releases/<v>.json).
std::optional<release::Manifest> stored_manifest(const site::Layout& l, const std::string& version);
// As stored_manifest, or Error(not_found) naming the file.
release::Manifest require_manifest(const site::Layout& l, const std::string& version);

// Milliseconds on the context's monotonic clock since `t`.
std::int64_t ms_since(const Context& ctx, util::Clock::steady_time t);

class Run {
public:
  // Sets the engine's observer to this run's per-step transcript (cleared again by the destructor).
  Run(Context& ctx, state::StateDb& db, std::string id, Plan plan);
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  const std::string& id() const { return id_; }
  const Plan& plan() const { return plan_; }
  Context& ctx() { return ctx_; }
  state::StateDb& db() { return db_; }
  docker::Engine& engine() { return ctx_.engine(); }
  const site::Layout& layout() const { return ctx_.layout(); }

  // The `begin` row, holding the plan.
  void begin() { mark(Step::begin, state::StepStatus::done, plan_.to_json()); }
  // Runs one journaled step: row opened, hook (begin), work, hook (end), row closed with the work's detail and
  // the engine calls it made. An exception closes the row as failed and propagates.
  // `begin_detail` (when not empty) is what the row holds while the step runs instead of `what` (the log's text).
  void step(Step s, const std::string& what, const std::function<std::string()>& work,
            const std::string& begin_detail = "");
  // A row that records a decision rather than work (begin, staged, rollback), with the hook at both ends.
  void mark(Step s, state::StepStatus status, const std::string& detail);
  // Records plan().to as installed by this upgrade (the commit's row in `installs`), unless it already is.
  void record_install();
  // One audit row for this upgrade.
  void audit(const std::string& action, const std::string& outcome, const std::string& backup_id,
             std::int64_t downtime_ms, const std::string& detail);

  // The pre-upgrade hooks (hooks/hooks.hpp), once `begin` is journaled and before anything of this upgrade changes
  // the site. The first hook that fails writes a failed audit row, closes the upgrade with a `rollback` row
  // "refused by a pre-upgrade hook; nothing to undo" unless `staged` is Staged::keep (`apply` of a staged upgrade,
  // which can then be run again), and throws Error(hook_refused) naming the hook.
  enum class Staged { close, keep };
  void pre_upgrade_hooks(Staged staged = Staged::close);
  // The post-commit, post-rollback or needs-attention hooks for the outcome `rep`; their failures are only logged.
  void post_hooks(hooks::Event e, const Report& rep);

  // The compose project of a staged `version`.
  docker::Project project(const std::string& version);
  // Stops the project as compose does, `running` being the release whose compose file describes what runs ("" or
  // a release without a stored release.json: only the containers found by label). Returns the journal detail:
  // per container whether it exited by itself or was killed at the end of its grace period.
  std::string stop(const std::string& running);
  // `up` of `version`, then the restart counts the health gate compares against.
  void start(const std::string& version);
  health::Outcome health_gate(const std::string& version);
  // `current` and the project's containers, for a message that says where the site stands.
  std::string site_state_text();

private:
  hooks::Notice notice(hooks::Event e) const;

  Context& ctx_;
  state::StateDb& db_;
  std::string id_;
  Plan plan_;
  std::string calls_; // the engine calls of the running step
  std::vector<std::string> services_;
  std::map<std::string, std::int64_t> baseline_;
};

// The report of a run, filled from its plan.
Report report_of(const Run& run);

// Steps 8 to 13 for an upgrade whose `to` release is staged and whose images are loaded (finish.cpp).
Report finish(Run& run);
// The commit (or, after a crash, its roll forward), then the archive step and retention (finish.cpp).
void commit_and_archive(Run& run, Report& rep, bool by_recovery);
// The rollback after a failure once the services were stopped (rollback.cpp). `restore_data`: the new release
// may have written data/, which is restored from `backup_id`. `downtime_ms`: the downtime so far (-1: unknown,
// as in recovery).
Report roll_back(Run& run, const std::string& reason, bool restore_data, std::int64_t downtime_ms,
                 const std::string& action);
// The pre-upgrade backup of an upgrade, from its journal: the ID that starts the detail of its `archive` row once
// done ("" when it took none, or could not write it).
std::string backup_of(state::StateDb& db, const std::string& upgrade_id);
// Old releases, their images and old pre-upgrade backups after a commit (prune.cpp). Failures are warnings.
void prune_after_commit(Run& run);

} // namespace airlock::pipeline
