#!/usr/bin/env bash
# A delta whose base layer the engine no longer has (issue 17). Release 1.0.0 ships the web service and a "tool"
# image that no service runs, whose top layer holds files and a binary; 1.1.0 rebuilds the binary, so the patch
# carries the tool's layer as a delta from 1.0.0's. The site installs 1.0.0, then the tool image is removed.
#  1. The patch-only bundle (deltas only) is refused in the preflight with exit 9, naming a layer of the tool
#     image and its missing base; nothing ran: no journal row, the service still answers "ok 1.0.0".
#  2. The bundle exported without --patch-only also holds the full layers: its import commits, the tool's layer
#     comes as the full layer and web's changed layer still as its delta; both images are exactly the release's.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2edeltalost$$ E2E_PORT=18621
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
. "$(dirname "$0")/../fixtures/e2e/layers.sh"
E2E_MAKE_IMAGE="$(cd "$(dirname "$0")/../fixtures/testsvc" && pwd)/make-fat-image.sh"
defer lay_cleanup web tool
CF=(--config "$E2E_CONF")
KEYS=(--key "$E2E/keys/targets.pem" --key "$E2E/keys/snapshot.pem" --key "$E2E/keys/timestamp.pem")

# The base's pad (MiB) is this scenario's own: lay_forget removes the base, and scenarios run side by side.
IMAGE_FAT="tool=5:1:12:2" lay_release 1.0.0 web:11 tool:11:image-only
IMAGE_FAT="tool=5:2:12:2" lay_release 1.1.0 web:11 tool:11:image-only
run "$AIRLOCK_BUNDLE" patch add "$E2E/repo" --from 1.0.0 --to 1.1.0 --arch "$(uname -m)" --delta-level 3 "${KEYS[@]}"
assert_eq "$rc" 0 "patch add ($out)"
fat10=$(lay_img 1.0.0 tool 'i["layers"][-1]["diff_id"]')
fat11=$(lay_img 1.1.0 tool 'i["layers"][-1]["diff_id"]')
assert_eq "$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print([l["delta"]["base"] for i in m["images"] for l in i["layers"] if l["diff_id"] == sys.argv[2]])' \
  "$(lay_rj 1.1.0 patch-from-1.0.0)" "$fat11")" "['$fat10']" "the tool layer's delta base"
b10=$(e2e_bundle 1.0.0)
bp=$(e2e_bundle 1.1.0 1.0.0 --patch-only)
bboth=$E2E/both.airlock # e2e_bundle would write over $bp
"$AIRLOCK_BUNDLE" bundle export "$E2E/repo" --version 1.1.0 --arch "$(uname -m)" --from 1.0.0 --out "$bboth" >/dev/null \
  || fail "export of the bundle with full layers failed"
lay_forget 1.0.0 web tool
lay_forget 1.1.0 web tool
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "install of 1.0.0 ($out)"
docker rmi "$E2E_APP-tool:1.0.0" >/dev/null || fail "docker rmi of the tool image failed"
if lay_engine_has "$fat10"; then fail "the engine still holds the tool's layer $fat10"; fi
cid=$(e2e_cid)
rows=$(e2e_journal_rows)

# 1. Deltas only: refused before anything starts.
run "$AIRLOCK" import "$bp" --yes "${CF[@]}"
assert_eq "$rc" 9 "import of the deltas-only bundle without the base layer ($out)"
# The first such layer is named: the tool's small version layer (its base went with the image too) or the fat one.
assert_contains "$out" "(its delta's base layer sha256:"
assert_contains "$out" "is not in the engine) of image $(lay_img 1.1.0 tool 'i["id"][:19]') ($E2E_APP-tool:1.1.0)"
assert_contains "$out" "Nothing was changed."
assert_eq "$(e2e_journal_rows)" "$rows" "journal rows after the refused import"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the refused import"
assert_eq "$(e2e_cid)" "$cid" "the running container after the refused import"

# 2. The bundle with the full layers too.
lines=$(wc -l <"$E2E_STATE/airlock.jsonl")
run "$AIRLOCK" import "$bboth" --yes "${CF[@]}"
assert_eq "$rc" 0 "import of the bundle with full layers ($out)"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the upgrade"
for svc in web tool; do
  assert_eq "$(lay_image_id "$E2E_APP-$svc:1.1.0")" "$(lay_img 1.1.0 $svc 'i["id"]')" "the engine's ID of $svc 1.1.0"
done
log=$(tail -n +"$((lines + 1))" "$E2E_STATE/airlock.jsonl")
web_top=$(lay_img 1.1.0 web 'i["layers"][-1]["diff_id"]')
assert_contains "$(grep '"layer-delta"' <<<"$log")" "(${web_top:0:19}) of image" "web's layer rebuilt from its delta"
if grep '"layer-delta"' <<<"$log" | grep -qF "${fat11:0:19}"; then fail "the tool's layer was rebuilt from a delta: $log"; fi
echo "ok: a delta without its base: refused with exit 9 from deltas only, full layer taken when the bundle has it"
