#!/usr/bin/env bash
# Proves that `release add` takes docker images from a `docker save` archive (--image-archive) and from the engine (--image), records their real image IDs and tags in release.json with loadable archives, and that a patch ships an archive only for images that changed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
make_image="$(dirname "$0")/../fixtures/testsvc/make-image.sh"
img1="airlock-testsvc:rel1-$$" img2="airlock-testsvc:rel2-$$"
defer docker rmi -f "$img1" "$img2"
id1=$("$make_image" "$TESTSVC" "$img1" "v1-$$" "$T/image1.tar")
id2=$("$make_image" "$TESTSVC" "$img2" "v2-$$")
[ "$id1" != "$id2" ] || fail "the two test images have the same ID $id1"
assert_eq "$(docker image inspect -f '{{.Id}}' "$img1")" "$id1" "image 1 ID"

make_keys "$T/keys"
keys=$(online_keys "$T/keys")
"$AIRLOCK_BUNDLE" repo init "$T/repo" --app demo --root-key "$T/keys/root.pem" --targets-key "$T/keys/targets.pem" \
  --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem" >/dev/null
for v in 1.0.0 1.1.0 1.2.0; do make_src "$T/src/$v" "$v"; done

release_json() { # VERSION [patch-from-BASE]: the stored release.json of that release or patch
  local f; f=$(find "$T/repo/targets/demo/$1/x86_64/${2:-}" -maxdepth 1 -name '*.release.json')
  [ -n "$f" ] && [ "$(wc -l <<<"$f")" = 1 ] || fail "no single release.json for $1 ${2:-}: $f"
  echo "$f"
}
images_of() { # RELEASE_JSON: "id tags archive-or-null" per image, sorted
  python3 -c '
import json, sys
for i in json.load(open(sys.argv[1]))["images"]:
    print(i["id"], ",".join(i["tags"]), i["archive"] if i["archive"] is not None else "null")
' "$1" | sort
}
dir=demo/1.0.0/x86_64

# 1.0.0: image 1 from a `docker save` archive.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src/1.0.0" --arch x86_64 --image-archive "$T/image1.tar" $keys
assert_eq "$rc" 0 "release add --image-archive: exit code ($out)"
assert_contains "$out" "published demo 1.0.0 for x86_64: 4 files, 1 images"
assert_eq "$(images_of "$(release_json 1.0.0)")" "$id1 $img1 $dir/images/${id1:7:12}.tar.gz" "images of 1.0.0"

# 1.1.0: image 2 saved by the tool from the engine, image 1 again from its archive.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src/1.1.0" --arch x86_64 --image "$img2" --image-archive "$T/image1.tar" $keys
assert_eq "$rc" 0 "release add --image: exit code ($out)"
assert_contains "$out" "published demo 1.1.0 for x86_64: 4 files, 2 images"
expected=$(printf '%s\n' "$id1 $img1 demo/1.1.0/x86_64/images/${id1:7:12}.tar.gz" "$id2 $img2 demo/1.1.0/x86_64/images/${id2:7:12}.tar.gz" | sort)
assert_eq "$(images_of "$(release_json 1.1.0)")" "$expected" "images of 1.1.0"

# 1.2.0: the same two images, both saved by the tool.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src/1.2.0" --arch x86_64 --image "$img1" --image "$img2" $keys
assert_eq "$rc" 0 "release add of 1.2.0: exit code ($out)"

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

# Patch 1.0.0 -> 1.1.0: image 2 is new and ships; image 1 is on every 1.0.0 site already (archive null).
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" patch add "$T/repo" --from 1.0.0 --to 1.1.0 --arch x86_64 $keys
assert_eq "$rc" 0 "patch add 1.0.0 -> 1.1.0: exit code ($out)"
assert_contains "$out" "published patch 1.0.0 -> 1.1.0 for x86_64: 1 deletions, 1 changed images"
p1=$(release_json 1.1.0 patch-from-1.0.0)
expected=$(printf '%s\n' "$id1 $img1 null" "$id2 $img2 demo/1.1.0/x86_64/images/${id2:7:12}.tar.gz" | sort)
assert_eq "$(images_of "$p1")" "$expected" "images of the patch 1.0.0 -> 1.1.0"
grep -q '"archive": null' "$p1" || fail "the patch release.json has no \"archive\": null: $(cat "$p1")"
# Patch 1.1.0 -> 1.2.0: the same images, so no image archive at all.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" patch add "$T/repo" --from 1.1.0 --to 1.2.0 --arch x86_64 $keys
assert_eq "$rc" 0 "patch add 1.1.0 -> 1.2.0: exit code ($out)"
assert_contains "$out" "0 changed images"
assert_eq "$(images_of "$(release_json 1.2.0 patch-from-1.1.0)")" "$(printf '%s\n' "$id1 $img1 null" "$id2 $img2 null" | sort)" "images of the patch 1.1.0 -> 1.2.0"

# The bundles carry exactly the archives their release.json names, and they verify.
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --from 1.0.0 --patch-only --out "$T/p.airlock" >/dev/null
entries=$(zipedit --list "$T/p.airlock")
assert_contains "$entries" "targets/demo/1.1.0/x86_64/images/"
assert_contains "$entries" ".${id2:7:12}.tar.gz"
assert_not_contains "$entries" ".${id1:7:12}.tar.gz" "entries of the 1.0.0 -> 1.1.0 patch bundle"
run "$AIRLOCK" verify "$T/p.airlock" --trusted-root "$T/repo/metadata/1.root.json"
assert_eq "$rc" 0 "verify of the patch bundle ($out)"
assert_contains "$out" "  demo/1.1.0/x86_64/images/${id2:7:12}.tar.gz"
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.2.0 --arch x86_64 --from 1.1.0 --patch-only --out "$T/p2.airlock" >/dev/null
assert_not_contains "$(zipedit --list "$T/p2.airlock")" "/images/" "entries of the 1.1.0 -> 1.2.0 patch bundle"

# The stored archives load back into docker as the same images: the one given as a file and the one the tool saved.
docker rmi -f "$img1" "$img2" >/dev/null
for pair in "1.0.0 $id1 $img1" "1.1.0 $id2 $img2"; do
  read -r v id img <<<"$pair"
  f=$(find "$T/repo/targets/demo/$v/x86_64/images" -name "*.${id:7:12}.tar.gz")
  [ -n "$f" ] || fail "no stored archive for $img in $v"
  gunzip -c "$f" | docker load > "$T/load.out"
  assert_contains "$(cat "$T/load.out")" "$img" "docker load of the stored archive of $img"
  assert_eq "$(docker image inspect -f '{{.Id}}' "$img")" "$id" "ID of $img loaded back from the repository"
done
echo "ok: release add records docker images by ID and tag, and patches ship only changed images"
