#!/usr/bin/env bash
# Proves that `release add` takes docker images from a `docker save` archive (--image-archive) and from the engine
# (--image) and splits them into content-addressed blobs (release.json format 2): per image its real ID and tags,
# its config (<app>/blobs/<config digest>.config.json, whose SHA-256 is the image ID) and its layers in order, each
# with its diff ID (the engine's RootFS.Layers), a blob <app>/blobs/<diff hex>.layer.tar.gz that gunzips to a tar
# with that SHA-256, its size and uncompressed size. The two test images share their base layer: the second
# release reuses the blobs already in the repository (its output says so) and the repository stores the base
# once. A patch counts the blobs a site of the old release lacks, and its patch-only bundle carries exactly those.
# The stored blobs rebuild the images: a `docker save` layout made by hand from the config and the gunzipped
# layers loads into the engine as the same image IDs. Bad inputs are refused: an image the engine does not have
# (exit 1), a file that is not a tar (exit 4), a tar that is not a `docker save` archive (exit 4).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
make_image="$(dirname "$0")/../fixtures/testsvc/make-image.sh"
export IMAGE_PAD_MIB=7 # a base of this scenario's own (no other scenario uses this pad), removed at the end
img1="airlock-testsvc:rel1-$$" img2="airlock-testsvc:rel2-$$"
defer docker rmi -f "$img1" "$img2"
id1=$("$make_image" "$TESTSVC" "$img1" "v1-$$" "$T/image1.tar")
id2=$("$make_image" "$TESTSVC" "$img2" "v2-$$")
base_ref=
for ref in $(docker images --format '{{.Repository}}:{{.Tag}}' airlock-testsvc-base); do
  if [ "$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$ref" 2>/dev/null || true)" = \
       "$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$img1")" ]; then base_ref=$ref; fi
done
[ -n "$base_ref" ] || fail "no make-image base below $img1"
defer "docker rmi -f $img1 $img2; docker rmi $base_ref" # the base once the images are gone
[ "$id1" != "$id2" ] || fail "the two test images have the same ID $id1"
assert_eq "$(docker image inspect -f '{{.Id}}' "$img1")" "$id1" "image 1 ID"
layers1=$(docker image inspect -f '{{range .RootFS.Layers}}{{.}} {{end}}' "$img1" | sed 's/ $//')
layers2=$(docker image inspect -f '{{range .RootFS.Layers}}{{.}} {{end}}' "$img2" | sed 's/ $//')
read -r base top1 <<<"$layers1"
read -r base2 top2 <<<"$layers2"
assert_eq "$base2" "$base" "the base layer of both test images"
[ "$top1" != "$top2" ] || fail "the two test images have the same top layer $top1"

make_keys "$T/keys"
keys=$(online_keys "$T/keys")
"$AIRLOCK_BUNDLE" repo init "$T/repo" --app demo --root-key "$T/keys/root.pem" --targets-key "$T/keys/targets.pem" \
  --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem" >/dev/null
for v in 1.0.0 1.1.0 1.2.0; do make_src "$T/src/$v" "$v"; done
# Each release runs image 1, which each of them ships (release add refuses a compose image it does not ship).
sed -i "s|image: demo/web:.*|image: $img1|" "$T"/src/*/docker-compose.yml
BLOBS=$T/repo/targets/demo/blobs

release_json() { # VERSION [patch-from-BASE]: the stored release.json of that release or patch
  local f; f=$(find "$T/repo/targets/demo/$1/x86_64/${2:-}" -maxdepth 1 -name '*.release.json')
  [ -n "$f" ] && [ "$(wc -l <<<"$f")" = 1 ] || fail "no single release.json for $1 ${2:-}: $f"
  echo "$f"
}
images_of() { # RELEASE_JSON: "id tags config diff_id:blob ..." per image, sorted
  python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["format"] == 2, m["format"]
for i in m["images"]:
    assert "archive" not in i, i
    print(i["id"], ",".join(i["tags"]), i["config"], " ".join(l["diff_id"] + ":" + l["blob"] for l in i["layers"]))
' "$1" | sort
}
image_line() { # ID TAG "DIFF ...": the line images_of prints for that image
  local l out="$1 $2 demo/blobs/${1#sha256:}.config.json"
  for l in $3; do out+=" $l:demo/blobs/${l#sha256:}.layer.tar.gz"; done
  echo "$out"
}
blob_file() { # NAME (demo/blobs/...): the file of that target in the repository, exactly one
  local f; f=$(find "$BLOBS" -name "*.$(basename "$1")")
  [ -n "$f" ] && [ "$(wc -l <<<"$f")" = 1 ] || fail "no single file for $1: $f"
  echo "$f"
}
# Every config and layer of RELEASE_JSON is stored as a file named by its SHA-256 and the target's basename, the
# config's SHA-256 is the image ID, each layer gunzips to a tar of its diff ID with the sizes release.json states.
check_blobs() {
  python3 - "$1" "$BLOBS" <<'PY' || fail "the blobs of $1 do not match release.json"
import glob, gzip, hashlib, json, os, sys
m = json.load(open(sys.argv[1]))
def stored(name):
    hits = glob.glob(os.path.join(sys.argv[2], "*." + os.path.basename(name)))
    assert len(hits) == 1, (name, hits)
    data = open(hits[0], "rb").read()
    assert os.path.basename(hits[0]).split(".")[0] == hashlib.sha256(data).hexdigest(), hits[0]
    return data
for i in m["images"]:
    assert "sha256:" + hashlib.sha256(stored(i["config"])).hexdigest() == i["id"], i["config"]
    config = json.loads(stored(i["config"]))
    assert config["rootfs"]["diff_ids"] == [l["diff_id"] for l in i["layers"]], i["id"]
    for l in i["layers"]:
        gz = stored(l["blob"])
        tar = gzip.decompress(gz)
        assert len(gz) == l["size"], (l, len(gz))
        assert len(tar) == l["uncompressed_size"], (l, len(tar))
        assert "sha256:" + hashlib.sha256(tar).hexdigest() == l["diff_id"], l
PY
}

# 1.0.0: image 1 from a `docker save` archive: 3 new blobs (config, base, top layer).
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src/1.0.0" --arch x86_64 --image-archive "$T/image1.tar" $keys
assert_eq "$rc" 0 "release add --image-archive: exit code ($out)"
assert_contains "$out" "published demo 1.0.0 for x86_64: 4 files, 1 images (2 layers); blobs: 3 new ("
assert_contains "$out" ", 0 already in the repository; the repository holds "
assert_eq "$(images_of "$(release_json 1.0.0)")" "$(image_line "$id1" "$img1" "$layers1")" "images of 1.0.0"
check_blobs "$(release_json 1.0.0)"
assert_eq "$(find "$BLOBS" -type f | wc -l)" 3 "blob files after 1.0.0"

# 1.1.0: image 2 saved by the tool from the engine, image 1 again from its archive: only image 2's config and top
# layer are new; the base and image 1's blobs are reused. (Each distinct blob counts once: of 2 configs, the base
# and 2 top layers, 2 are new and 3 reused.)
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src/1.1.0" --arch x86_64 --image "$img2" --image-archive "$T/image1.tar" $keys
assert_eq "$rc" 0 "release add --image: exit code ($out)"
assert_contains "$out" "published demo 1.1.0 for x86_64: 4 files, 2 images (4 layers); blobs: 2 new ("
assert_contains "$out" ", 3 already in the repository"
expected=$(printf '%s\n' "$(image_line "$id1" "$img1" "$layers1")" "$(image_line "$id2" "$img2" "$layers2")" | sort)
assert_eq "$(images_of "$(release_json 1.1.0)")" "$expected" "images of 1.1.0"
check_blobs "$(release_json 1.1.0)"
assert_eq "$(find "$BLOBS" -type f | wc -l)" 5 "blob files after 1.1.0 (2 configs, the base, 2 top layers)"
assert_eq "$(find "$BLOBS" -name "*.${base#sha256:}.layer.tar.gz" | wc -l)" 1 "files of the shared base layer"

# 1.2.0: the same two images, both saved by the tool: nothing new.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src/1.2.0" --arch x86_64 --image "$img1" --image "$img2" $keys
assert_eq "$rc" 0 "release add of 1.2.0: exit code ($out)"
assert_contains "$out" "2 images (4 layers); blobs: 0 new ("
assert_contains "$out" ", 5 already in the repository"
assert_eq "$(images_of "$(release_json 1.2.0)")" "$expected" "images of 1.2.0"
assert_eq "$(find "$BLOBS" -type f | wc -l)" 5 "blob files after 1.2.0"

# An image the engine does not have: docker save fails, and the tool says so.
make_src "$T/src/1.3.0" 1.3.0
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src/1.3.0" --arch x86_64 --image "airlock-testsvc:missing-$$" $keys
assert_eq "$rc" 1 "release add --image of a missing image: exit code ($out)"
assert_contains "$out" "docker save airlock-testsvc:missing-$$ failed"
# A file that is not a docker save archive.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src/1.3.0" --arch x86_64 --image-archive "$T/src/1.3.0/docker-compose.yml" $keys
assert_eq "$rc" 4 "release add --image-archive of a non-archive: exit code ($out)"
assert_contains "$out" "docker-compose.yml: truncated tar archive"
# A tar that is not a `docker save` archive.
tar -C "$T/src/1.3.0" -cf "$T/plain.tar" .
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src/1.3.0" --arch x86_64 --image-archive "$T/plain.tar" $keys
assert_eq "$rc" 4 "release add --image-archive of a plain tar: exit code ($out)"
assert_contains "$out" "plain.tar holds no manifest.json: it is not a \`docker save\` archive"
assert_eq "$(find "$BLOBS" -type f | wc -l)" 5 "blob files after the refused releases"
[ ! -e "$T/repo/targets/demo/1.3.0" ] || fail "a refused release left targets/demo/1.3.0"

# Patch 1.0.0 -> 1.1.0: a 1.0.0 site lacks image 2's config and top layer (it has the base).
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" patch add "$T/repo" --from 1.0.0 --to 1.1.0 --arch x86_64 $keys
assert_eq "$rc" 0 "patch add 1.0.0 -> 1.1.0: exit code ($out)"
assert_contains "$out" "published patch 1.0.0 -> 1.1.0 for x86_64: 1 deletions; a site running 1.0.0 lacks 2 image blob(s), "
assert_eq "$(images_of "$(release_json 1.1.0 patch-from-1.0.0)")" "$expected" "images of the patch 1.0.0 -> 1.1.0"
# Patch 1.1.0 -> 1.2.0: the same images, so no blob at all.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" patch add "$T/repo" --from 1.1.0 --to 1.2.0 --arch x86_64 $keys
assert_eq "$rc" 0 "patch add 1.1.0 -> 1.2.0: exit code ($out)"
assert_contains "$out" "a site running 1.1.0 lacks 0 image blob(s)"

# The bundles carry exactly the blobs a site of the base release lacks, and they verify.
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --from 1.0.0 --patch-only --out "$T/p.airlock" >/dev/null
assert_eq "$(zipedit --list "$T/p.airlock" | grep '/blobs/' | sed 's|.*/[0-9a-f]\{64\}\.||' | LC_ALL=C sort)" \
  "$(printf '%s\n' "${id2#sha256:}.config.json" "${top2#sha256:}.layer.tar.gz" | LC_ALL=C sort)" "blobs of the 1.0.0 -> 1.1.0 patch bundle"
assert_not_contains "$(zipedit --list "$T/p.airlock")" "/images/" "entries of the 1.0.0 -> 1.1.0 patch bundle"
run "$AIRLOCK" verify "$T/p.airlock" --trusted-root "$T/repo/metadata/1.root.json"
assert_eq "$rc" 0 "verify of the patch bundle ($out)"
assert_contains "$out" "  demo/blobs/${top2#sha256:}.layer.tar.gz"
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.2.0 --arch x86_64 --from 1.1.0 --patch-only --out "$T/p2.airlock" >/dev/null
assert_not_contains "$(zipedit --list "$T/p2.airlock")" "/blobs/" "entries of the 1.1.0 -> 1.2.0 patch bundle"
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --out "$T/full.airlock" >/dev/null
assert_eq "$(zipedit --list "$T/full.airlock" | grep -c '/blobs/')" 5 "blob entries of the full 1.1.0 bundle"

# The stored blobs rebuild the images: with both images and their base gone from the engine, a `docker save`
# layout made by hand from each config and its gunzipped layers loads as the same image ID.
docker rmi -f "$img1" "$img2" "$base_ref" >/dev/null
docker image inspect "$id1" >/dev/null 2>&1 && fail "image 1 is still in the engine"
docker image inspect "$id2" >/dev/null 2>&1 && fail "image 2 is still in the engine"
for pair in "$id1 $img1" "$id2 $img2"; do
  read -r id img <<<"$pair"
  d=$T/load-${id:7:12}
  rm -rf "$d"; mkdir -p "$d"
  python3 - "$(release_json 1.2.0)" "$id" "$BLOBS" "$d" <<'PY' || fail "building the load layout of $img failed"
import glob, gzip, json, os, sys
rj, want, blobs, out = sys.argv[1:]
img = [i for i in json.load(open(rj))["images"] if i["id"] == want][0]
def stored(name):
    return open(glob.glob(os.path.join(blobs, "*." + os.path.basename(name)))[0], "rb").read()
hexid = want.split(":")[1]
open(os.path.join(out, hexid + ".json"), "wb").write(stored(img["config"]))
layers = []
for l in img["layers"]:
    h = l["diff_id"].split(":")[1]
    os.makedirs(os.path.join(out, h))
    open(os.path.join(out, h, "layer.tar"), "wb").write(gzip.decompress(stored(l["blob"])))
    layers.append(h + "/layer.tar")
json.dump([{"Config": hexid + ".json", "RepoTags": img["tags"], "Layers": layers}], open(os.path.join(out, "manifest.json"), "w"))
PY
  tar -C "$d" -cf - . | docker load >"$T/load.out" 2>&1 || fail "docker load of the rebuilt $img failed: $(cat "$T/load.out")"
  assert_contains "$(cat "$T/load.out")" "$img" "docker load of the rebuilt archive of $img"
  assert_eq "$(docker image inspect -f '{{.Id}}' "$img")" "$id" "ID of $img rebuilt from the repository's blobs"
done
echo "ok: release add splits images into shared config and layer blobs, and patches ship only the blobs a site lacks"
