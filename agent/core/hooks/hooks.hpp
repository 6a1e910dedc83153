// Hooks, as Mender's state scripts: executables the operator puts in <dir>/<event>/ (airlock.conf [hooks] dir,
// default /etc/airlock/hooks.d), run by the pipeline at four events of an upgrade:
//   pre-upgrade      after the preflight, before anything is fetched, staged or stopped; a failing hook stops the
//                    upgrade (the pipeline's Error(hook_refused)). With --stage-only it runs at `apply`.
//   post-commit      after the commit (and the archive of the pre-upgrade backup)
//   post-rollback    after a rollback brought the old release back
//   needs-attention  after a rollback failed: the site is not healthy
// Failures of the post-* and needs-attention hooks are logged and recorded, and change nothing.
//
// Each hook gets the event as one canonical JSON object and a newline on stdin (Notice below), runs in a process
// group of its own with a minimal environment (PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin,
// AIRLOCK_EVENT, AIRLOCK_APP; of the agent's own only HOME, TZ, LANG and LC_*) and is killed with its whole
// process group when [hooks] timeout seconds (default 60) pass. Hooks run one at a time, in byte order of their
// names. Names starting with '.' or ending in '~' are ignored; a file that is not executable is skipped with a
// warning. A hook (after following symlinks), its event directory or the hooks directory that is world-writable
// or owned by anyone but root or the agent's own uid is refused, as sudo and cron refuse such files: it does not
// run and counts as failed.
//
// Every run is recorded in the state database (state::HookRun: hook, event, outcome, exit code, duration, the
// tail of its output) and logged.
// Thread-safety: plain functions; run() forks, one run at a time per process.
#pragma once

#include "state/db.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace airlock::hooks {

enum class Event { pre_upgrade, post_commit, post_rollback, needs_attention };
std::string_view event_name(Event e); // pre-upgrade | post-commit | post-rollback | needs-attention

struct Settings {
  std::string dir = "/etc/airlock/hooks.d";
  int timeout_s = 60;
};

// What the hooks of an event read on stdin. Always present: event, site_id, app, upgrade_id, from ("" for a
// first install), to, kind (full | patch | rollback), action (import | upgrade | apply | rollback | recover).
// post-commit, post-rollback and needs-attention add outcome (updated | rolled-back | needs-attention) and reason;
// post-commit and post-rollback add downtime_ms; post-commit adds backup_id ("" when none was written).
struct Notice {
  Event event = Event::pre_upgrade;
  std::string site_id, app, upgrade_id, from, to, kind, action;
  std::string outcome, reason, backup_id;
  std::int64_t downtime_ms = 0;
};
// The JSON object of `n` (the fields its event has, see above), canonical and without the newline.
std::string notice_json(const Notice& n);

// The hooks of `e`: <dir>/<event-name>/<name>, the names in byte order, without the ignored names (above).
// Non-executable files are included (run() skips them with a warning). A missing directory: none.
std::vector<std::string> list(const Settings& s, Event e);

// Why `path` must not run, or "" when it may: it (after following symlinks) is not a regular file, or it, its
// directory or that directory's parent is world-writable or owned by neither root nor `agent_uid`. The text names
// the file or directory, its owner and mode, and what to change.
std::string unsafe_reason(const std::string& path, uid_t agent_uid);

enum class OnFailure { stop, go_on };

// Runs the hooks of n.event (list()) one after the other, each recorded with db.hook_run_add and logged; with
// OnFailure::stop the first that fails (non-zero exit, killed at the timeout, refused) ends the series. Returns
// the runs, in order: a caller finds a failure as a run whose outcome is not "ok". Throws only when the state
// database cannot be written.
std::vector<state::HookRun> run(const Settings& s, state::StateDb& db, const Notice& n, OnFailure on_failure);

// One line for the operator about a failed run: "pre-upgrade hook <path> exited with code 3: <last output line>",
// "... did not finish within 60 s and was killed with its process group", "... was refused: <why>".
std::string describe_failure(const state::HookRun& r, int timeout_s);

} // namespace airlock::hooks
