// The agent's site commands: init, status, history and backup create|list|verify|restore|prune.
// Each takes --config FILE (default /etc/airlock/airlock.conf); the ones that change the site hold the run
// lock (state::RunLock) and first clean up an interrupted restore (backup::recover).
#pragma once

namespace airlock::agent {

// Runs `airlock <argv[1]> ...` when it is a site command and returns its exit code; returns -1 when argv[1] is
// not a site command. Throws Error for failures (mapped to exit codes by the caller).
int run_site_command(int argc, const char* const* argv);

} // namespace airlock::agent
