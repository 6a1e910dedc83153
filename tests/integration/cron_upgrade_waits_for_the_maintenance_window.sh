#!/usr/bin/env bash
# Proves [schedule] window on the static binary, the real dockerd and the test nginx, with "now" pinned by
# AIRLOCK_NOW around a one-hour window that opens ten minutes from the real now, in the local time of TZ=XST-2
# (UTC+2, so the window's wall-clock day and hour differ from UTC's):
#  1. a second before it opens: `check` says outside and when it opens (text and --json); `upgrade --cron`
#     downloads 1.0.0, installs nothing, says it waits for the window and when it opens, exits 0, and leaves the
#     audit row "upgrade waiting" and the log event cron/window-wait;
#  2. at its first second (start inclusive): `check` says inside and until when; `upgrade --cron` installs 1.0.0
#     from the downloads (no target is fetched again);
#  3. at its end (exclusive) with 1.1.0 published: `upgrade --cron` only downloads and names the other window
#     as the next to open; an operator's `upgrade` (no --cron) installs 1.1.0 at once;
#  4. a malformed window is exit 2 at config load, naming the line, for check and upgrade --cron alike.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}" "${AIRLOCK_TEST_WWW:?testenv is not started}"
E2E=$T/e2e E2E_APP=e2ewindow$$ E2E_PORT=18471
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")
WWW=$AIRLOCK_TEST_WWW/window-$$
defer rm -rf "$WWW"
publish() { rm -rf "$WWW.new"; cp -r "$E2E/repo" "$WWW.new"; chmod -R a+rX "$WWW.new"; rm -rf "$WWW"; mv "$WWW.new" "$WWW"; }
export TZ=XST-2
local_text() { date -d "@$1" '+%a %Y-%m-%d %H:%M %Z'; }
utc_text() { date -u -d "@$1" '+%Y-%m-%dT%H:%M:%SZ'; }
# Pinned "now" per run.
at() { local t=$1; shift; AIRLOCK_NOW=$t "$@"; }

T0=$(( ($(date +%s) / 60 + 10) * 60 )) # the window opens 10 minutes from now, on a whole minute
T1=$((T0 + 3600))
WINDOW="$(date -d "@$T0" '+%a %H:%M')-$(date -d "@$T1" '+%H:%M')" # e.g. "Wed 07:10-08:10" (may cross midnight)
# A second window three days after T0's day, at 03:00 local: never near now, and the next to open after T1.
T2=$(date -d "$(date -d "@$T0" +%F) +3 days 03:00" +%s)
OTHER="$(date -d "@$T2" +%a) 03:00-03:30"

e2e_release 1.0.0
publish
e2e_forget_images 1.0.0
e2e_init
cat >> "$E2E_CONF" <<CONF
[repository]
urls = $AIRLOCK_TEST_HTTP/window-$$
retries = 1
[schedule]
window = $OTHER, $WINDOW
CONF
run "$AIRLOCK" config check "${CF[@]}"
assert_eq "$rc" 0 "config check with windows ($out)"

# 1. Just before the window.
run at $((T0 - 1)) "$AIRLOCK" check "${CF[@]}"
assert_eq "$rc" 10 "check before the window ($out)"
assert_contains "$out" "maintenance window: outside ($OTHER, $WINDOW); the next opens $(local_text "$T0") ($WINDOW)"
run at $((T0 - 1)) "$AIRLOCK" check --json "${CF[@]}"
window=$(tail -1 <<<"$out" | python3 -c 'import json,sys; w=json.load(sys.stdin)["window"]; print(w["configured"], w["inside"], w["opens_at"], w["opening"], w["closes_at"], w["windows"])')
assert_eq "$window" "True False $(utc_text "$T0") $WINDOW None ['$OTHER', '$WINDOW']" "check --json window before it opens"

run at $((T0 - 1)) "$AIRLOCK" upgrade --cron --max-delay 0 "${CF[@]}"
assert_eq "$rc" 0 "upgrade --cron before the window ($out)"
assert_contains "$out" "downloaded (nothing) -> 1.0.0 (full)"
assert_contains "$out" "outside the maintenance windows ($OTHER, $WINDOW): 1.0.0 is downloaded and waits for the window that opens $(local_text "$T0")"
[ ! -e "$E2E_SITE/current" ] || fail "upgrade --cron installed outside the window: current -> $(readlink "$E2E_SITE/current")"
assert_eq "$(e2e_body)" "" "the service before the window"
[ "$(find "$E2E_STATE/downloads" -maxdepth 1 -type f | wc -l)" -ge 2 ] || fail "nothing downloaded before the window"
assert_eq "$(sqlite3 "$E2E_STATE/state.db" "SELECT action, outcome, to_version FROM audit ORDER BY id DESC LIMIT 2")" \
  "upgrade|waiting|1.0.0
download|downloaded|1.0.0" "the audit rows of the run before the window"
event=$(grep '"event":"window-wait"' "$E2E_STATE/airlock.jsonl" | tail -1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["module"], d["to"], d["opens_at"])')
assert_eq "$event" "cron 1.0.0 $(utc_text "$T0")" "the log event of the wait"

# 2. The window's first second: inside (start inclusive); the cron run installs from the downloads.
run at "$T0" "$AIRLOCK" check "${CF[@]}"
assert_contains "$out" "maintenance window: inside $WINDOW until $(local_text "$T1"); upgrade --cron installs now"
log=$TESTENV/nginx-access.log
before=$(wc -l <"$log")
run at "$T0" "$AIRLOCK" upgrade --cron --max-delay 0 "${CF[@]}"
assert_eq "$rc" 0 "upgrade --cron inside the window ($out)"
assert_contains "$out" "updated (nothing) -> 1.0.0 (full"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the install in the window"
requests=$(tail -n +"$((before + 1))" "$log" | grep -F "/window-$$/" || true)
! grep -F "/targets/" <<<"$requests" | grep -v "release.json" | grep -q . \
  || fail "the install in the window fetched targets again: $requests"
run at $((T1 - 1)) "$AIRLOCK" check --json "${CF[@]}"
assert_eq "$(tail -1 <<<"$out" | python3 -c 'import json,sys; w=json.load(sys.stdin)["window"]; print(w["inside"], w["current"], w["closes_at"])')" \
  "True $WINDOW $(utc_text "$T1")" "check --json in the window's last second"

# 3. At the end (exclusive): outside again; the next opening is the other window's.
e2e_release 1.1.0
publish
e2e_forget_images 1.1.0
run at "$T1" "$AIRLOCK" upgrade --cron --max-delay 0 "${CF[@]}"
assert_eq "$rc" 0 "upgrade --cron at the window's end ($out)"
assert_contains "$out" "downloaded 1.0.0 -> 1.1.0"
assert_contains "$out" "waits for the window that opens $(local_text "$T2")"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the cron run at the window's end"
run at "$T1" "$AIRLOCK" upgrade --yes "${CF[@]}"
assert_eq "$rc" 0 "an operator's upgrade outside the window ($out)"
assert_contains "$out" "updated 1.0.0 -> 1.1.0"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the operator's upgrade"

# 4. A malformed window: a configuration error before anything runs.
sed -i "s/^window = .*/window = $WINDOW, Fri 23:00-25:00/" "$E2E_CONF"
line=$(grep -n '^window = ' "$E2E_CONF" | cut -d: -f1)
for cmd in "check" "upgrade --cron --max-delay 0"; do
  # shellcheck disable=SC2086
  run "$AIRLOCK" $cmd "${CF[@]}"
  assert_eq "$rc" 2 "$cmd with a malformed window ($out)"
  assert_contains "$out" "line $line: schedule.window: 'Fri 23:00-25:00' is not a maintenance window: hour 25 is beyond 23"
done
run "$AIRLOCK" config check "${CF[@]}"
assert_eq "$rc" 2 "config check with a malformed window ($out)"
echo ok
