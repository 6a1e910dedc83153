#!/usr/bin/env bash
# Proves that a layer two images share travels once (issue 13 item 7). Release 1.0.0 runs two services, web and
# worker, whose images are FROM the same 3 MiB base and differ in their one-file top layers.
#  1. `release add` stores the base once: 5 new blobs (2 configs, the base, 2 top layers) for 2 images of 4
#     layers, and the repository holds one file for the base. The full bundle holds each blob once.
#  2. A site whose engine has none of these layers imports the full bundle: it commits, both services run, each
#     image has the ID release.json names, and the base layer is in the engine.
#  3. The same onto a second empty site online, from the repository nginx serves: it commits, and nginx's access
#     log shows each of the 5 blobs fetched exactly once (the base once, not once per image).
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}" "${AIRLOCK_TEST_WWW:?testenv is not started}"
E2E=$T/e2e E2E_APP=e2elayshare$$ E2E_PORT=18611 # worker: 18612
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
. "$(dirname "$0")/../fixtures/e2e/layers.sh"
defer lay_cleanup web worker
CF=(--config "$E2E_CONF")
WWW=$AIRLOCK_TEST_WWW/layshare-$$
defer rm -rf "$WWW"
PAD=3 # MiB of the shared base; no other scenario uses this pad

lay_release 1.0.0 web:$PAD worker:$PAD
assert_contains "$(cat "$E2E/release-add-1.0.0.out")" "2 images (4 layers); blobs: 5 new" "release add of 1.0.0"
base=$(lay_img 1.0.0 web 'i["layers"][0]["diff_id"]')
assert_eq "$(lay_img 1.0.0 worker 'i["layers"][0]["diff_id"]')" "$base" "the base layer of the worker image"
assert_eq "$(lay_img 1.0.0 worker 'i["layers"][0]["blob"]')" "$(lay_img 1.0.0 web 'i["layers"][0]["blob"]')" "the base blob of both images"
topw=$(lay_img 1.0.0 web 'i["layers"][1]["diff_id"]') topk=$(lay_img 1.0.0 worker 'i["layers"][1]["diff_id"]')
[ "$topw" != "$topk" ] || fail "web and worker have the same top layer $topw"
idw=$(lay_img 1.0.0 web 'i["id"]') idk=$(lay_img 1.0.0 worker 'i["id"]')
assert_eq "$(find "$E2E/repo/targets/$E2E_APP/blobs" -name "*.${base#sha256:}.layer.tar.gz" | wc -l)" 1 "files of the base in the repository"
assert_eq "$(find "$E2E/repo/targets/$E2E_APP/blobs" -type f | wc -l)" 5 "blob files in the repository"
want=$(printf '%s\n' "${idw#sha256:}.config.json" "${idk#sha256:}.config.json" "${base#sha256:}.layer.tar.gz" \
  "${topw#sha256:}.layer.tar.gz" "${topk#sha256:}.layer.tar.gz" | LC_ALL=C sort)

b10=$(e2e_bundle 1.0.0)
assert_eq "$(lay_bundle_blobs "$b10")" "$want" "blob entries of the full bundle (each once)"
lay_forget 1.0.0 web worker
if lay_engine_has "$base"; then fail "the engine still holds the base layer $base"; fi

check_site() { # WHAT: both services run the images release.json names
  assert_eq "$(e2e_body)" "ok 1.0.0" "web after $1"
  assert_eq "$(curl -fsS --max-time 2 "http://127.0.0.1:$((E2E_PORT + 1))/health" 2>/dev/null || true)" "ok 1.0.0-worker" "worker after $1"
  assert_eq "$(lay_image_id "$E2E_APP-web:1.0.0")" "$idw" "the engine's ID of web after $1"
  assert_eq "$(lay_image_id "$E2E_APP-worker:1.0.0")" "$idk" "the engine's ID of worker after $1"
  local ids
  ids=$(docker ps -q --no-trunc --filter "label=com.docker.compose.project=$E2E_APP" --filter status=running \
    | xargs -r docker inspect -f '{{.Image}}' | LC_ALL=C sort | tr '\n' ' ')
  assert_eq "$ids" "$(printf '%s\n' "$idw" "$idk" | LC_ALL=C sort | tr '\n' ' ')" "images of the running containers after $1"
  lay_engine_has "$base" || fail "the base layer is not in the engine after $1"
  # 4 layers in the two load archives or 3 and the base left out from the engine; the blob was read once either way.
  assert_contains "$(lay_step_detail load)" "2 loaded (" "load step after $1"
  assert_contains "$(lay_step_detail fetch)" "6 target(s) verified, " "fetch step after $1 (the payload and 5 blobs)"
}

# 2. Offline, from the bundle.
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "import of the full bundle onto an empty engine ($out)"
check_site "the import of the bundle"
echo "offline load: $(lay_step_detail load)" >&2

# 3. Online, onto a second empty site (the first one is taken down with its images and layers).
e2e_cleanup
lay_cleanup web worker
if lay_engine_has "$base"; then fail "the engine still holds the base layer $base after the first site went"; fi
cp -r "$E2E/repo" "$WWW"
chmod -R a+rX "$WWW"
mkdir -p "$E2E/site2"
sed -e "s|^install_root = .*|install_root = $E2E/site2/opt|" -e "s|^dir = .*|dir = $E2E/site2/state|" "$E2E_CONF" >"$E2E/site2.conf"
cat >>"$E2E/site2.conf" <<CONF
[repository]
urls = $AIRLOCK_TEST_HTTPS/layshare-$$
ca_file = $AIRLOCK_TEST_CA
retries = 2
connect_timeout = 2
CONF
E2E_CONF=$E2E/site2.conf E2E_STATE=$E2E/site2/state E2E_SITE=$E2E/site2/opt/$E2E_APP
"$AIRLOCK" init --config "$E2E_CONF" --trusted-root "$E2E/repo/metadata/1.root.json" >/dev/null || fail "init of the second site"
log=$TESTENV/nginx-access.log
before=$(wc -l <"$log")
run "$AIRLOCK" upgrade --yes --config "$E2E_CONF"
assert_eq "$rc" 0 "online install onto an empty engine ($out)"
check_site "the online install"
got=$(tail -n +"$((before + 1))" "$log" | grep -F "/layshare-$$/targets/$E2E_APP/blobs/" \
  | sed -n 's|.*"GET /layshare-[0-9]*/targets/[^/]*/blobs/[0-9a-f]\{64\}\.\([^ ]*\) HTTP.*|\1|p' | LC_ALL=C sort)
assert_eq "$got" "$want" "blobs fetched from nginx (each once)"
echo "ok: the base shared by web and worker is stored, bundled and fetched once; both images load with their IDs"
