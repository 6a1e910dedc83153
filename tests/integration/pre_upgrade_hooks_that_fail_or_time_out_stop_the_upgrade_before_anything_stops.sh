#!/usr/bin/env bash
# Hooks (issue 15 item 6, docs/fleet.md "Hooks"): a pre-upgrade hook that exits non-zero, one that does not finish
# within [hooks] timeout, and one that is world-writable each stop `airlock import` with exit 11 (hook_refused)
# before anything stops: the running container is the same (ID, start time, restarts), current, status and data/
# are unchanged, the upgrade's journal is "begin:done rollback:done", and every hook run is a row of hook_runs
# (outcome, exit code, output tail). The timed-out hook is killed with its process group: the child it started in
# the background is gone too. Hooks that run in name order before the failing one ran; those after it did not.
# Then, with the hooks fixed, the same import commits.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2ehookpre$$ E2E_PORT=28651
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")
HOOKS=$T/hooks.d

e2e_release 1.0.0
e2e_release 1.1.0
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
e2e_forget_images 1.0.0 1.1.0
e2e_init
printf '[hooks]\ndir = %s\ntimeout = 2\n' "$HOOKS" >>"$E2E_CONF"
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.0.0 ($out)"
cid=$(e2e_cid)
[ -n "$cid" ] || fail "no running container after the first install"
started=$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$cid")
echo "operator's" >"$E2E_SITE/data/keep"
data_before=$(e2e_data_sum)

hook() { # hook NAME BODY [MODE]: an executable pre-upgrade hook
  mkdir -p "$HOOKS/pre-upgrade"
  printf '#!/bin/sh\n%s\n' "$2" >"$HOOKS/pre-upgrade/$1"
  chmod "${3:-0755}" "$HOOKS/pre-upgrade/$1"
}
rows() { sqlite3 "$E2E_STATE/state.db" "SELECT substr(hook, length('$HOOKS/') + 1) || ':' || outcome || ':' ||
  exit_code FROM hook_runs WHERE upgrade_id = (SELECT upgrade_id FROM journal ORDER BY id DESC LIMIT 1) ORDER BY id" |
  tr '\n' ' ' | sed 's/ $//'; }
unchanged() { # what must hold after every refused import
  assert_eq "$(e2e_cid)" "$cid" "the running container after $1"
  assert_eq "$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$cid")" "$started" "start time, restarts after $1"
  assert_eq "$(e2e_body)" "ok 1.0.0" "the service after $1"
  assert_eq "$(e2e_current)" "releases/1.0.0" "current after $1"
  assert_eq "$(e2e_status_version)" 1.0.0 "status after $1"
  assert_eq "$(e2e_data_sum)" "$data_before" "data/ after $1"
  [ ! -e "$E2E_SITE/releases/1.1.0" ] || fail "releases/1.1.0 was staged after $1"
  assert_eq "$(e2e_last_steps)" "begin:done rollback:done" "journal after $1"
  assert_eq "$(e2e_history | e2e_py 'd[0]["outcome"]')" failed "the newest history row after $1"
}

# 1. A hook that says no.
hook 10-first "echo first ran >> $T/ran"
hook 20-veto "echo 'line 3 is producing: not now' >&2; exit 3"
hook 30-later "echo later ran >> $T/ran"
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 11 "import with a failing pre-upgrade hook ($out)"
assert_contains "$out" "pre-upgrade hook $HOOKS/pre-upgrade/20-veto exited with code 3: line 3 is producing: not now" "the message"
assert_contains "$out" "was stopped before anything changed (nothing was stopped)" "the message"
unchanged "the failing hook"
assert_eq "$(cat "$T/ran")" "first ran" "hooks that ran (in name order, none after the failing one)"
assert_eq "$(rows)" "pre-upgrade/10-first:ok:0 pre-upgrade/20-veto:failed:3" "hook_runs of the refused upgrade"
assert_eq "$(sqlite3 "$E2E_STATE/state.db" "SELECT output FROM hook_runs WHERE hook LIKE '%20-veto'")" \
  "line 3 is producing: not now" "the failing hook's output tail"

# 2. A hook that hangs, with a child in the background that holds none of its pipes.
rm "$HOOKS/pre-upgrade/20-veto" "$T/ran"
hook 20-hang "sleep 600 >/dev/null 2>&1 & echo \$! > $T/child; echo waiting; sleep 600"
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 11 "import with a pre-upgrade hook that times out ($out)"
assert_contains "$out" "pre-upgrade hook $HOOKS/pre-upgrade/20-hang did not finish within 2 s ([hooks] timeout) and was killed with its process group" "the message"
unchanged "the hook that timed out"
assert_eq "$(rows)" "pre-upgrade/10-first:ok:0 pre-upgrade/20-hang:timed-out:-1" "hook_runs of the timed-out upgrade"
child=$(cat "$T/child")
for _ in $(seq 50); do [ -d "/proc/$child" ] && [ "$(awk '{print $3}' "/proc/$child/stat" 2>/dev/null)" != Z ] || break; sleep 0.1; done
if [ -d "/proc/$child" ] && [ "$(awk '{print $3}' "/proc/$child/stat" 2>/dev/null)" != Z ]; then
  fail "the hook's background child $child still runs: $(cat "/proc/$child/cmdline" | tr '\0' ' ')"
fi

# 3. A hook anybody could have written.
rm "$HOOKS/pre-upgrade/20-hang"
hook 20-open "exit 0" 0777
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 11 "import with a world-writable pre-upgrade hook ($out)"
assert_contains "$out" "pre-upgrade hook $HOOKS/pre-upgrade/20-open was refused: hook $HOOKS/pre-upgrade/20-open is world-writable (mode 0777)" "the message"
unchanged "the world-writable hook"
assert_eq "$(rows)" "pre-upgrade/10-first:ok:0 pre-upgrade/20-open:refused:-1" "hook_runs of the refused hook"

# 4. Fixed: the upgrade goes through, and its hooks ran once each.
chmod 0755 "$HOOKS/pre-upgrade/20-open"
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 0 "import with passing hooks ($out)"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the upgrade"
assert_eq "$(rows)" "pre-upgrade/10-first:ok:0 pre-upgrade/20-open:ok:0 pre-upgrade/30-later:ok:0" "hook_runs of the upgrade"
echo "ok: a failing, a hanging and a world-writable pre-upgrade hook each stopped the upgrade before the stop (exit 11)"
