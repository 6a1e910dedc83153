#!/usr/bin/env bash
# The database (PostgreSQL 15, tests/fixtures/pg) needs 15 s to stop cleanly and declares stop_grace_period:
# 30s; a third service ignores SIGTERM and has a grace period of 2 s. The upgrade's stop runs compose's stop:
# the database is given its 30 s and shuts down cleanly (1.1.0's database starts on a cluster whose state is
# "shut down", not "in production" as after a kill), the stop takes those 15 s and its journal row says the
# database exited by itself, while the other service is killed at the end of its own 2 s and the row says so.
# ctest: alone (it bounds the time a stop takes)
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=pgslow$$ E2E_PORT=18530
export PG_APP=$E2E_APP PG_WEB_PORT=18530 PG_DB_PORT=18531
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/pg/lib.sh"
pg_images
defer pg_cleanup
# The markers live in the site's own directory: a bind of a host path outside the app directory is refused by the
# host policy ([policy] bind_paths).
markers='${AIRLOCK_SITE}/markers'
sleeper="  sleeper:
    image: $PG_DB_IMAGE
    network_mode: host
    entrypoint: [ sleep, infinity ]
    stop_grace_period: 2s"
for v in 1.0.0 1.1.0; do pg_e2e_release $v grace=30s delay=15 markers="$markers" extra="$sleeper"; done
e2e_patch 1.0.0 1.1.0
e2e_init
mkdir -p "$E2E_SITE/site/markers"
CF=(--config "$E2E_CONF")
run "$AIRLOCK" import "$(e2e_bundle 1.0.0)" "${CF[@]}"
assert_eq "$rc" 0 "install of 1.0.0 ($out)"
pg_seed 100
before=$(pg_state)

run "$AIRLOCK" import "$(e2e_bundle 1.1.0 1.0.0 --patch-only)" "${CF[@]}"
assert_eq "$rc" 0 "upgrade to 1.1.0 ($out)"
assert_eq "$(pg_health)" "ok 1.1.0" "/health of 1.1.0"
# The marker of the last start (1.1.0's: after the stop began) names the state the stop left the cluster in.
read -r at state < "$E2E_SITE/site/markers/started"
[ "$(date -u -d "$at" +%s)" -ge "$(pg_started_at stop)" ] || fail "the marker is older than the stop: $at $state"
assert_eq "$state" "previous-state=shut down" "the cluster state 1.1.0's database started on"
stop=$(pg_journal stop)
grep -qE '^  db [0-9a-f]{12}: exited by itself with code 0$' <<<"$stop" || fail "the stop row for db: $stop"
grep -qE '^  sleeper [0-9a-f]{12}: killed at the end of its grace period \(exit 137\)$' <<<"$stop" \
  || fail "the stop row for sleeper: $stop"
took=$(sqlite3 "$E2E/site/state/state.db" "SELECT CAST(strftime('%s', ended_at) - strftime('%s', started_at) AS INTEGER)
  FROM journal WHERE step = 'stop' ORDER BY id DESC LIMIT 1")
[ "$took" -ge 14 ] && [ "$took" -lt 30 ] || fail "the stop took $took s (the database needs 15 s)"
assert_eq "$(pg_state)" "$before" "the database on 1.1.0"
echo "ok: the database stopped cleanly in ${took} s; the sleeper was killed at 2 s"
