#!/usr/bin/env bash
# A writer commits one row per transaction into PostgreSQL 15 (tests/fixtures/pg, PGDATA in a named volume)
# while airlock upgrades the site. Healthy upgrade 1.0.0 -> 1.1.0: every row the writer saw acknowledged, before,
# during and after the stop, is in the database afterwards, and the writer goes on writing on 1.1.0. Failed
# upgrade 1.1.0 -> 1.2.0 (health 500, rolled back, exit 7): every row acknowledged before its stop began is
# still there (those the failed release acknowledged went with its data).
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=pgwriter$$ E2E_PORT=18520
export PG_APP=$E2E_APP PG_WEB_PORT=18520 PG_DB_PORT=18521
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/pg/lib.sh"
pg_images
defer pg_cleanup
pg_e2e_release 1.0.0
pg_e2e_release 1.1.0
pg_e2e_release 1.2.0 mode=fail-health timeout=6
e2e_patch 1.0.0 1.1.0
e2e_patch 1.1.0 1.2.0
e2e_init
CF=(--config "$E2E_CONF")
run "$AIRLOCK" import "$(e2e_bundle 1.0.0)" "${CF[@]}"
assert_eq "$rc" 0 "install of 1.0.0 ($out)"
log=$T/writes.log
touch "$log"
pg_writer_start "$log"
acked_by() { awk -v u="$1" '$2 <= u' "$log" | wc -l; }
# wait_acked_after T: waits until the writer has a row acknowledged after unix time T.
wait_acked_after() {
  local end=$((SECONDS + 60))
  until [ "$(awk -v u="$1" '$2 > u' "$log" | wc -l)" -gt 0 ]; do
    [ $SECONDS -lt $end ] || fail "the writer acknowledged nothing after $1: $(docker logs --tail 5 "$PG_APP-writer" 2>&1)"
    sleep 0.2
  done
}
wait_acked_after "$(date +%s.%N)"
sleep 1

run "$AIRLOCK" import "$(e2e_bundle 1.1.0 1.0.0 --patch-only)" "${CF[@]}"
assert_eq "$rc" 0 "upgrade to 1.1.0 ($out)"
stop1=$(pg_started_at stop)
wait_acked_after "$(date +%s.%N)"
[ "$(acked_by "$stop1")" -ge 20 ] || fail "only $(acked_by "$stop1") rows acknowledged before the stop"
check=$(pg_writer_check "$log") || fail "healthy upgrade lost acknowledged rows: $check"
echo "healthy upgrade: $check ($(acked_by "$stop1") before the stop)"

run "$AIRLOCK" import "$(e2e_bundle 1.2.0 1.1.0 --patch-only)" "${CF[@]}"
assert_eq "$rc" 7 "import of the failing 1.2.0 ($out)"
stop2=$(pg_started_at stop)
assert_eq "$(pg_health)" "ok 1.1.0" "/health after the rollback"
wait_acked_after "$(date +%s.%N)"
n=$(pg_writer_stop)
check=$(pg_writer_check "$log" "$stop2") || fail "rollback lost rows acknowledged before its stop: $check"
[ "$(acked_by "$stop2")" -gt "$(acked_by "$stop1")" ] || fail "no row acknowledged between the two upgrades"
echo "ok: no acknowledged row lost; rolled back: $check of $n acknowledged"
