#!/usr/bin/env bash
# Proves that a patch bundle needing a layer the engine lost is refused in preflight, before anything changes
# (issue 13 item 7). Releases 1.0.0 and 1.1.0 ship two images: web (runs; 5 MiB base) and tools (no service runs
# it, as for an image a hook or an operator runs; its own 6 MiB base). The patch bundle 1.0.0 -> 1.1.0 carries
# only the new configs and top layers: a site running 1.0.0 holds both bases. Here the operator pruned the tools
# image (`docker rmi`), and with it its base layer, while the site still runs 1.0.0.
#  1. Importing the patch bundle exits 9 (not applicable) with a message naming layer 1 (the tools base, by
#     diff ID) of the tools 1.1.0 image and saying to import the full bundle of 1.1.0; nothing was stopped or
#     changed: the web container is the same (ID, start time) and answers "ok 1.0.0", current, status and
#     releases/ are as before, no 1.1.0 image is in the engine, the journal has no row of that attempt (so no
#     stop), downloads/ is empty.
#  2. The full bundle of 1.1.0, as the message says, imports and commits: the tools image comes back with its
#     base from the bundle (2 layers from the release), web's base comes from the engine.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2elayprune$$ E2E_PORT=18641
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
. "$(dirname "$0")/../fixtures/e2e/layers.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh" # assert_not_contains
defer lay_cleanup web tools
CF=(--config "$E2E_CONF")
WEB_PAD=5 TOOLS_PAD=6 # MiB of the two bases; no other scenario uses these pads

lay_release 1.0.0 web:$WEB_PAD tools:$TOOLS_PAD:image-only
lay_release 1.1.0 web:$WEB_PAD tools:$TOOLS_PAD:image-only
e2e_patch 1.0.0 1.1.0
grep -q tools "$(lay_rj 1.0.0)" || fail "release.json of 1.0.0 has no tools image"
if grep -q tools "$E2E/src/1.0.0/docker-compose.yml"; then fail "the compose file runs the tools image"; fi
tbase=$(lay_img 1.1.0 tools 'i["layers"][0]["diff_id"]')
assert_eq "$(lay_img 1.0.0 tools 'i["layers"][0]["diff_id"]')" "$tbase" "the tools base of 1.0.0"
[ "$tbase" != "$(lay_img 1.1.0 web 'i["layers"][0]["diff_id"]')" ] || fail "web and tools share their base"
idw11=$(lay_img 1.1.0 web 'i["id"]') idt11=$(lay_img 1.1.0 tools 'i["id"]')
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
b11p=$(e2e_bundle 1.1.0 1.0.0 --patch-only)
assert_not_contains "$(lay_bundle_blobs "$b11p")" "${tbase#sha256:}" "the blobs of the patch bundle"
lay_forget 1.0.0 web tools
lay_forget 1.1.0 web tools

e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.0.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the first install"
[ -n "$(lay_image_id "$E2E_APP-tools:1.0.0")" ] || fail "the tools image of 1.0.0 was not loaded"
lay_engine_has "$tbase" || fail "the tools base is not in the engine after the install"

# The operator prunes the tools image; its base layer goes with it.
docker rmi "$E2E_APP-tools:1.0.0" >/dev/null || fail "docker rmi $E2E_APP-tools:1.0.0"
if lay_engine_has "$tbase"; then fail "the tools base $tbase is still in the engine"; fi
cid=$(e2e_cid)
[ -n "$cid" ] || fail "no running container"
started=$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$cid")
rows=$(e2e_journal_rows)
releases=$(ls "$E2E_SITE/releases")
data_before=$(e2e_data_sum)

# 1. The patch bundle is refused in preflight.
run "$AIRLOCK" import "$b11p" --yes "${CF[@]}"
assert_eq "$rc" 9 "import of the patch bundle with the tools base pruned ($out)"
assert_contains "$out" "layer 1 (${tbase:0:19}) of image ${idt11:0:19} ($E2E_APP-tools:1.1.0) is neither in the docker engine nor in"
assert_contains "$out" "import the full bundle of 1.1.0"
assert_contains "$out" "Nothing was changed."
assert_eq "$(e2e_cid)" "$cid" "the running container after the refused patch"
assert_eq "$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$cid")" "$started" "start time and restarts"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the refused patch"
assert_eq "$(e2e_current)" "releases/1.0.0" "current after the refused patch"
assert_eq "$(e2e_status_version)" 1.0.0 "status after the refused patch"
assert_eq "$(ls "$E2E_SITE/releases")" "$releases" "releases/ after the refused patch"
assert_eq "$(e2e_data_sum)" "$data_before" "data/ after the refused patch"
assert_eq "$(e2e_journal_rows)" "$rows" "journal rows after the refused patch (preflight comes before the journal)"
[ -z "$(lay_image_id "$idw11")" ] || fail "web's 1.1.0 image was loaded by the refused patch"
[ -z "$(lay_image_id "$idt11")" ] || fail "tools' 1.1.0 image was loaded by the refused patch"
[ -z "$(ls -A "$E2E_STATE/downloads")" ] || fail "downloads/ keeps files: $(ls "$E2E_STATE/downloads")"

# 2. The full bundle, as the message says.
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 0 "import of the full bundle of 1.1.0 ($out)"
assert_contains "$out" "updated 1.0.0 -> 1.1.0 (full"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the full bundle"
assert_eq "$(lay_image_id "$E2E_APP-web:1.1.0") $(lay_image_id "$E2E_APP-tools:1.1.0")" "$idw11 $idt11" "the 1.1.0 image IDs"
assert_contains "$(lay_step_detail load)" "2 loaded (3 layer(s) from the release, 1 from the engine" "the load step of the full bundle"
echo "ok: a patch needing a pruned layer was refused in preflight with exit 9; the full bundle then committed"
