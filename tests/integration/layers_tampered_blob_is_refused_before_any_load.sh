#!/usr/bin/env bash
# Proves that a layer blob that does not match its signed SHA-256 is refused before any image loads and before
# anything stops (issue 13 item 7). Release 1.1.0 has two images, web and worker; one byte is flipped in the
# worker's new layer (the last blob the import reads), so that a per-image verify-then-load would already have
# loaded web's image.
#  1. In a patch bundle (zip rebuilt with a right CRC, so only the signed hash can tell): import exits 3 naming
#     the blob; the app's images in the engine are exactly those before (neither 1.1.0 image ID is there), the 1.0.0
#     containers keep running with the same IDs and answer, current and status still say 1.0.0, the journal of
#     the attempt is begin, fetch failed, rollback (no load, no stop), and downloads/ is empty.
#  2. The same byte flipped in the file the repository nginx serves: `upgrade` exits 3 with the same outcome.
#  3. Control: the untouched patch bundle imports and commits with both new image IDs.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}" "${AIRLOCK_TEST_WWW:?testenv is not started}"
E2E=$T/e2e E2E_APP=e2elaytamper$$ E2E_PORT=18621 # worker: 18622
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
. "$(dirname "$0")/../fixtures/e2e/layers.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh" # zipedit, assert_not_contains
defer lay_cleanup web worker
CF=(--config "$E2E_CONF")
WWW=$AIRLOCK_TEST_WWW/laytamper-$$
defer rm -rf "$WWW"
PAD=2 # MiB of the base; no other scenario uses this pad

lay_release 1.0.0 web:$PAD worker:$PAD
lay_release 1.1.0 web:$PAD worker:$PAD
e2e_patch 1.0.0 1.1.0
idw=$(lay_img 1.1.0 web 'i["id"]') idk=$(lay_img 1.1.0 worker 'i["id"]')
bad=$(lay_img 1.1.0 worker 'i["layers"][1]["blob"]')
b10=$(e2e_bundle 1.0.0)
b11p=$(e2e_bundle 1.1.0 1.0.0 --patch-only)
assert_contains "$(lay_bundle_blobs "$b11p")" "$(basename "$bad")" "blobs of the patch bundle"
zipedit "$b11p" "$T/bad.airlock" --flip "targets/$E2E_APP/blobs/*.$(basename "$bad")"
if cmp -s "$b11p" "$T/bad.airlock"; then fail "zipedit --flip changed nothing"; fi
lay_forget 1.0.0 web worker
lay_forget 1.1.0 web worker

e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.0.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the first install"
containers() {
  docker ps -q --no-trunc --filter "label=com.docker.compose.project=$E2E_APP" --filter status=running \
    | xargs -r docker inspect -f '{{.Id}} {{.Image}} {{.State.StartedAt}} {{.RestartCount}}' | LC_ALL=C sort
}
# This app's images (other scenarios may add and remove theirs meanwhile), and whether the engine has image ID $1.
engine_images() { docker images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | grep "^$E2E_APP-" | LC_ALL=C sort || true; }
engine_has_id() { [ -n "$(lay_image_id "$1")" ]; }
want_containers=$(containers)
assert_eq "$(wc -l <<<"$want_containers")" 2 "running containers of 1.0.0: $want_containers"
want_images=$(engine_images)

refused() { # WHAT: the site is exactly as before and the attempt's journal stopped at fetch
  if engine_has_id "$idw"; then fail "web's 1.1.0 image $idw was loaded by $1"; fi
  if engine_has_id "$idk"; then fail "worker's 1.1.0 image $idk was loaded by $1"; fi
  assert_eq "$(engine_images)" "$want_images" "the engine's images after $1"
  assert_eq "$(containers)" "$want_containers" "the running containers after $1"
  assert_eq "$(e2e_body)" "ok 1.0.0" "web after $1"
  assert_eq "$(curl -fsS --max-time 2 "http://127.0.0.1:$((E2E_PORT + 1))/health" 2>/dev/null || true)" "ok 1.0.0-worker" "worker after $1"
  assert_eq "$(e2e_current)" "releases/1.0.0" "current after $1"
  assert_eq "$(e2e_status_version)" 1.0.0 "status after $1"
  [ ! -e "$E2E_SITE/releases/1.1.0" ] || fail "releases/1.1.0 was left behind by $1"
  assert_eq "$(e2e_last_steps)" "begin:done fetch:failed rollback:done" "journal of $1"
  [ -z "$(ls -A "$E2E_STATE/downloads")" ] || fail "downloads/ keeps files after $1: $(ls "$E2E_STATE/downloads")"
}

# 1. The tampered bundle.
run "$AIRLOCK" import "$T/bad.airlock" --yes "${CF[@]}"
assert_eq "$rc" 3 "import of the bundle with a tampered layer ($out)"
assert_contains "$out" "target $bad does not match its signed SHA-256"
refused "the import of the tampered bundle"

# 2. The tampered file on the web server.
cp -r "$E2E/repo" "$WWW"
served=$WWW/targets/${bad%/*}/$(basename "$(lay_file "$bad")")
[ -f "$served" ] || fail "no served file $served"
python3 - "$served" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 1
open(p, "wb").write(b)
PY
chmod -R a+rX "$WWW"
cat >>"$E2E_CONF" <<CONF
[repository]
urls = $AIRLOCK_TEST_HTTPS/laytamper-$$
ca_file = $AIRLOCK_TEST_CA
retries = 1
connect_timeout = 2
CONF
run "$AIRLOCK" upgrade --yes "${CF[@]}"
assert_eq "$rc" 3 "online upgrade with a tampered layer on the server ($out)"
assert_contains "$out" "$(basename "$bad")"
assert_contains "$out" "SHA-256"
refused "the online upgrade with the tampered layer"

# 3. Control: the bundle as exported.
run "$AIRLOCK" import "$b11p" --yes "${CF[@]}"
assert_eq "$rc" 0 "import of the untouched patch bundle ($out)"
assert_eq "$(e2e_body)" "ok 1.1.0" "web after the untouched patch"
assert_eq "$(lay_image_id "$E2E_APP-web:1.1.0") $(lay_image_id "$E2E_APP-worker:1.1.0")" "$idw $idk" "the 1.1.0 image IDs"
echo "ok: a flipped byte in a layer blob (bundle and server) is refused with exit 3 before any load or stop"
