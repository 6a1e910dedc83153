// The upgrade pipeline (DESIGN.md "The upgrade pipeline", steps 3 to 13, and the rollback rule): takes a running
// compose site from version A to version B so that it ends either healthy on B or back on A with data/ as it was.
//
// Journal: one upgrade has an ID and rows in the state journal, one per step attempt, written before the step
// starts ("started") and after it ends ("done" / "failed"). The steps, their order, their phases and what a
// crash in each means are the table in pipeline/steps.hpp; docs/architecture.md draws the machine.
//
// Crash recovery: recover() runs first in every command that changes the site. For the newest unfinished
// upgrade it takes, over the steps that had begun, the strongest OnCrash of the table: roll forward (finish the
// commit), roll back (with data/ restored when the new release may have written it), or abandon (nothing ran
// that touched the running site). After `rollback` failed, every recover() tries the rollback again.
//
// Faults: the Context's step hook is called at every step's begin and end (steps.hpp When); the commands
// install the black-box tests' kill hook there, the unit tests a fork-and-exit hook.
// Thread-safety: one pipeline per process, under the run lock.
#pragma once

#include "bundle/container.hpp"
#include "pipeline/context.hpp"
#include "release/manifest.hpp"
#include "state/db.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace airlock::pipeline {

struct Options {
  bool plan = false;            // print what would happen; change nothing
  bool stage_only = false;      // stop after `load`; `apply` finishes
  bool allow_downgrade = false; // install an older version
  bool force_full = false;      // never use a patch
  bool download_only = false;   // only fetch the targets into downloads/ (`apply` or a later import uses them)
  std::optional<std::string> version;
  // Staged rollouts apply when set (online: `upgrade`, `check`), with this site ID; nullopt: a bundle from a stick,
  // the operator's explicit choice, ignores them (fleet/offer.hpp).
  std::optional<std::string> site_id;
  // Plan as if this version were installed (a later step of an upgrade path, for --download-only and check).
  std::optional<std::string> assume_current;
  std::string bundle_sha256;     // of the bundle file, for the audit
  std::string source_label;      // "bundle /media/usb/x.airlock", for the audit
  std::string action = "import"; // the audit action: "import", "upgrade" (online)
  // Asked once the preflight passed and before anything changes, with a one-line summary; false: stop, nothing
  // changed. Empty: go ahead.
  std::function<bool(const std::string& summary)> confirm;
};

// "1.0.0 -> 2.0.0 -> 3.1.0" ("nothing" for an empty version: a first install).
std::string path_text(const std::vector<std::string>& path);

enum class Outcome { none, planned, staged, updated, rolled_back, needs_attention, abandoned, downloaded };
const char* outcome_name(Outcome o);

struct Report {
  Outcome outcome = Outcome::none;
  std::string upgrade_id, from, to, kind, backup_id, reason;
  std::int64_t downtime_ms = 0;
  // An upgrade path of several releases (required by min_upgrade_from): every version from `from` on, in order
  // ("1.0.0", "2.0.0", "3.1.0"), and how many steps committed. Empty for a one-step upgrade. The other fields
  // describe the last step that ran (to: the version it went to).
  std::vector<std::string> path;
  std::size_t steps_done = 0;
};

// Imports the best release in `source` (verified against the trusted metadata, which is saved afterwards):
// the whole pipeline, or --plan / --stage-only. Returns the report; Error for failures before `stop`
// (nothing changed in the running site), Outcome::rolled_back / needs_attention for failures after it.
Report import(Context& ctx, state::StateDb& db, bundle::Container& source, const Options& o);

// `airlock check`: the decision an import from `source` would take now. The metadata is refreshed and checked
// against the trusted state (rollback, expiry, signatures) in memory; nothing is saved or changed, so it needs
// no run lock.
struct CheckReport {
  std::string decision = "none";    // none | patch | full (printed and in --json as is)
  std::string from, to, reason;     // reason: why "none" ("already at 2.0.0", "... is older than ...")
  std::uint64_t total_bytes = 0;    // the targets the upgrade reads: payload + image archives the engine lacks
  std::uint64_t download_bytes = 0; // of those, what is not in downloads/ yet (a partial counts what it lacks)
  std::size_t delta_layers = 0;     // layers that come as binary deltas (issue 17)
  std::uint64_t saved_bytes = 0;    // what those deltas save against the full layers
  std::vector<std::string> skipped; // other releases passed over, and why
  std::vector<std::string> path;    // from, each step, to: when the upgrade needs more than one step
};
CheckReport check(Context& ctx, state::StateDb& db, bundle::Container& source, const Options& o);

// Finishes the newest upgrade that --stage-only left staged; without one, imports what --download-only left
// in downloads/ (no network: the trusted metadata is re-checked for expiry). Error(not_found) when there is
// neither. `o` as for import (confirm, ...).
Report apply(Context& ctx, state::StateDb& db, const Options& o = {});

// Goes back by hand to the release installed before the current one, optionally restoring data/ from the
// pre-upgrade backup taken when the current one was installed. Runs like an upgrade (journal, health gate,
// automatic return to the current release when the previous one is not healthy).
Report rollback(Context& ctx, state::StateDb& db, bool restore_data);

// Finishes or undoes an interrupted upgrade (see above); nullopt when there was none.
std::optional<Report> recover(Context& ctx, state::StateDb& db);

// Cleans what an interrupted run left besides the journal: restores in progress, in-progress backups.
void clean_interrupted(Context& ctx, state::StateDb& db);

// `import --scan DIR`: the newest bundle in DIR (regular files, not recursive) that verifies against the trusted
// metadata and holds a release of this app and architecture newer than the installed one. `skipped` gets one
// line per other file with the reason. nullopt when none fits. Changes nothing (trust state is not saved).
std::optional<std::string> scan(Context& ctx, const std::string& dir, std::vector<std::string>& skipped);

// `airlock stage PATH`: refreshes the trusted metadata from `source` (saved), picks the newest release of this
// app and architecture (optionally exactly `version`; a patch when it applies to the current version), verifies
// its payload and stages releases/<v> with its release.json. Nothing runs and `current` does not move. One audit
// row "stage". Error(not_found) when the source holds no such release.
release::Manifest stage_release(Context& ctx, state::StateDb& db, bundle::Container& source,
                                const std::optional<std::string>& version);

// `init --adopt`: the adopted tree releases/0 bind-mounts data from inside itself ("./pgdata", as most compose
// files are written), which the first upgrade would leave behind. Moves each such source into data/ (same
// relative path) and rewrites "./<path>" to "${AIRLOCK_DATA}/<path>" in the compose file. Returns one line per
// move for the operator. Refused (Error(usage), nothing moved) while the project runs (the copy of a live database
// is not consistent: stop it first), or when a source is not written as "./<path>" in the compose file.
std::vector<std::string> adopt_relative_data(Context& ctx, const std::string& compose_file);

// Writes <state>/releases/<version>.json for a site adopted as version 0 (compose_file found in the tree).
void record_adopted_release(Context& ctx, const std::string& compose_file);

} // namespace airlock::pipeline
