#!/usr/bin/env bash
# Proves issue 12 item 2 for `airlock init --adopt`: a compose directory that keeps its data in "./pgdata" (as most
# are written) would leave that data behind in releases/0 at the first upgrade, so adopting it moves the data into
# data/ and rewrites the mount to ${AIRLOCK_DATA}, saying what it moved; a read-only config file mounted from the
# tree stays (it belongs to the release); compose accepts the result. (Adopting a running project with such data is
# refused, since a copy of a live database is not consistent; that refusal has no test of its own yet.)
. "$(dirname "$0")/lib.sh"
need_docker
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_keys "$T/keys"
"$AIRLOCK_BUNDLE" repo init "$T/repo" --app adoptdata --root-key "$T/keys/root.pem" --targets-key "$T/keys/targets.pem" \
  --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem" >/dev/null
mkdir -p "$T/running/pgdata/base" "$T/running/conf"
echo "rows" >"$T/running/pgdata/base/1"
echo "port=1" >"$T/running/conf/app.ini"
cat >"$T/running/docker-compose.yml" <<'YML'
version: "2.4"
services:
  db:
    image: adoptdata/db:0
    network_mode: host
    volumes: [ "./pgdata:/var/lib/postgresql/data", "./conf/app.ini:/etc/app.ini:ro" ]
YML
C=(--config "$T/airlock.conf")
run "$AIRLOCK" init --app adoptdata --install-root "$T/opt" --state-dir "$T/state" \
  --trusted-root "$T/repo/metadata/1.root.json" --adopt "$T/running" "${C[@]}"
assert_eq "$rc" 0 "init --adopt ($out)"
assert_contains "$out" "moved ./pgdata to $T/opt/adoptdata/data/pgdata"
assert_eq "$(cat "$T/opt/adoptdata/data/pgdata/base/1")" "rows" "the moved data"
[ ! -e "$T/opt/adoptdata/releases/0/pgdata" ] || fail "the data is still in releases/0"
grep -qF '${AIRLOCK_DATA}/pgdata:/var/lib/postgresql/data' "$T/opt/adoptdata/releases/0/docker-compose.yml" \
  || fail "the compose file was not rewritten: $(cat "$T/opt/adoptdata/releases/0/docker-compose.yml")"
grep -qF './conf/app.ini:/etc/app.ini:ro' "$T/opt/adoptdata/releases/0/docker-compose.yml" \
  || fail "the read-only config mount was changed"
assert_eq "$(readlink "$T/opt/adoptdata/current")" "releases/0" "current after adopting"
AIRLOCK_DATA=$T/opt/adoptdata/data docker-compose -p adoptdata --project-directory "$T/opt/adoptdata/releases/0" \
  -f "$T/opt/adoptdata/releases/0/docker-compose.yml" config -q || fail "compose refuses the rewritten file"
assert_eq "$(cat "$T/running/pgdata/base/1")" "rows" "the original directory is untouched"
echo "ok: ./pgdata moved into data/ and mounted from \${AIRLOCK_DATA}; the read-only config stayed"
