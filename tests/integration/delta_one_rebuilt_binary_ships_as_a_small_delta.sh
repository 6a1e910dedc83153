#!/usr/bin/env bash
# Proves that a layer whose only change is one rebuilt binary travels as a small binary delta (issue 17). The web
# image's top layer holds FILES MiB of files and a BIN MiB binary (tests/fixtures/testsvc/make-fat-image.sh);
# 1.1.0 rebuilds the binary, 1.2.0 rebuilds it again. (The issue's 300 MiB layer with a 20 MiB binary is the
# benchmark's, scripts/bench/delta.sh; here the layer has the same shape at a size that keeps the scenario quick.)
#  1. `patch add --delta-level 3` keeps a delta for the fat layer far below the compressed layer, and the
#     patch-only bundle 1.0.0 -> 1.1.0 is under 1/10 of the same bundle exported with --no-deltas.
#  2. A site running 1.0.0 imports that bundle: it commits, the service answers "ok 1.1.0", and the engine holds
#     exactly the image the full release names (image ID = the SHA-256 of the config, and every diff ID); the
#     journal says the layer was rebuilt from a delta and the log says how many bytes that saved.
#  3. Online 1.1.0 -> 1.2.0: `check --json` reports the delta and the bytes it saves, and download_bytes counts
#     the delta, not the layer; `upgrade` commits with the right image and nginx served the delta, never the
#     fat layer.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}" "${AIRLOCK_TEST_WWW:?testenv is not started}"
E2E=$T/e2e E2E_APP=e2edeltaone$$ E2E_PORT=18611
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
. "$(dirname "$0")/../fixtures/e2e/layers.sh"
E2E_MAKE_IMAGE="$(cd "$(dirname "$0")/../fixtures/testsvc" && pwd)/make-fat-image.sh"
defer lay_cleanup web
CF=(--config "$E2E_CONF")
WWW=$AIRLOCK_TEST_WWW/deltaone-$$
defer rm -rf "$WWW"
FILES=64 BIN=4
KEYS=(--key "$E2E/keys/targets.pem" --key "$E2E/keys/snapshot.pem" --key "$E2E/keys/timestamp.pem")

# The base's pad (MiB) is this scenario's own: lay_forget removes the base, and scenarios run side by side.
IMAGE_FAT="web=7:1:$FILES:$BIN" lay_release 1.0.0 web:10
IMAGE_FAT="web=7:2:$FILES:$BIN" lay_release 1.1.0 web:10
fat10=$(lay_img 1.0.0 web 'i["layers"][-1]["diff_id"]')
fat11=$(lay_img 1.1.0 web 'i["layers"][-1]["diff_id"]')
[ "$fat10" != "$fat11" ] || fail "the rebuilt binary did not change the fat layer"
run "$AIRLOCK_BUNDLE" patch add "$E2E/repo" --from 1.0.0 --to 1.1.0 --arch "$(uname -m)" --delta-level 3 "${KEYS[@]}"
assert_eq "$rc" 0 "patch add 1.0.0 -> 1.1.0 ($out)"
assert_contains "$out" "delta ${fat11:0:19} from ${fat10:0:19}"
pj=$(lay_rj 1.1.0 patch-from-1.0.0)
delta=$(python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["images"][0]["layers"][-1]; print(l["delta"]["blob"], l["delta"]["base"], l["delta"]["size"], l["size"])' "$pj")
read -r dblob dbase dsize lsize <<<"$delta"
assert_eq "$dbase" "$fat10" "the base of the fat layer's delta"
assert_eq "$dblob" "$E2E_APP/blobs/${fat11#sha256:}.from-${fat10#sha256:}.zst" "the delta's target name"
assert_eq "$(lay_len "$dblob")" "$dsize" "the delta's size in release.json"
[ $((dsize * 10)) -lt "$lsize" ] || fail "the delta ($dsize B) is not under 1/10 of the compressed layer ($lsize B)"
# zstd's own CLI decodes it against the base layer tar: the format is plain --patch-from.
gunzip -c "$(lay_file "$(lay_img 1.0.0 web 'i["layers"][-1]["blob"]')")" >"$T/base.tar"
zstd -q -d --long=31 --patch-from="$T/base.tar" "$(lay_file "$dblob")" -o "$T/rebuilt.tar" || fail "zstd -d --patch-from failed"
assert_eq "sha256:$(sha256sum <"$T/rebuilt.tar" | cut -c1-64)" "$fat11" "zstd's result against the diff ID"
rm -f "$T/base.tar" "$T/rebuilt.tar"

# 1. The bundles.
b10=$(e2e_bundle 1.0.0)
bp=$(e2e_bundle 1.1.0 1.0.0 --patch-only)
mkdir -p "$E2E/nodelta"
"$AIRLOCK_BUNDLE" bundle export "$E2E/repo" --version 1.1.0 --arch "$(uname -m)" --from 1.0.0 --patch-only --no-deltas \
  --out "$E2E/nodelta/b.airlock" >/dev/null || fail "export --no-deltas failed"
assert_contains "$(lay_bundle_blobs "$bp")" "${fat11#sha256:}.from-${fat10#sha256:}.zst" "the patch bundle's blobs"
if lay_bundle_blobs "$bp" | grep -qF "${fat11#sha256:}.layer.tar.gz"; then fail "the patch bundle holds the full fat layer"; fi
assert_contains "$(lay_bundle_blobs "$E2E/nodelta/b.airlock")" "${fat11#sha256:}.layer.tar.gz" "the --no-deltas bundle"
size_d=$(stat -c %s "$bp") size_n=$(stat -c %s "$E2E/nodelta/b.airlock")
[ $((size_d * 10)) -lt "$size_n" ] || fail "the patch bundle with deltas ($size_d B) is not under 1/10 of the one without ($size_n B)"
echo "bundles: with deltas $size_d B, without $size_n B" >&2

# 2. Offline: 1.0.0 from the full bundle, then the patch with the delta.
lay_forget 1.0.0 web
lay_forget 1.1.0 web
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.0.0 ($out)"
lines=$(wc -l <"$E2E_STATE/airlock.jsonl")
run "$AIRLOCK" import "$bp" --yes "${CF[@]}"
assert_eq "$rc" 0 "import of the patch bundle with the delta ($out)"
assert_contains "$out" "updated 1.0.0 -> 1.1.0 (patch"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the patch"
id11=$(lay_img 1.1.0 web 'i["id"]')
assert_eq "$(lay_image_id "$E2E_APP-web:1.1.0")" "$id11" "the engine's image ID (the full release's config digest)"
assert_eq "$(docker image inspect -f '{{range .RootFS.Layers}}{{.}} {{end}}' "$E2E_APP-web:1.1.0")" \
  "$(lay_img 1.1.0 web '" ".join(l["diff_id"] for l in i["layers"]) + " "')" "the engine's diff IDs"
assert_eq "$(docker inspect -f '{{.Image}}' "$(e2e_cid)")" "$id11" "the image of the running container"
assert_contains "$(lay_step_detail fetch)" "saved" "the fetch step's detail"
log=$(tail -n +"$((lines + 1))" "$E2E_STATE/airlock.jsonl")
assert_contains "$log" "rebuilt layer 3 (${fat11:0:19}) of image ${id11:0:19} from a delta of" "the layer-delta event"
assert_contains "$(grep '"deltas"' <<<"$log")" "in place of" "the deltas event"
if grep -q '"layer-delta-fallback"' <<<"$log"; then fail "the import fell back to a full layer: $log"; fi
[ -z "$(find "$E2E_STATE/downloads" -name '*.tar' -o -name '*.tmp-*' 2>/dev/null)" ] || fail "scratch files left in downloads/"

# 3. Online: 1.2.0 rebuilds the binary again; the patch 1.1.0 -> 1.2.0 is in the repository nginx serves.
IMAGE_FAT="web=7:3:$FILES:$BIN" lay_release 1.2.0 web:10
lay_forget 1.2.0 web
run "$AIRLOCK_BUNDLE" patch add "$E2E/repo" --from 1.1.0 --to 1.2.0 --arch "$(uname -m)" --delta-level 3 "${KEYS[@]}"
assert_eq "$rc" 0 "patch add 1.1.0 -> 1.2.0 ($out)"
pj=$(lay_rj 1.2.0 patch-from-1.1.0)
read -r dblob12 dsize12 lsize12 payload12 cfg12 <<<"$(python3 -c '
import json,sys; m=json.load(open(sys.argv[1])); i=m["images"][0]; l=i["layers"][-1]
print(l["delta"]["blob"], l["delta"]["size"], l["size"], m["payload"], i["config"])' "$pj")"
fat12=$(lay_img 1.2.0 web 'i["layers"][-1]["diff_id"]')
cp -r "$E2E/repo" "$WWW"
chmod -R a+rX "$WWW"
cat >>"$E2E_CONF" <<CONF
[repository]
urls = $AIRLOCK_TEST_HTTPS/deltaone-$$
ca_file = $AIRLOCK_TEST_CA
retries = 2
connect_timeout = 2
CONF
run "$AIRLOCK" check --json "${CF[@]}"
assert_eq "$rc" 10 "check with 1.2.0 published ($out)"
json=$(tail -1 <<<"$out")
# The version layer changes too, and may come as a delta of its own: count what the manifest says.
ndeltas=$(python3 -c 'import json,sys; print(sum("delta" in l for l in json.load(open(sys.argv[1]))["images"][0]["layers"]))' "$pj")
assert_eq "$(e2e_py 'd["decision"], d["to"], d["delta_layers"]' <<<"$json")" "('patch', '1.2.0', $ndeltas)" "check --json"
want=$(python3 -c '
import json,sys,os,glob
m=json.load(open(sys.argv[1])); repo=sys.argv[2]
def size(name):
    d, b = os.path.split(name); return os.path.getsize(glob.glob(os.path.join(repo, "targets", d, "*." + b))[0])
i=m["images"][0]; base=set(sys.argv[3].split())
n=size(m["payload"]) + size(i["config"])
n+=sum(size(l["delta"]["blob"]) if "delta" in l else size(l["blob"]) for l in i["layers"] if l["diff_id"] not in base)
print(n)' "$pj" "$E2E/repo" "$(lay_img 1.1.0 web '" ".join(l["diff_id"] for l in i["layers"])')")
assert_eq "$(e2e_py 'd["download_bytes"]' <<<"$json")" "$want" "check --json download_bytes (payload, config, deltas)"
saved=$(e2e_py 'd["saved_bytes"]' <<<"$json")
[ "$saved" -ge $((lsize12 - dsize12)) ] || fail "check --json saved_bytes $saved is below the fat layer's $((lsize12 - dsize12))"
assert_contains "$(tail -n +1 <<<"$("$AIRLOCK" check "${CF[@]}" 2>&1 || true)")" "as binary deltas" "check's text"
acc=$TESTENV/nginx-access.log
before=$(wc -l <"$acc")
run "$AIRLOCK" upgrade --yes "${CF[@]}"
assert_eq "$rc" 0 "online upgrade to 1.2.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.2.0" "the service after the online upgrade"
assert_eq "$(lay_image_id "$E2E_APP-web:1.2.0")" "$(lay_img 1.2.0 web 'i["id"]')" "the engine's ID of 1.2.0"
got=$(tail -n +"$((before + 1))" "$acc" | grep -F "/deltaone-$$/targets/$E2E_APP/blobs/" || true)
assert_contains "$got" "${fat12#sha256:}.from-${fat11#sha256:}.zst" "nginx's log: the delta"
if grep -qF "${fat12#sha256:}.layer.tar.gz" <<<"$got"; then fail "the online upgrade fetched the full fat layer: $got"; fi
echo "ok: one rebuilt binary: delta $dsize B for a $lsize B layer; bundles $size_d B with deltas, $size_n B without"
