#!/usr/bin/env bash
# PostgreSQL 15 (tests/fixtures/pg) with PGDATA in ${AIRLOCK_DATA}/pgdata: 1.1.0 runs a destructive migration
# (half the rows and a column gone) and fails its health gate. airlock exits 7 and the database is exactly as
# before the import (rows, sum, every row's md5, schema), 1.0.0 answers again, the audit row says rolled-back
# and no snapshot is left in the app dir. A healthy 1.2.0 then commits, with data/pgdata/ in its backup.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=pgdata$$ E2E_PORT=18510
export PG_APP=$E2E_APP PG_WEB_PORT=18510 PG_DB_PORT=18511
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/pg/lib.sh"
pg_images
defer pg_cleanup
pg_e2e_release 1.0.0 data=bind
pg_e2e_release 1.1.0 data=bind mode=destructive-migration timeout=10
pg_e2e_release 1.2.0 data=bind
e2e_patch 1.0.0 1.1.0
e2e_patch 1.0.0 1.2.0
e2e_init
CF=(--config "$E2E_CONF")
run "$AIRLOCK" import "$(e2e_bundle 1.0.0)" "${CF[@]}"
assert_eq "$rc" 0 "install of 1.0.0 ($out)"
pg_seed 628
before=$(pg_state)
assert_eq "${before%% *}" "rows=628" "rows after the seed"
[ -s "$E2E_SITE/data/pgdata/PG_VERSION" ] || fail "PGDATA is not in data/pgdata"
assert_eq "$(docker volume ls -q --filter "label=com.docker.compose.project=$PG_APP")" "" "volumes of the project"

pg_import_seeing "migration done 1.1.0" "$(e2e_bundle 1.1.0 1.0.0 --patch-only)" "${CF[@]}"
assert_eq "$rc" 7 "import of the destructive 1.1.0 ($out)"
assert_eq "${pg_during%% *}" "rows=314" "rows while 1.1.0 ran (the migration deleted half)"
assert_eq "$(pg_health)" "ok 1.0.0" "/health after the rollback"
assert_eq "$(pg_state)" "$before" "the database after the rollback"
outcome=$("$AIRLOCK" history --json "${CF[@]}" | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["from"], r["to"], r["outcome"])')
assert_eq "$outcome" "1.0.0 1.1.0 rolled-back" "the audit row"
left=$(ls -A "$E2E_SITE" "$E2E_SITE/data" | grep -E '^\.airlock-(snapshot|old)-' || true)
[ -z "$left" ] || fail "snapshots left behind: $left"

run "$AIRLOCK" import "$(e2e_bundle 1.2.0 1.0.0 --patch-only)" "${CF[@]}"
assert_eq "$rc" 0 "upgrade to the healthy 1.2.0 ($out)"
assert_eq "$(pg_health)" "ok 1.2.0" "/health of 1.2.0"
assert_eq "$(pg_state)" "$before" "the database on 1.2.0"
id=$("$AIRLOCK" history --json "${CF[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup_id"])')
tar -tzf "$E2E/site/state/backups/$id.tar.gz" > "$T/backup.list" || fail "no pre-upgrade backup $id"
grep -qx 'data/pgdata/PG_VERSION' "$T/backup.list" || fail "the backup does not hold data/pgdata/: $(head "$T/backup.list")"
echo "ok: data/pgdata came back exactly ($before); 1.2.0 committed with it in its backup"
