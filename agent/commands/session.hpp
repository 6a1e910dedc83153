// The opening every site command shares: the configuration (--config FILE, default /etc/airlock/airlock.conf),
// logging set up from it, the state database, and, for a command that changes the site, the run lock, the
// pipeline::Context and the recovery of interrupted work, once, before anything else runs.
//
//   Session s(a);           // configuration and logging; Error(usage) / Error(not_found) before anything else
//   ...check operands...    // usage errors come before the lock, as they always did
//   s.open_for_change();    // run lock, database, Context, pipeline::recover first
//
// Read-only commands (status, history, check, backup list|verify) call open_read_only() instead: no lock and no
// recovery, so they answer while an upgrade runs, and change nothing.
//
// The kill hook: the Context of a Session carries the black-box tests' fault hook when the environment variable
// AIRLOCK_TEST_KILL_AT is set to a journal step name of pipeline::steps ("stop": killed at the step's end, right
// before its journal row is closed; "stop:begin": right after the row is opened). Session is the only code in
// airlock that reads test variables (this one and AIRLOCK_NOW); the pipeline only calls Context::at_step. Unset, it
// costs nothing: it is safe in a shipped binary because only someone who can already kill the process can set it.
//
// The test clock: AIRLOCK_NOW=<seconds since the epoch> pins the Context's wall clock (util::PinnedClock), which
// the maintenance windows, metadata expiry and the window lines of `airlock check` read; the black-box tests put
// "now" just before, inside and after a window with it. Like airlock-bundle's, it moves no file time or log time.
// Thread-safety: one Session per process, used by one thread.
#pragma once

#include "config/config.hpp"
#include "pipeline/context.hpp"
#include "site/layout.hpp"
#include "state/db.hpp"
#include "state/lock.hpp"
#include "util/args.hpp"

#include <memory>
#include <string_view>

namespace airlock::commands {

// What open_for_change() does about an interrupted upgrade.
enum class Recover {
  first,      // finish or undo it first, report it, refuse to go on when the site could not be brought back
  by_command, // nothing: the command is `airlock recover`, which runs and reports it itself
};

class Session {
public:
  // Loads the configuration named by --config (or the default) and sets up logging from it: --json streams
  // events as JSON lines on stderr, --cron keeps stderr quiet, events go to [log] file (default
  // <state>/airlock.jsonl) when its directory exists. Error(usage) for a bad configuration or no [app] name;
  // Error(not_found) when `airlock init` has not run (no app directory or no state database).
  explicit Session(const util::Args& a);
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // A read-only command's start: opens the state database. Takes no lock and recovers nothing.
  void open_read_only();
  // Takes the run lock (state::RunLock): Error(busy) when another airlock holds it. open_for_change() takes it
  // when this was not called; `upgrade --cron` calls it first, because a busy lock is not an error there.
  void lock();
  // A changing command's start: the run lock, the state database, and with Recover::first pipeline::recover:
  // what it did is reported as `airlock recover` reports it (text), and Error(needs_attention) "an interrupted
  // upgrade could not be undone; nothing else was done" when the site could not be brought back.
  void open_for_change(Recover recover = Recover::first);

  const config::Config& cfg() const { return cfg_; }
  const site::Layout& layout() const { return layout_; }
  // The state database; open_read_only() or open_for_change() must have run (std::logic_error otherwise).
  state::StateDb& db();
  // The pipeline's Context (the real engine, the kill hook and the pinned clock when set), built on first use.
  pipeline::Context& ctx();

private:
  config::Config cfg_;
  site::Layout layout_;
  std::unique_ptr<state::RunLock> lock_;
  std::unique_ptr<state::StateDb> db_;
  std::unique_ptr<util::Clock> clock_; // AIRLOCK_NOW's, when set; outlives ctx_
  std::unique_ptr<pipeline::Context> ctx_;
};

// The hook that logs the warning event "AIRLOCK_TEST_KILL_AT=<point>: killing myself" and raises SIGKILL at
// the step and moment named by `point` ("<step>" or "<step>:begin"; see above). Exposed for its unit test.
pipeline::StepHook kill_hook(std::string_view point);

} // namespace airlock::commands
