#!/usr/bin/env bash
# Proves the whole `airlock import` pipeline commits on a real docker engine: a first install of 1.0.0 from a full
# bundle onto an empty site, a full upgrade to 1.1.0 and a patch upgrade 1.1.0 -> 1.2.0. Each exits 0, the service
# answers the new version from a new container, the operator's files in data/ survive byte for byte (and the
# service's own data/log keeps every earlier line), `status --json` reports the version, and `history --json`
# has an import row with outcome ok, from/to, the bundle's SHA-256, downtime > 0 and a backup ID that
# `backup list --json` shows as a complete pre-upgrade backup of the old version. Importing an already installed
# bundle again (the full 1.1.0 one, then the 1.2.0 patch) has nothing to do: exit 0 and the container is not
# restarted (same container ID).
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2eimport$$ E2E_PORT=18401
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")

e2e_release 1.0.0
e2e_release 1.1.0
e2e_release 1.2.0
e2e_patch 1.1.0 1.2.0
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
b12p=$(e2e_bundle 1.2.0 1.1.0 --patch-only)
e2e_forget_images 1.0.0 1.1.0 1.2.0 # the site gets them from the bundles only
e2e_init
assert_eq "$(e2e_status_version)" None "status before the first install"
assert_eq "$(e2e_cid)" "" "containers before the first install"

operator_sum() { (cd "$E2E_SITE/data/operator" && find . -printf '%y %m %p\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum; }

# The import row of `history --json` for FROM -> TO: outcome ok, the bundle's hash, downtime, a complete backup.
check_history() {
  local from=$1 to=$2 bundle=$3 kind=$4 row backup
  row=$(e2e_history | e2e_py "json.dumps([r for r in d if r['action'] == 'import' and r['to'] == '$to'][0])")
  assert_eq "$(e2e_py 'd["outcome"]' <<<"$row")" ok "history: outcome of the import of $to"
  assert_eq "$(e2e_py 'd["from"]' <<<"$row")" "$from" "history: from of the import of $to"
  assert_eq "$(e2e_py 'd["bundle_sha256"]' <<<"$row")" "$(sha256sum "$bundle" | cut -d' ' -f1)" "history: bundle_sha256 of $to"
  assert_eq "$(e2e_py 'd["downtime_ms"] > 0' <<<"$row")" True "history: downtime_ms of $to > 0 ($row)"
  assert_contains "$(e2e_py 'd["detail"]' <<<"$row")" "$kind upgrade" "history: detail of $to"
  backup=$(e2e_py 'd["backup_id"]' <<<"$row")
  [ -n "$backup" ] || fail "history: the import of $to names no backup ($row)"
  "$AIRLOCK" backup list --json "${CF[@]}" >"$T/backups.json"
  assert_eq "$(e2e_py "[(b['status'], b['kind'], b['app_version']) for b in d if b['id'] == '$backup']" <"$T/backups.json")" \
    "[('complete', 'pre-upgrade', '$from')]" "backup $backup of the import of $to"
  [ -s "$(e2e_py "[b['path'] for b in d if b['id'] == '$backup'][0]" <"$T/backups.json")" ] || fail "backup $backup has no file"
}

# 1. The first install onto an empty site.
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.0.0 ($out)"
assert_contains "$out" "updated (nothing) -> 1.0.0 (full"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the first install"
assert_eq "$(e2e_current)" "releases/1.0.0" "current after the first install"
assert_eq "$(e2e_status_version)" 1.0.0 "status after the first install"
assert_eq "$(cat "$E2E_SITE/data/log")" "1.0.0 started" "data/log written by 1.0.0"
check_history "" 1.0.0 "$b10" full
docker image inspect "$E2E_APP-web:1.0.0" >/dev/null || fail "the image of 1.0.0 was not loaded from the bundle"
cid10=$(e2e_cid)
[ -n "$cid10" ] || fail "no running container after the first install"

# The operator's own data next to what the service writes.
mkdir -p "$E2E_SITE/data/operator/sub"
head -c 200000 /dev/urandom >"$E2E_SITE/data/operator/db.bin"
echo "precious" >"$E2E_SITE/data/operator/sub/notes.txt"
chmod 0640 "$E2E_SITE/data/operator/sub/notes.txt"
want_operator=$(operator_sum)

# 2. A full upgrade.
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 0 "full upgrade to 1.1.0 ($out)"
assert_contains "$out" "updated 1.0.0 -> 1.1.0 (full"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the full upgrade"
assert_eq "$(e2e_current)" "releases/1.1.0" "current after the full upgrade"
assert_eq "$(e2e_status_version)" 1.1.0 "status after the full upgrade"
assert_eq "$(operator_sum)" "$want_operator" "operator data after the full upgrade"
assert_eq "$(cat "$E2E_SITE/data/log")" $'1.0.0 started\n1.1.0 started' "data/log after the full upgrade"
check_history 1.0.0 1.1.0 "$b11" full
cid11=$(e2e_cid)
[ -n "$cid11" ] && [ "$cid11" != "$cid10" ] || fail "the full upgrade did not start a new container ($cid10 -> $cid11)"
assert_eq "$(docker inspect -f '{{.Config.Image}}' "$cid11")" "$E2E_APP-web:1.1.0" "image of the new container"
started11=$(docker inspect -f '{{.State.StartedAt}}' "$cid11")

# The same full bundle again: nothing to do, nothing restarted.
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 0 "importing the installed 1.1.0 bundle again ($out)"
assert_contains "$out" "nothing to do"
assert_eq "$(e2e_cid)" "$cid11" "container after importing the installed bundle again"
assert_eq "$(docker inspect -f '{{.State.StartedAt}}' "$cid11")" "$started11" "start time of the container"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after importing the installed bundle again"

# 3. A patch upgrade: only the changed files and the new image travel.
run "$AIRLOCK" import "$b12p" --yes "${CF[@]}"
assert_eq "$rc" 0 "patch upgrade 1.1.0 -> 1.2.0 ($out)"
assert_contains "$out" "updated 1.1.0 -> 1.2.0 (patch"
assert_eq "$(e2e_body)" "ok 1.2.0" "the service after the patch upgrade"
assert_eq "$(e2e_current)" "releases/1.2.0" "current after the patch upgrade"
assert_eq "$(e2e_status_version)" 1.2.0 "status after the patch upgrade"
grep -qx 'release=1.2.0' "$E2E_SITE/releases/1.2.0/config/app.conf" || fail "releases/1.2.0/config/app.conf was not patched"
grep -qx 'release=1.1.0' "$E2E_SITE/releases/1.1.0/config/app.conf" || fail "the patch base releases/1.1.0 was modified"
assert_eq "$(operator_sum)" "$want_operator" "operator data after the patch upgrade"
assert_eq "$(cat "$E2E_SITE/data/log")" $'1.0.0 started\n1.1.0 started\n1.2.0 started' "data/log after the patch upgrade"
check_history 1.1.0 1.2.0 "$b12p" patch
cid12=$(e2e_cid)
[ -n "$cid12" ] && [ "$cid12" != "$cid11" ] || fail "the patch upgrade did not start a new container ($cid11 -> $cid12)"
started12=$(docker inspect -f '{{.State.StartedAt}}' "$cid12")

# The same patch bundle again: its target is installed, so there is nothing to do either.
# (The site must be untouched whatever the exit code; the exit code and message are checked last.)
run "$AIRLOCK" import "$b12p" --yes "${CF[@]}"
assert_eq "$(e2e_cid)" "$cid12" "container after importing the installed patch again"
assert_eq "$(docker inspect -f '{{.State.StartedAt}}' "$cid12")" "$started12" "start time of the container"
assert_eq "$(e2e_body)" "ok 1.2.0" "the service after importing the installed patch again"
assert_eq "$(e2e_status_version)" 1.2.0 "status at the end"
assert_eq "$(operator_sum)" "$want_operator" "operator data at the end"
assert_eq "$rc" 0 "importing the installed 1.1.0 -> 1.2.0 patch bundle again ($out)"
assert_contains "$out" "nothing to do"
echo "ok: 1.0.0 installed, upgraded to 1.1.0 (full) and 1.2.0 (patch); re-imports changed nothing"
