// The agent's site commands: init, status, history, stage and backup create|list|verify|restore|prune
// (site_cmds.cpp), and the update commands import, apply, rollback and recover (update_cmds.cpp).
// Each takes --config FILE (default /etc/airlock/airlock.conf); the ones that change the site hold the run
// lock (state::RunLock) and first finish or undo interrupted work (pipeline::recover).
#pragma once

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "pipeline/context.hpp"
#include "state/db.hpp"
#include "util/args.hpp"

namespace airlock::agent {

// Runs `airlock <argv[1]> ...` when it is a site command and returns its exit code; returns -1 when argv[1] is
// not a site command. Throws Error for failures (mapped to exit codes by the caller).
int run_site_command(int argc, const char* const* argv);

// The configuration of an initialised site (--config or the default), with logging set up from it (--json
// streams events as JSON lines on stderr, --cron keeps stderr quiet). Error(not_found) when `airlock init`
// has not run.
config::Config open_site(const util::Args& a);

// Finishes or undoes an interrupted upgrade (pipeline::recover) and reports what it did on stderr; throws
// Error(needs_attention) when the site could not be brought back, so that nothing else runs on top of it.
void recover_first(const config::Config& cfg, state::StateDb& db);

// The seams of the shipped binary: the real parts, and the black-box tests' kill hook when AIRLOCK_TEST_KILL_AT
// names a step ("<step>" or "<step>:begin").
pipeline::Seams seams_from_env();

// import, apply, rollback, recover.
void add_update_commands(cli::CommandTable& table);

} // namespace airlock::agent
