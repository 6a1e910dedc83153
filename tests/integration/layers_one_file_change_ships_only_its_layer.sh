#!/usr/bin/env bash
# Proves that a one-file change in an image ships as one small layer (issue 13 item 7). Releases 1.0.0, 1.1.0 and
# 1.2.0 of the web image share an 8 MiB base layer and differ in a one-file /VERSION layer.
#  1. The patch bundle 1.0.0 -> 1.1.0 (--patch-only) holds exactly two blobs, the new config and the changed
#     layer, and is less than 1/20 of the full bundle of 1.1.0.
#  2. A site with none of these layers in its engine installs 1.0.0 from the full bundle (2 layers from the
#     release), then imports the patch bundle: it commits, the service answers "ok 1.1.0", the engine's image ID
#     is the one release.json names (the SHA-256 of the config blob), the load step of the journal says
#     "1 layer(s) from the release, 1 from the engine" and the JSON log says the base was left out (thin load).
#  3. Online: 1.2.0 is published to the repository nginx serves. `check --json` reports as download bytes exactly
#     the app archive plus the new config and layer blobs; `upgrade` commits, and nginx's access log shows that
#     of targets/<app>/blobs/ only that config and that layer were fetched, each once, and no base layer.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}" "${AIRLOCK_TEST_WWW:?testenv is not started}"
E2E=$T/e2e E2E_APP=e2elayone$$ E2E_PORT=18601
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
. "$(dirname "$0")/../fixtures/e2e/layers.sh"
defer lay_cleanup web
CF=(--config "$E2E_CONF")
WWW=$AIRLOCK_TEST_WWW/layone-$$
defer rm -rf "$WWW"
PAD=8 # MiB of the base layer; no other scenario uses this pad, so the base is this scenario's own

lay_release 1.0.0 web:$PAD
lay_release 1.1.0 web:$PAD
e2e_patch 1.0.0 1.1.0
base=$(lay_img 1.0.0 web 'i["layers"][0]["diff_id"]')
assert_eq "$(lay_img 1.1.0 web 'i["layers"][0]["diff_id"]')" "$base" "the base layer of 1.1.0 (the same as 1.0.0's)"
assert_eq "$(lay_img 1.1.0 web 'len(i["layers"])')" 2 "layers of the 1.1.0 image"
top11=$(lay_img 1.1.0 web 'i["layers"][1]["diff_id"]')
[ "$top11" != "$(lay_img 1.0.0 web 'i["layers"][1]["diff_id"]')" ] || fail "1.0.0 and 1.1.0 have the same top layer"
id11=$(lay_img 1.1.0 web 'i["id"]')
cfg11=$(lay_img 1.1.0 web 'i["config"]')
assert_eq "$cfg11" "$E2E_APP/blobs/${id11#sha256:}.config.json" "the config blob of 1.1.0"
assert_eq "sha256:$(sha256sum <"$(lay_file "$cfg11")" | cut -c1-64)" "$id11" "the SHA-256 of the config blob"
[ "$(lay_len "$(lay_img 1.0.0 web 'i["layers"][0]["blob"]')")" -gt $((7 << 20)) ] || fail "the base blob is under 7 MiB"

# 1. What the bundles hold.
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
b11p=$(e2e_bundle 1.1.0 1.0.0 --patch-only)
assert_eq "$(lay_bundle_blobs "$b11p")" "$(printf '%s\n' "${id11#sha256:}.config.json" "${top11#sha256:}.layer.tar.gz" | LC_ALL=C sort)" \
  "the blobs of the patch bundle"
assert_eq "$(lay_bundle_blobs "$b11" | wc -l)" 3 "blobs of the full 1.1.0 bundle (config, base, top layer)"
size_p=$(stat -c %s "$b11p") size_f=$(stat -c %s "$b11")
[ $((size_p * 20)) -lt "$size_f" ] || fail "the patch bundle ($size_p B) is not under 1/20 of the full bundle ($size_f B)"
echo "bundles: patch $size_p B, full $size_f B" >&2

# 2. Offline: the full 1.0.0, then the patch.
lay_forget 1.0.0 web
lay_forget 1.1.0 web
if lay_engine_has "$base"; then fail "the engine still holds the base layer $base"; fi
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.0.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the first install"
assert_contains "$(lay_step_detail load)" "1 loaded (2 layer(s) from the release, 0 from the engine" "load step of 1.0.0"
lines=$(wc -l <"$E2E_STATE/airlock.jsonl")

run "$AIRLOCK" import "$b11p" --yes "${CF[@]}"
assert_eq "$rc" 0 "import of the patch bundle 1.0.0 -> 1.1.0 ($out)"
assert_contains "$out" "updated 1.0.0 -> 1.1.0 (patch"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the patch"
assert_eq "$(e2e_current)" "releases/1.1.0" "current after the patch"
assert_eq "$(lay_image_id "$E2E_APP-web:1.1.0")" "$id11" "the engine's ID of $E2E_APP-web:1.1.0"
assert_eq "$(docker inspect -f '{{.Image}}' "$(e2e_cid)")" "$id11" "the image of the running container"
assert_contains "$(lay_step_detail load)" "1 loaded (1 layer(s) from the release, 1 from the engine, thin archives), 0 already present" \
  "load step of the patch"
assert_eq "$(e2e_last_steps | tr ' ' '\n' | grep -c ':failed' || true)" 0 "failed steps of the patch: $(e2e_last_steps)"
loadlog=$(tail -n +"$((lines + 1))" "$E2E_STATE/airlock.jsonl" | grep '"image-load"' || true)
assert_contains "$loadlog" "loading ${id11:0:19} ($E2E_APP-web:1.1.0): 1 layer(s) fetched, 1 in the engine (left out)" \
  "the image-load event of the patch"

# 3. Online: 1.2.0 from the repository nginx serves; only its config and its new layer travel.
lay_release 1.2.0 web:$PAD
lay_forget 1.2.0 web
top12=$(lay_img 1.2.0 web 'i["layers"][1]["diff_id"]')
id12=$(lay_img 1.2.0 web 'i["id"]')
cfg12=$(lay_img 1.2.0 web 'i["config"]')
layer12=$(lay_img 1.2.0 web 'i["layers"][1]["blob"]')
payload12=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["payload"])' "$(lay_rj 1.2.0)")
want=$(($(lay_len "$payload12") + $(lay_len "$cfg12") + $(lay_len "$layer12")))
cp -r "$E2E/repo" "$WWW"
chmod -R a+rX "$WWW"
cat >>"$E2E_CONF" <<CONF
[repository]
urls = $AIRLOCK_TEST_HTTPS/layone-$$
ca_file = $AIRLOCK_TEST_CA
retries = 2
connect_timeout = 2
CONF
run "$AIRLOCK" check --json "${CF[@]}"
assert_eq "$rc" 10 "check with 1.2.0 published ($out)"
json=$(tail -1 <<<"$out")
assert_eq "$(e2e_py 'd["decision"], d["to"]' <<<"$json")" "('full', '1.2.0')" "check --json decision"
assert_eq "$(e2e_py 'd["download_bytes"]' <<<"$json")" "$want" \
  "check --json download_bytes (app archive + config + one layer: $(lay_len "$payload12") + $(lay_len "$cfg12") + $(lay_len "$layer12"))"
[ "$want" -lt $((1 << 20)) ] || fail "check reports $want bytes to download for a one-file change"

log=$TESTENV/nginx-access.log
before=$(wc -l <"$log")
run "$AIRLOCK" upgrade --yes "${CF[@]}"
assert_eq "$rc" 0 "online upgrade to 1.2.0 ($out)"
assert_contains "$out" "updated 1.1.0 -> 1.2.0 (full"
assert_eq "$(e2e_body)" "ok 1.2.0" "the service after the online upgrade"
assert_eq "$(lay_image_id "$E2E_APP-web:1.2.0")" "$id12" "the engine's ID of $E2E_APP-web:1.2.0"
assert_contains "$(lay_step_detail load)" "1 loaded (1 layer(s) from the release, 1 from the engine" "load step of 1.2.0"
blobs=$(tail -n +"$((before + 1))" "$log" | grep -F "/layone-$$/targets/$E2E_APP/blobs/" \
  | sed -n 's|.*"GET /layone-[0-9]*/targets/[^/]*/blobs/[0-9a-f]\{64\}\.\([^ ]*\) HTTP.*|\1|p' | LC_ALL=C sort)
assert_eq "$blobs" "$(printf '%s\n' "${id12#sha256:}.config.json" "${top12#sha256:}.layer.tar.gz" | LC_ALL=C sort)" \
  "blobs fetched from nginx by the online upgrade"
assert_eq "$(tail -n +"$((before + 1))" "$log" | grep -cF "${base#sha256:}" || true)" 0 "requests for the base layer"
echo "ok: a one-file change shipped as one layer: patch bundle $size_p B (full $size_f B), online $want B"
