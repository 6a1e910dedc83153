#!/usr/bin/env bash
# Proves both ways the agent loads an image whose lower layers the engine holds (issue 13 item 7): the same patch
# upgrade 1.0.0 -> 1.1.0 (a new one-file layer on a shared 4 MiB base) on three fresh sites of one engine, with
# `[docker] image_load` = thin, complete and auto.
#  - thin: the archive leaves the base out: the JSON log says "1 layer(s) fetched, 1 in the engine (left out)"
#    and the load step "thin archives";
#  - complete: the base is exported from the engine with `docker save` of the 1.0.0 image and put in the archive:
#    "(exported from <the 1.0.0 image ID>)", "complete archives", and the export is removed from downloads/;
#  - auto: complete exactly when `docker info` reports the containerd snapshotter, else thin.
# Each upgrade commits, the service answers "ok 1.1.0" and the engine's image ID is the config digest release.json
# names. Between the sites the project is taken down and the 1.1.0 image removed, so each load starts from the
# same engine state (1.0.0 loaded, 1.1.0 absent). An unknown image_load value is a usage error (exit 2).
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2elaypath$$ E2E_PORT=18631
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
. "$(dirname "$0")/../fixtures/e2e/layers.sh"
defer lay_cleanup web
PAD=4 # MiB of the base; no other scenario uses this pad

lay_release 1.0.0 web:$PAD
lay_release 1.1.0 web:$PAD
e2e_patch 1.0.0 1.1.0
id10=$(lay_img 1.0.0 web 'i["id"]') id11=$(lay_img 1.1.0 web 'i["id"]')
base=$(lay_img 1.1.0 web 'i["layers"][0]["diff_id"]')
assert_eq "$(lay_img 1.0.0 web 'i["layers"][0]["diff_id"]')" "$base" "the base of 1.0.0"
b10=$(e2e_bundle 1.0.0)
b11p=$(e2e_bundle 1.1.0 1.0.0 --patch-only)
lay_forget 1.0.0 web
lay_forget 1.1.0 web
if lay_engine_has "$base"; then fail "the engine still holds the base layer $base"; fi
e2e_init # the template config; each mode gets a site of its own
TEMPLATE_CONF=$E2E_CONF

if docker info --format '{{json .DriverStatus}}' | grep -q io.containerd.snapshotter; then auto=complete; else auto=thin; fi
echo "this engine: $(docker info --format '{{.Driver}}'); image_load = auto means $auto" >&2

site() { # MODE: a fresh site with [docker] image_load = MODE
  local d=$E2E/site-$1
  mkdir -p "$d"
  sed -e "s|^install_root = .*|install_root = $d/opt|" -e "s|^dir = .*|dir = $d/state|" \
    -e "/^\[docker\]/a image_load = $1" "$TEMPLATE_CONF" >"$E2E/airlock-$1.conf"
  E2E_CONF=$E2E/airlock-$1.conf E2E_STATE=$d/state E2E_SITE=$d/opt/$E2E_APP
  "$AIRLOCK" init --config "$E2E_CONF" --trusted-root "$E2E/repo/metadata/1.root.json" >/dev/null || fail "init of the $1 site"
}

for mode in thin complete auto; do
  site "$mode"
  grep -qx "image_load = $mode" "$E2E_CONF" || fail "image_load = $mode is not in $E2E_CONF"
  run "$AIRLOCK" import "$b10" --yes --config "$E2E_CONF"
  assert_eq "$rc" 0 "$mode: install of 1.0.0 ($out)"
  assert_eq "$(e2e_body)" "ok 1.0.0" "$mode: the service on 1.0.0"
  [ -n "$(lay_image_id "$id10")" ] || fail "$mode: the 1.0.0 image is not in the engine"
  [ -z "$(lay_image_id "$id11")" ] || fail "$mode: the 1.1.0 image is in the engine before the upgrade"
  lines=$(wc -l <"$E2E_STATE/airlock.jsonl")

  run "$AIRLOCK" import "$b11p" --yes --config "$E2E_CONF"
  assert_eq "$rc" 0 "$mode: patch upgrade to 1.1.0 ($out)"
  assert_contains "$out" "updated 1.0.0 -> 1.1.0 (patch"
  assert_eq "$(e2e_body)" "ok 1.1.0" "$mode: the service after the upgrade"
  assert_eq "$(lay_image_id "$E2E_APP-web:1.1.0")" "$id11" "$mode: the engine's ID of $E2E_APP-web:1.1.0"
  assert_eq "$(docker inspect -f '{{.Image}}' "$(e2e_cid)")" "$id11" "$mode: the image of the running container"
  path=$mode
  [ "$mode" != auto ] || path=$auto
  event=$(tail -n +"$((lines + 1))" "$E2E_STATE/airlock.jsonl" | grep '"image-load"' || true)
  want_event="loading ${id11:0:19} ($E2E_APP-web:1.1.0): 1 layer(s) fetched, 1 in the engine"
  if [ "$path" = thin ]; then
    assert_contains "$event" "$want_event (left out)" "$mode: the image-load event"
  else
    assert_contains "$event" "$want_event (exported from ${id10:0:19})" "$mode: the image-load event"
  fi
  assert_eq "$(lay_step_detail load)" "1 loaded (1 layer(s) from the release, 1 from the engine, $path archives), 0 already present" \
    "$mode: the load step"
  [ -z "$(ls -A "$E2E_STATE/downloads")" ] || fail "$mode: downloads/ keeps files: $(ls "$E2E_STATE/downloads")"
  echo "$mode: $(lay_step_detail load)" >&2

  # The next site starts from the same engine state: 1.0.0 loaded, 1.1.0 absent, nothing running.
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$E2E_APP")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  docker rmi "$E2E_APP-web:1.1.0" >/dev/null || fail "docker rmi $E2E_APP-web:1.1.0"
  [ -z "$(lay_image_id "$id11")" ] || fail "the 1.1.0 image is still in the engine"
done

sed -i 's/^image_load = auto$/image_load = partial/' "$E2E_CONF"
run "$AIRLOCK" status --config "$E2E_CONF"
assert_eq "$rc" 2 "status with image_load = partial ($out)"
assert_contains "$out" "image_load"
echo "ok: thin and complete loads both commit with the config digest as image ID; auto chose $auto here"
