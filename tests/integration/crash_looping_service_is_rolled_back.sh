#!/usr/bin/env bash
# Proves the health gate catches a crash loop and the pipeline rolls back: release 1.1.0's service exits 1 s after
# it starts and docker restarts it (restart policy "always"), so it can look "running" at any single glance. The
# gate sees the restart count move and fails at once, well before its 20 s timeout, with a message about
# restarts; the import exits 7 (rolled_back); 1.0.0 answers again; current and status name 1.0.0; data/ is
# restored from the pre-upgrade backup: byte for byte as before the import, except the one line the restarted
# 1.0.0 service appends to data/log when it starts (every "1.1.0 started" line the crashing release wrote is
# gone); history records the import as rolled-back with its backup.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2ecrash$$ E2E_PORT=18451
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")

e2e_release 1.0.0
e2e_release 1.1.0 crash always
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
e2e_forget_images 1.0.0 1.1.0
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.0.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the first install"
mkdir -p "$E2E_SITE/data/operator"
head -c 100000 /dev/urandom >"$E2E_SITE/data/operator/db.bin"
echo "precious" >"$E2E_SITE/data/operator/notes.txt"
# What data/ must look like after the rollback: as now, plus the line 1.0.0 appends to data/log when it restarts.
mkdir -p "$T/expected"
cp -a "$E2E_SITE/data" "$T/expected/data"
echo "1.0.0 started" >>"$T/expected/data/log"
want_data=$(E2E_SITE=$T/expected e2e_data_sum)

t0=$(date +%s)
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
took=$(($(date +%s) - t0))
echo "import of the crash-looping release: exit $rc after ${took}s: $out" >&2
assert_eq "$rc" 7 "import of a crash-looping release ($out)"
assert_contains "$out" "ROLLED BACK to 1.0.0" "the message"
assert_contains "$out" "restarted" "the message (the gate saw the restarts)"
assert_contains "$out" "crash loop" "the message"
# The gate failed fast: its journal row lasted far less than the 20 s timeout (the journal, not the wall time of
# the whole import, which grows with the machine's load when scenarios run side by side).
health_s=$(sqlite3 "$E2E_STATE/state.db" "SELECT CAST(round((julianday(ended_at) - julianday(started_at)) * 86400) AS INTEGER)
  FROM journal WHERE step = 'health' AND status = 'failed' ORDER BY id DESC LIMIT 1")
[ -n "$health_s" ] || fail "no failed health step in the journal: $(e2e_last_steps)"
[ "$health_s" -le 8 ] || fail "the health gate took ${health_s}s to notice the crash loop (timeout 20 s)"
assert_eq "$(e2e_last_steps)" \
  "begin:done fetch:done stage:done load:done pre-copy:done stop:done snapshot:done switch:done start:done health:failed rb-stop:done rb-switch:done rb-restore:done rb-start:done rb-health:done rollback:done" \
  "journal of the rolled-back upgrade"

e2e_wait_body "ok 1.0.0" 5
assert_eq "$(e2e_current)" "releases/1.0.0" "current after the rollback"
assert_eq "$(e2e_status_version)" 1.0.0 "status after the rollback"
new=$(e2e_cid)
[ -n "$new" ] || fail "nothing runs after the rollback"
assert_eq "$(docker inspect -f '{{.Config.Image}} {{.RestartCount}}' "$new")" "$E2E_APP-web:1.0.0 0" "the container after the rollback"
[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$E2E_APP" --filter status=restarting)" ] || fail "a container is still restarting"
grep -q '1.1.0 started' "$E2E_SITE/data/log" && fail "data/log keeps what the crashing release wrote: $(cat "$E2E_SITE/data/log")"
assert_eq "$(e2e_data_sum)" "$want_data" "data/ after the rollback (log: $(tr '\n' '|' <"$E2E_SITE/data/log"))"
row=$(e2e_history | e2e_py 'json.dumps(d[0])')
assert_eq "$(e2e_py '(d["action"], d["from"], d["to"], d["outcome"])' <<<"$row")" \
  "('import', '1.0.0', '1.1.0', 'rolled-back')" "newest history row"
# data/ came back from the snapshot taken in the window (swapped in by rename): no tar.gz, no snapshot left.
assert_eq "$(e2e_py 'd["backup_id"]' <<<"$row")" "" "backup of the rolled-back upgrade"
assert_contains "$(sqlite3 "$E2E/site/state/state.db" "SELECT detail FROM journal WHERE step = 'rb-restore' ORDER BY id DESC LIMIT 1")" \
  "swapped back in" "the rb-restore row"
[ -z "$(ls -A "$E2E_SITE" | grep -E '^\.airlock-' || true)" ] || fail "snapshots left in the app dir: $(ls -A "$E2E_SITE")"
assert_contains "$(e2e_py 'd["detail"]' <<<"$row")" "restarted" "history detail"
"$AIRLOCK" history --json "${CF[@]}" | e2e_strict_json "history --json after the rollback"
echo "ok: the crash loop was caught after ${health_s}s of health gate and rolled back to 1.0.0 (import exit $rc in ${took}s)"
