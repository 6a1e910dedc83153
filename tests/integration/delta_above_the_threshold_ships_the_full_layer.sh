#!/usr/bin/env bash
# A delta that is not worth it (issue 17): 1.1.0 replaces every file of the web image's top layer, so its delta
# is about as large as the compressed layer.
#  1. `patch add` (default threshold, 50%) reports the delta as not kept; the patch's release.json gives that
#     layer no delta and the patch-only bundle carries the full layer; a bad --delta-threshold is a usage error.
#  2. A site running 1.0.0 imports the patch-only bundle: it commits with exactly the release's image, and no
#     layer of it was rebuilt from a delta.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2edeltabig$$ E2E_PORT=18641
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
. "$(dirname "$0")/../fixtures/e2e/layers.sh"
E2E_MAKE_IMAGE="$(cd "$(dirname "$0")/../fixtures/testsvc" && pwd)/make-fat-image.sh"
defer lay_cleanup web
CF=(--config "$E2E_CONF")
KEYS=(--key "$E2E/keys/targets.pem" --key "$E2E/keys/snapshot.pem" --key "$E2E/keys/timestamp.pem")

# The base's pad (MiB) is this scenario's own: lay_forget removes the base, and scenarios run side by side.
IMAGE_FAT="web=11:1:8:1" lay_release 1.0.0 web:1
IMAGE_FAT="web=12:2:8:1" lay_release 1.1.0 web:1
for bad in 1.5 -0.1 half; do
  run "$AIRLOCK_BUNDLE" patch add "$E2E/repo" --from 1.0.0 --to 1.1.0 --arch "$(uname -m)" --delta-threshold "$bad" "${KEYS[@]}"
  assert_eq "$rc" 2 "patch add --delta-threshold $bad ($out)"
  assert_contains "$out" "--delta-threshold must be a share from 0 to 1"
done
run "$AIRLOCK_BUNDLE" patch add "$E2E/repo" --from 1.0.0 --to 1.1.0 --arch "$(uname -m)" --delta-level 3 "${KEYS[@]}"
assert_eq "$rc" 0 "patch add ($out)"
fat11=$(lay_img 1.1.0 web 'i["layers"][-1]["diff_id"]')
assert_contains "$(grep "^delta ${fat11:0:19}" <<<"$out")" "not kept: above 50%" "patch add's line for the fat layer"
assert_eq "$(python3 -c 'import json,sys; print("delta" in json.load(open(sys.argv[1]))["images"][0]["layers"][-1])' \
  "$(lay_rj 1.1.0 patch-from-1.0.0)")" False "a delta recorded for the fat layer"
bp=$(e2e_bundle 1.1.0 1.0.0 --patch-only)
assert_contains "$(lay_bundle_blobs "$bp")" "${fat11#sha256:}.layer.tar.gz" "the patch bundle's blobs"
if lay_bundle_blobs "$bp" | grep -qF "${fat11#sha256:}.from-"; then fail "the patch bundle holds the fat layer's delta"; fi

b10=$(e2e_bundle 1.0.0)
lay_forget 1.0.0 web
lay_forget 1.1.0 web
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "install of 1.0.0 ($out)"
lines=$(wc -l <"$E2E_STATE/airlock.jsonl")
run "$AIRLOCK" import "$bp" --yes "${CF[@]}"
assert_eq "$rc" 0 "import of the patch ($out)"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the patch"
assert_eq "$(lay_image_id "$E2E_APP-web:1.1.0")" "$(lay_img 1.1.0 web 'i["id"]')" "the engine's ID of 1.1.0"
if tail -n +"$((lines + 1))" "$E2E_STATE/airlock.jsonl" | grep '"layer-delta"' | grep -qF "${fat11:0:19}"; then
  fail "the fat layer was rebuilt from a delta"
fi
echo "ok: a delta above the threshold is not shipped; the full layer is"
