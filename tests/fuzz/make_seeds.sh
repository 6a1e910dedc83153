#!/usr/bin/env bash
# Regenerates the generated seeds of the fuzz targets, tests/fuzz/<target>/gen-*: a real signed repository with
# two releases and a patch (tests/fixtures/bundles/make_repo.sh), its bundles, metadata, release.json files and
# archives, plus small zips, tars and docker archives written by python3. The other seeds (not gen-*) are written
# by hand, or are findings (docs/fuzzing.md), and are kept. The output changes with every run (fresh keys), so
# run this only when the formats change, and commit what it writes.
#   scripts/build.sh x86_64 && tests/fuzz/make_seeds.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
fuzz=$here/tests/fuzz
export AIRLOCK_BUNDLE=${AIRLOCK_BUNDLE:-$here/build/x86_64/bundle-tool/airlock-bundle}
[ -x "$AIRLOCK_BUNDLE" ] || { echo "no $AIRLOCK_BUNDLE: run scripts/build.sh x86_64 first" >&2; exit 1; }
fail() { echo "make_seeds: $*" >&2; exit 1; }
# shellcheck source=../fixtures/bundles/make_repo.sh
. "$here/tests/fixtures/bundles/make_repo.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# A day before the time the TUF target judges expiry at (kNow in tuf.cpp); metadata expires a year later.
export AIRLOCK_NOW=1699913600

for t in json canonical_json zip tar tuf release image_archive http; do
  mkdir -p "$fuzz/$t"
  rm -f "$fuzz/$t"/gen-*
done

make_repo "$T/repo" "$T/keys"
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.0.0 --arch x86_64 --out "$fuzz/zip/gen-full.airlock" >/dev/null
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --from 1.0.0 \
  --out "$fuzz/zip/gen-patch.airlock" >/dev/null

meta=$T/repo/metadata targets=$T/repo/targets/demo
for f in 1.root.json timestamp.json 4.snapshot.json 4.targets.json 1.targets.json; do cp "$meta/$f" "$fuzz/tuf/gen-$f"; done
cp "$meta/1.root.json" "$fuzz/json/gen-root.json"
cp "$meta/4.targets.json" "$fuzz/json/gen-targets.json"
# The whole client workflow: the trusted root, then what refresh() fetches (consistent snapshots: N.name.json).
for f in 1.root.json timestamp.json 4.snapshot.json 4.targets.json; do printf -- '--- %s\n' "$f"; cat "$meta/$f"; done \
  > "$fuzz/tuf/gen-repository.txt"
cp "$targets/1.0.0/x86_64/"*.release.json "$fuzz/release/gen-full-1.0.0.json"
cp "$targets/1.1.0/x86_64/patch-from-1.0.0/"*.release.json "$fuzz/release/gen-patch-1.1.0.json"
cp "$fuzz/release/gen-patch-1.1.0.json" "$fuzz/json/gen-release.json"
cp "$targets/1.0.0/x86_64/"*.app.tar.gz "$fuzz/tar/gen-app.tar.gz"
gunzip -c "$targets/1.0.0/x86_64/"*.app.tar.gz > "$fuzz/tar/gen-app.tar"
gunzip -c "$targets/1.1.0/x86_64/patch-from-1.0.0/"*.patch.tar.gz > "$fuzz/tar/gen-patch.tar"

python3 - "$fuzz" "$T/repo.src/1.0.0.image.tar" <<'PY'
import hashlib, io, json, random, sys, tarfile, zipfile
fuzz, docker_save = sys.argv[1], sys.argv[2]

def tar_bytes(files, fmt=tarfile.USTAR_FORMAT):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for name, data, kind in files:
            i = tarfile.TarInfo(name); i.mtime = 0
            if kind == "file":
                i.size = len(data); t.addfile(i, io.BytesIO(data))
            else:
                i.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
                i.linkname = data.decode() if kind != "dir" else ""
                t.addfile(i)
    return trim(b.getvalue())

def trim(tar):  # python pads archives to 10 KiB records: keep the two zero blocks of the end marker only
    end = len(tar.rstrip(b"\0"))
    return tar[:(end + 511) // 512 * 512 + 1024]

def write(path, data):
    open(f"{fuzz}/{path}", "wb").write(data)

# the `docker save` archive that make_repo published (make_image_archive), as it is
saved = trim(open(docker_save, "rb").read())
write("tar/gen-docker-save.tar", saved)
write("image_archive/gen-docker-save.tar", saved)

# tar: pax long names and GNU long names and links, every entry type the reader knows.
long = "d/" + "x" * 120 + "/file"
entries = [("d", b"", "dir"), (long, b"long name\n", "file"), ("link", long.encode(), "symlink"),
           ("hard", long.encode(), "hardlink"), ("d/\u00e9t\u00e9", b"utf-8 name", "file")]
write("tar/gen-pax.tar", tar_bytes(entries, tarfile.PAX_FORMAT))
write("tar/gen-gnu.tar", tar_bytes(entries, tarfile.GNU_FORMAT))

# zip: small stored archives, one with ZIP64 records.
for name, z64 in (("gen-small.zip", False), ("gen-zip64.zip", True)):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        for n, data in (("metadata/1.root.json", b"{}"), ("targets/a/b.bin", b"\0" * 40 + b"payload")):
            with z.open(zipfile.ZipInfo(n, (1980, 1, 1, 0, 0, 0)), "w", force_zip64=z64) as f:
                f.write(data)
    write(f"zip/{name}", b.getvalue())

# image_archive: docker archives in the target's entry list format ("=== f <path>\n<content>").
def layer(name, content):
    return tar_bytes([(name, content, "file")])
def docker_archive(layers, oci=False, link_dup=False):
    diffs = [hashlib.sha256(l).hexdigest() for l in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for d in diffs]}}).encode()
    cid = hashlib.sha256(config).hexdigest()
    if oci:
        paths = ["blobs/sha256/" + d for d in diffs]
        cfg = "blobs/sha256/" + cid
    else:
        paths = [d + "/layer.tar" for d in diffs]
        cfg = cid + ".json"
    manifest = json.dumps([{"Config": cfg, "RepoTags": ["demo/web:1.0.0"], "Layers": paths}]).encode()
    out = []
    for i, (p, l) in enumerate(zip(paths, layers)):
        if link_dup and i > 0 and l == layers[0]:
            out.append(b"=== l " + p.encode() + b"\n../" + paths[0].encode())
        else:
            out.append(b"=== f " + p.encode() + b"\n" + l)
    out.append(b"=== f " + cfg.encode() + b"\n" + config)
    if oci:
        out.append(b"=== f oci-layout\n" + b'{"imageLayoutVersion":"1.0.0"}')
        out.append(b"=== f index.json\n" + json.dumps({"schemaVersion": 2, "manifests": []}).encode())
    out.append(b"=== f manifest.json\n" + manifest)
    return b"\n".join(out)
base, top = layer("base", b"the shared base\n"), layer("VERSION", b"1.0.0\n")
write("image_archive/gen-legacy.txt", docker_archive([base, top]))
write("image_archive/gen-oci.txt", docker_archive([base, top], oci=True))
write("image_archive/gen-duplicate-layer-symlink.txt", docker_archive([base, top, base], link_dup=True))

# canonical_json: FuzzedDataProvider input is any bytes; a few fixed random ones.
rng = random.Random(14)
for i in range(4):
    write(f"canonical_json/gen-random-{i}.bin", bytes(rng.randrange(256) for _ in range(64 + 128 * i)))
PY
echo "seeds written under $fuzz (gen-*)"
