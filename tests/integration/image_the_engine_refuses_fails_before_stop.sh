#!/usr/bin/env bash
# Proves step 7 of the pipeline: images load while the old services still run, so a signed release whose image
# archive the docker engine refuses (a well-formed `docker save` archive whose layer is a truncated tar; the
# bundle tool accepts it, `docker load` does not) fails the import before anything stops. The message says the
# engine refused the image and quotes the engine; the old container keeps running with the same ID and start
# time and still answers, current/status/data/ are unchanged, no image is left behind, the journal of that
# upgrade never reached `stop`, and history records the import as failed.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2ebadimage$$ E2E_PORT=18421
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")

e2e_release 1.0.0
# 1.1.0: the same source as 1.0.0 with the new version, and a crafted image archive instead of a saved image.
src=$E2E/src/1.1.0
cp -a "$E2E/src/1.0.0" "$src"
sed -i 's/1\.0\.0/1.1.0/g' "$src/docker-compose.yml" "$src/airlock-release.json" "$src/config/app.conf"
bad_id=$(python3 "$(dirname "$0")/../fixtures/e2e/bad-image-archive.py" "$T/bad-image.tar" "$E2E_APP-web:1.1.0")
# shellcheck disable=SC2046
"$AIRLOCK_BUNDLE" release add "$E2E/repo" "$src" --arch "$(uname -m)" --image-archive "$T/bad-image.tar" \
  $(_e2e_online_keys) >"$T/release-add.out" 2>&1 || fail "release add with the crafted archive failed: $(cat "$T/release-add.out")"
if docker load -q -i "$T/bad-image.tar" >"$T/load.out" 2>&1; then fail "the engine loads the crafted archive: $(cat "$T/load.out")"; fi
docker image inspect "$bad_id" >/dev/null 2>&1 && fail "the crafted image $bad_id is in the engine"
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
e2e_forget_images 1.0.0
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.0.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the first install"
cid=$(e2e_cid)
[ -n "$cid" ] || fail "no running container after the first install"
started=$(docker inspect -f '{{.State.StartedAt}}' "$cid")
echo "operator's" >"$E2E_SITE/data/keep"
data_before=$(e2e_data_sum)

run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
echo "import of the release with the refused image: exit $rc" >&2
[ "$rc" -ne 0 ] || fail "the import of a release whose image the engine refuses succeeded: $out"
[ "$rc" -ne 7 ] && [ "$rc" -ne 8 ] || fail "the import got past stop (exit $rc): $out"
assert_contains "$out" "the docker engine refused image $bad_id" "the message"
assert_contains "$out" "unexpected EOF" "the message (the engine's own complaint)"

assert_eq "$(e2e_cid)" "$cid" "the running container after the refused import"
assert_eq "$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$cid")" "$started 0" "start time and restarts"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the refused import"
assert_eq "$(e2e_current)" "releases/1.0.0" "current after the refused import"
assert_eq "$(e2e_status_version)" 1.0.0 "status after the refused import"
assert_eq "$(e2e_data_sum)" "$data_before" "data/ after the refused import"
docker image inspect "$bad_id" >/dev/null 2>&1 && fail "the refused image $bad_id is in the engine"
docker image inspect "$E2E_APP-web:1.1.0" >/dev/null 2>&1 && fail "a $E2E_APP-web:1.1.0 image is in the engine"
assert_eq "$(e2e_last_steps)" "begin:done fetch:done stage:done load:failed rollback:done" "journal of the refused upgrade"
[ -z "$(ls -A "$E2E_STATE/downloads")" ] || fail "downloads/ keeps the refused targets: $(ls "$E2E_STATE/downloads")"
row=$(e2e_history | e2e_py 'json.dumps(d[0])')
assert_eq "$(e2e_py '(d["action"], d["from"], d["to"], d["outcome"], d["backup_id"])' <<<"$row")" \
  "('import', '1.0.0', '1.1.0', 'failed', '')" "newest history row"
assert_contains "$(e2e_py 'd["detail"]' <<<"$row")" "refused image" "history detail"
"$AIRLOCK" history --json "${CF[@]}" | e2e_strict_json "history --json after the refused import"
echo "ok: the refused image failed the import with exit $rc; 1.0.0 kept running as $cid"
