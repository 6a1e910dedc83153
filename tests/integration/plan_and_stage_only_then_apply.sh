#!/usr/bin/env bash
# Proves the two-phase upgrade of a running site:
#   - `import --plan` prints the decision (from -> to, full), the changed files, the images to load, the services
#     that restart, the bytes to read and the disk needed, and changes nothing: no release tree, no release
#     description, no journal or audit rows, the trusted metadata byte for byte as before, no image loaded, the
#     same container;
#   - `import --stage-only` stages releases/<new> and loads its image while the old container keeps running (same
#     ID and start time, same answer); current and `status` still name the old version; the journal ends at
#     `staged` and history records the import as staged;
#   - `airlock apply --yes` finishes it: the new version answers from a new container and history has an apply
#     row with outcome ok, a backup and downtime.
# `airlock apply` with nothing staged exits 6 (not_found), before and after.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2eplan$$ E2E_PORT=18441
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")

e2e_release 1.0.0
e2e_release 1.1.0
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
e2e_forget_images 1.0.0 1.1.0
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.0.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the first install"
cid=$(e2e_cid)
[ -n "$cid" ] || fail "no running container after the first install"
started=$(docker inspect -f '{{.State.StartedAt}}' "$cid")

# Nothing staged yet.
run "$AIRLOCK" apply --yes "${CF[@]}"
assert_eq "$rc" 6 "apply with nothing staged ($out)"
assert_contains "$out" "no staged or downloaded upgrade to apply"

running_unchanged() { # WHAT
  assert_eq "$(e2e_cid)" "$cid" "the running container $1"
  assert_eq "$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$cid")" "$started 0" "its start time $1"
  assert_eq "$(e2e_body)" "ok 1.0.0" "the service $1"
  assert_eq "$(e2e_current)" "releases/1.0.0" "current $1"
  assert_eq "$(e2e_status_version)" 1.0.0 "status $1"
}

# 1. --plan: prints, changes nothing.
trust_before=$(e2e_trust_sum)
journal_before=$(e2e_journal_rows)
audit_before=$(sqlite3 "$E2E_STATE/state.db" "SELECT count(*) FROM audit")
state_before=$(cd "$E2E_STATE" && find . -path ./airlock.jsonl -prune -o -print | LC_ALL=C sort)
run "$AIRLOCK" import "$b11" --plan "${CF[@]}"
assert_eq "$rc" 0 "import --plan ($out)"
echo "$out" >&2
assert_contains "$out" "plan: $E2E_APP 1.0.0 -> 1.1.0 (full release)" "the plan's decision"
assert_contains "$out" "files added: 0" "the plan"
assert_contains "$out" "files changed: 2" "the plan"
assert_contains "$out" "  config/app.conf" "the plan's changed files"
assert_contains "$out" "  docker-compose.yml" "the plan's changed files"
assert_contains "$out" "files removed: 0" "the plan"
image_line=$(grep -F "($E2E_APP-web:1.1.0): load; " <<<"$out") || fail "the plan names no image load of $E2E_APP-web:1.1.0: $out"
# The base layer (the service binary) is in the engine: only the version's own layer is fetched.
grep -Eq 'load; 1 of 2 layer\(s\) to fetch \([0-9.]+ (B|KiB|MiB)\), 1 in the engine$' <<<"$image_line" \
  || fail "the image line does not give the layers to fetch and their size: $image_line"
assert_contains "$out" "services restarted (project $E2E_APP): web" "the plan"
grep -Eq '^bytes to read and verify: [0-9.]+ (B|KiB|MiB)$' <<<"$out" || fail "the plan gives no bytes to read: $out"
grep -Eq '^disk needed \(staging, images, backup\): about [0-9.]+ (B|KiB|MiB)$' <<<"$out" || fail "the plan gives no disk need: $out"
assert_contains "$out" "nothing was changed (--plan)" "the plan"
[ ! -e "$E2E_SITE/releases/1.1.0" ] || fail "--plan created releases/1.1.0"
assert_eq "$(e2e_trust_sum)" "$trust_before" "trusted metadata after --plan"
assert_eq "$(e2e_journal_rows)" "$journal_before" "journal rows after --plan"
assert_eq "$(sqlite3 "$E2E_STATE/state.db" "SELECT count(*) FROM audit")" "$audit_before" "audit rows after --plan"
assert_eq "$(cd "$E2E_STATE" && find . -path ./airlock.jsonl -prune -o -print | LC_ALL=C sort)" "$state_before" "files in the state dir after --plan"
docker image inspect "$E2E_APP-web:1.1.0" >/dev/null 2>&1 && fail "--plan loaded the image of 1.1.0"
running_unchanged "after --plan"

# 2. --stage-only: the tree is staged and the image loaded; the old release keeps running.
run "$AIRLOCK" import "$b11" --stage-only --yes "${CF[@]}"
assert_eq "$rc" 0 "import --stage-only ($out)"
assert_contains "$out" "staged 1.1.0 (upgrade " "the stage-only report"
assert_contains "$out" "the site still runs 1.0.0; run 'airlock apply' to finish" "the stage-only report"
grep -qx 'release=1.1.0' "$E2E_SITE/releases/1.1.0/config/app.conf" || fail "releases/1.1.0 is not staged"
grep -q "image: $E2E_APP-web:1.1.0" "$E2E_SITE/releases/1.1.0/docker-compose.yml" || fail "releases/1.1.0 lacks its compose file"
docker image inspect "$E2E_APP-web:1.1.0" >/dev/null || fail "--stage-only did not load the image of 1.1.0"
running_unchanged "after --stage-only"
assert_eq "$(e2e_last_steps)" "begin:done fetch:done stage:done load:done staged:done" "journal after --stage-only"
assert_eq "$(e2e_history | e2e_py '(d[0]["action"], d[0]["from"], d[0]["to"], d[0]["outcome"])')" \
  "('import', '1.0.0', '1.1.0', 'staged')" "newest history row after --stage-only"
"$AIRLOCK" status "${CF[@]}" >"$T/status.out"
grep -Eq '^version: +1\.0\.0$' "$T/status.out" || fail "status after --stage-only: $(cat "$T/status.out")"

# 3. apply finishes the staged upgrade.
run "$AIRLOCK" apply --yes "${CF[@]}"
assert_eq "$rc" 0 "apply ($out)"
assert_contains "$out" "updated 1.0.0 -> 1.1.0 (full"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after apply"
assert_eq "$(e2e_current)" "releases/1.1.0" "current after apply"
assert_eq "$(e2e_status_version)" 1.1.0 "status after apply"
new=$(e2e_cid)
[ -n "$new" ] && [ "$new" != "$cid" ] || fail "apply did not start a new container ($cid -> $new)"
row=$(e2e_history | e2e_py 'json.dumps(d[0])')
assert_eq "$(e2e_py '(d["action"], d["from"], d["to"], d["outcome"])' <<<"$row")" "('apply', '1.0.0', '1.1.0', 'ok')" "newest history row after apply"
assert_eq "$(e2e_py 'd["downtime_ms"] > 0 and d["backup_id"] != ""' <<<"$row")" True "downtime and backup of the apply row ($row)"
steps=$(e2e_last_steps)
assert_contains "$steps" "staged:done verify-staged:done pre-copy:done stop:done snapshot:done switch:done start:done health:done commit:done archive:done" "journal after apply"

# Nothing staged any more.
run "$AIRLOCK" apply --yes "${CF[@]}"
assert_eq "$rc" 6 "apply after the staged upgrade was applied ($out)"
assert_eq "$(e2e_cid)" "$new" "the container after the second apply"
echo "ok: --plan changed nothing, --stage-only staged 1.1.0 next to the running 1.0.0, apply finished it"
