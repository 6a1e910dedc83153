#!/usr/bin/env bash
# A delta that is signed but does not rebuild its layer (issue 17): the delta target of the patch 1.0.0 -> 1.1.0
# is replaced by the same bytes with one flipped, and the repository signed again (tests/fixtures/bundles/
# resign.py), as a broken CI would publish it. A site runs 1.0.0.
#  1. Offline, the patch-only bundle (no full layer to fall back to): the load step fails with exit 3 naming
#     the layer, before anything stopped: the service still answers "ok 1.0.0" from the same container, the
#     journal says the upgrade failed before the stop, and no rebuilt or temporary layer file is left.
#  2. Online, the repository also has the full layer: `upgrade` commits with exactly the release's image; the
#     log says it fell back, and nginx served the delta first and then the full layer.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}" "${AIRLOCK_TEST_WWW:?testenv is not started}"
E2E=$T/e2e E2E_APP=e2edeltabad$$ E2E_PORT=18631
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
. "$(dirname "$0")/../fixtures/e2e/layers.sh"
E2E_MAKE_IMAGE="$(cd "$(dirname "$0")/../fixtures/testsvc" && pwd)/make-fat-image.sh"
defer lay_cleanup web
CF=(--config "$E2E_CONF")
WWW=$AIRLOCK_TEST_WWW/deltabad-$$
defer rm -rf "$WWW"
KEYS=(--key "$E2E/keys/targets.pem" --key "$E2E/keys/snapshot.pem" --key "$E2E/keys/timestamp.pem")

# The base's pad (MiB) is this scenario's own: lay_forget removes the base, and scenarios run side by side.
IMAGE_FAT="web=3:1:12:2" lay_release 1.0.0 web:9
IMAGE_FAT="web=3:2:12:2" lay_release 1.1.0 web:9
run "$AIRLOCK_BUNDLE" patch add "$E2E/repo" --from 1.0.0 --to 1.1.0 --arch "$(uname -m)" --delta-level 3 "${KEYS[@]}"
assert_eq "$rc" 0 "patch add ($out)"
fat11=$(lay_img 1.1.0 web 'i["layers"][-1]["diff_id"]')
dblob=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["images"][0]["layers"][-1]["delta"]["blob"])' \
  "$(lay_rj 1.1.0 patch-from-1.0.0)")
python3 - "$(lay_file "$dblob")" "$T/bad.zst" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x01
open(sys.argv[2], "wb").write(bytes(b))
PY
python3 "$(dirname "$0")/../fixtures/bundles/resign.py" "$E2E/repo" "$E2E/keys" --set "$dblob" "$T/bad.zst" >/dev/null \
  || fail "resign.py failed"
b10=$(e2e_bundle 1.0.0)
bp=$(e2e_bundle 1.1.0 1.0.0 --patch-only)
lay_forget 1.0.0 web
lay_forget 1.1.0 web
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "install of 1.0.0 ($out)"
cid=$(e2e_cid)

# 1. Offline, deltas only.
run "$AIRLOCK" import "$bp" --yes "${CF[@]}"
assert_eq "$rc" 3 "import of the bundle with the corrupted delta ($out)"
assert_contains "$out" "layer 3 (${fat11:0:19})"
assert_contains "$out" "the full layer $E2E_APP/blobs/${fat11#sha256:}.layer.tar.gz is not in the source either"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the failed import"
assert_eq "$(e2e_cid)" "$cid" "the running container after the failed import"
assert_contains "$(e2e_last_steps)" "load:failed" "the journal of the failed import"
assert_contains "$(lay_step_detail rollback)" "failed before the services stopped" "the journal's last row"
[ -z "$(find "$E2E_STATE/downloads" -name '*.tar' -o -name '*.tmp-*' 2>/dev/null)" ] || fail "layer files left in downloads/: $(ls "$E2E_STATE/downloads")"

# 2. Online: the full layer is fetched after the delta failed.
cp -r "$E2E/repo" "$WWW"
chmod -R a+rX "$WWW"
cat >>"$E2E_CONF" <<CONF
[repository]
urls = $AIRLOCK_TEST_HTTPS/deltabad-$$
ca_file = $AIRLOCK_TEST_CA
retries = 2
connect_timeout = 2
CONF
acc=$TESTENV/nginx-access.log
before=$(wc -l <"$acc")
lines=$(wc -l <"$E2E_STATE/airlock.jsonl")
run "$AIRLOCK" upgrade --yes "${CF[@]}"
assert_eq "$rc" 0 "online upgrade with the corrupted delta ($out)"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the online upgrade"
assert_eq "$(lay_image_id "$E2E_APP-web:1.1.0")" "$(lay_img 1.1.0 web 'i["id"]')" "the engine's ID of 1.1.0"
assert_contains "$(tail -n +"$((lines + 1))" "$E2E_STATE/airlock.jsonl" | grep '"layer-delta-fallback"')" \
  "took the full layer" "the fallback event"
got=$(tail -n +"$((before + 1))" "$acc" | grep -F "/deltabad-$$/targets/$E2E_APP/blobs/" | sed 's/.*GET \([^ ]*\) .*/\1/')
first_zst=$(grep -n "${fat11#sha256:}\.from-.*\.zst$" <<<"$got" | head -1 | cut -d: -f1)
full=$(grep -n "${fat11#sha256:}\.layer\.tar\.gz$" <<<"$got" | head -1 | cut -d: -f1)
[ -n "$first_zst" ] && [ -n "$full" ] && [ "$first_zst" -lt "$full" ] || fail "nginx did not serve the delta and then the full layer: $got"
echo "ok: a corrupted signed delta fails offline before the stop and falls back to the full layer online"
