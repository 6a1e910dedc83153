#!/usr/bin/env bash
# Proves that `airlock stage` applies its archive policy to releases whose signatures are perfectly valid: a
# publisher's key does not make an unsafe app archive safe. airlock-bundle refuses to build such releases, so
# tests/fixtures/bundles/resign.py replaces the app archive and release.json of a published release and signs
# targets, snapshot and timestamp again with the role keys. First, controls: the replaced target without re-signing
# is refused by the signature/hash checks (exit 3), and a benign re-signed change (an extra file and a new tool)
# stages, byte for byte and mode for mode. Then, for each unsafe entry (a '..' path, an absolute path, symlinks
# leaving the tree or absolute, character and block devices, a FIFO, setuid and setgid bits release.json does not
# declare, a hard link, a file written through a symlink of the same archive) and each unsafe listing of
# release.json itself (a setuid file it declares, a world-writable file it declares, a link that leaves the tree
# through another link of the tree while staying inside lexically), the re-signed repository verifies (`airlock
# verify` exit 0, so the refusal cannot come from a signature check), and staging it, from a bundle or from the
# repository directory, exits 4 (bad_input) with a message that names the entry and says why, leaves nothing in
# releases/ (neither <v> nor <v>.partial), writes nothing outside the tree, and leaves current, data/ and site/ as
# they were.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
resign() { python3 "$(dirname "$0")/../fixtures/bundles/resign.py" "$@"; }
make_keys "$T/keys"
"$AIRLOCK_BUNDLE" repo init "$T/repo" --app demo --root-key "$T/keys/root.pem" --targets-key "$T/keys/targets.pem" \
  --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem" >/dev/null
make_src "$T/src" 1.0.0
# shellcheck disable=SC2046
"$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") $(online_keys "$T/keys") >/dev/null \
  || fail "release add 1.0.0"
REL=demo/1.0.0/x86_64
cp "$T"/repo/targets/$REL/*.release.json "$T/base-release.json"
ROOT=$T/repo/metadata/1.root.json

mkdir -p "$T/running"
printf 'services:\n  web:\n    image: demo/web:0\n' > "$T/running/docker-compose.yml"
C=(--config "$T/airlock.conf")
run "$AIRLOCK" init --app demo --install-root "$T/opt" --state-dir "$T/state" --trusted-root "$ROOT" --adopt "$T/running" \
  "${C[@]}"
assert_eq "$rc" 0 "init ($out)"
APP=$T/opt/demo
echo "keep me" > "$APP/data/file"
echo "SECRET=1" > "$APP/site/.env"
fingerprint() {
  (cd "$APP" && {
    find data site -printf '%y %m %p %l\n' | LC_ALL=C sort
    find data site -type f -print0 | xargs -0 sha256sum | LC_ALL=C sort
    echo "current -> $(readlink current)"
  } | sha256sum | cut -d' ' -f1)
}
site_before=$(fingerprint)

# craft CASE DIR: DIR/app.tar.gz (the release's own entries, then the case's extra ones) and DIR/release.json
# (the signed listing plus whatever the case lists). ABS is the target of the absolute-path case.
ABS=$T/escaped-absolute
craft() {
  mkdir -p "$2"
  python3 - "$1" "$T/base-release.json" "$T/src" "$2" "$ABS" <<'EOF'
import hashlib, io, json, os, sys, tarfile
case, base, src, out, abs_path = sys.argv[1:]
m = json.load(open(base))
tar_entries = []  # (TarInfo, bytes or None)

def info(name, type_, mode=0o644, **kw):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname, ti.mtime = type_, mode, 0, 0, "root", "root", 1700000000
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti

def listed_file(path, data, mode):
    return {"path": path, "type": "file", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "mode": mode}

for f in sorted(m["files"], key=lambda f: f["path"]):
    if f["type"] == "dir":
        tar_entries.append((info(f["path"] + "/", tarfile.DIRTYPE, f["mode"]), None))
    elif f["type"] == "symlink":
        tar_entries.append((info(f["path"], tarfile.SYMTYPE, 0o777, linkname=f["target"]), None))
    else:
        data = open(os.path.join(src, f["path"]), "rb").read()
        tar_entries.append((info(f["path"], tarfile.REGTYPE, f["mode"], size=len(data)), data))

def add_file(path, data, mode, listed_mode):
    tar_entries.append((info(path, tarfile.REGTYPE, mode, size=len(data)), data))
    if listed_mode is not None:
        m["files"].append(listed_file(path, data, listed_mode))

def add_special(path, type_, mode=0o644, listed=None, **kw):
    tar_entries.append((info(path, type_, mode, **kw), None))
    if listed is not None:
        m["files"].append(listed)

tool = b"#!/bin/sh\necho tool\n"
app_conf = open(os.path.join(src, "config/app.conf"), "rb").read()
if case == "benign":
    add_special("bin/", tarfile.DIRTYPE, 0o755, {"path": "bin", "type": "dir", "mode": 0o755})
    add_file("bin/tool", tool, 0o755, 0o755)
    add_file("config/extra.conf", b"extra=1\n", 0o640, 0o640)
elif case == "setuid-declared":
    add_special("bin/", tarfile.DIRTYPE, 0o755, {"path": "bin", "type": "dir", "mode": 0o755})
    add_file("bin/tool", tool, 0o4755, 0o4755)  # setuid, and declared: a release tree grants nothing
elif case == "world-writable":
    add_file("config/extra.conf", b"extra=1\n", 0o666, 0o666)
elif case == "link-through-link":
    # config/up -> .. is the tree's root; escape -> config/up/../../outside is inside lexically, outside resolved.
    add_special("config/up", tarfile.SYMTYPE, 0o777, {"path": "config/up", "type": "symlink", "target": ".."},
                linkname="..")
    add_special("escape", tarfile.SYMTYPE, 0o777, {"path": "escape", "type": "symlink",
                "target": "config/up/../../outside"}, linkname="config/up/../../outside")
elif case == "dotdot":
    add_file("config/../../escaped-dotdot", b"x\n", 0o644, None)
elif case == "dotdot-top":
    add_file("../escaped-top", b"x\n", 0o644, None)
elif case == "absolute":
    add_file(abs_path, b"x\n", 0o644, None)
elif case == "symlink-out":
    add_special("config/link", tarfile.SYMTYPE, 0o777, {"path": "config/link", "type": "symlink",
                "target": "../../outside"}, linkname="../../outside")
elif case == "symlink-abs":
    add_special("config/passwd", tarfile.SYMTYPE, 0o777, {"path": "config/passwd", "type": "symlink",
                "target": "/etc/passwd"}, linkname="/etc/passwd")
elif case == "chardev":
    add_special("config/null", tarfile.CHRTYPE, 0o644, listed_file("config/null", b"", 0o644), devmajor=1, devminor=3)
elif case == "blockdev":
    add_special("config/disk", tarfile.BLKTYPE, 0o660, listed_file("config/disk", b"", 0o660), devmajor=8, devminor=0)
elif case == "fifo":
    add_special("config/pipe", tarfile.FIFOTYPE, 0o644, listed_file("config/pipe", b"", 0o644))
elif case in ("setuid", "setgid"):
    add_special("bin/", tarfile.DIRTYPE, 0o755, {"path": "bin", "type": "dir", "mode": 0o755})
    add_file("bin/tool", tool, 0o4755 if case == "setuid" else 0o2755, 0o755)
elif case == "hardlink":
    add_special("config/hard", tarfile.LNKTYPE, 0o644, listed_file("config/hard", app_conf, 0o644),
                linkname="config/app.conf")
elif case == "through-symlink":
    add_special("cfg", tarfile.SYMTYPE, 0o777, {"path": "cfg", "type": "symlink", "target": "config"}, linkname="config")
    add_file("cfg/evil.conf", b"x\n", 0o644, 0o644)
else:
    sys.exit("unknown case " + case)

raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
    for ti, data in tar_entries:
        t.addfile(ti, io.BytesIO(data) if data is not None else None)
import gzip
with open(os.path.join(out, "app.tar.gz"), "wb") as f:
    f.write(gzip.compress(raw.getvalue(), mtime=0))
with open(os.path.join(out, "release.json"), "w") as f:
    json.dump(m, f, indent=2, sort_keys=True)
# The archive must hold the entry exactly as named: tarfile must not have cleaned it up.
with tarfile.open(os.path.join(out, "app.tar.gz")) as t:
    names = [i.name for i in t.getmembers()]
    assert tar_entries[-1][0].name in names, names
EOF
}
resign_case() { # resign_case DIR: the crafted files become the signed targets of 1.0.0
  resign "$T/repo" "$T/keys" --set "$REL/app.tar.gz" "$1/app.tar.gz" --set "$REL/release.json" "$1/release.json" \
    >/dev/null || fail "resign.py failed for $1"
}
releases() { (cd "$APP/releases" && ls -A | LC_ALL=C sort | tr '\n' ' '); }

# Control 1: the replaced target without re-signing is refused by the signed hash (so resign.py is what matters).
craft benign "$T/case-benign"
cp -r "$T/repo" "$T/repo-unsigned"
cp "$T/case-benign/app.tar.gz" "$T"/repo-unsigned/targets/$REL/*.app.tar.gz
run "$AIRLOCK" verify "$T/repo-unsigned" --trusted-root "$ROOT"
assert_eq "$rc" 3 "verify of a replaced but not re-signed target ($out)"
assert_contains "$out" "target demo/1.0.0/x86_64/app.tar.gz is longer than the"
assert_contains "$out" "bytes the signed targets metadata lists; refusing it"

# Control 2: a benign re-signed change stages, so the refusals below come from the entry checks.
resign_case "$T/case-benign"
run "$AIRLOCK" verify "$T/repo" --trusted-root "$ROOT"
assert_eq "$rc" 0 "verify of the re-signed benign repository ($out)"
run "$AIRLOCK" stage "$T/repo" "${C[@]}"
assert_eq "$rc" 0 "stage of the re-signed benign release ($out)"
assert_contains "$out" "staged demo 1.0.0 (full)"
assert_eq "$(cat "$APP/releases/1.0.0/config/extra.conf")" "extra=1" "the re-signed extra file"
assert_eq "$(stat -c %a "$APP/releases/1.0.0/config/extra.conf")" 640 "mode of the extra file"
assert_eq "$(stat -c %a "$APP/releases/1.0.0/bin/tool")" 755 "mode of the new tool"
cmp "$T/src/config/app.conf" "$APP/releases/1.0.0/config/app.conf" || fail "config/app.conf differs"
assert_eq "$(readlink "$APP/current")" "releases/0" "current after staging"
# The operator removes the staged tree (it is not current), so each case below starts from releases/0 alone.
rm -rf "$APP/releases/1.0.0"
assert_eq "$(releases)" "0 " "releases/ before the unsafe cases"

# The policy of release.json itself (site::check_tree_policy) is applied before anything is fetched.
POLICY="refused (a release tree grants no privileges and reaches nothing outside itself). Nothing was changed."
# CASE|MESSAGE (the whole refusal after "airlock: error: ", naming the entry)|HOW (bundle or dir). The refusal of
# an entry written through a symlink comes from the writer, not the entry check, and does not name the archive.
cases=(
  "dotdot|app tree archive of demo 1.0.0: entry 'config/../../escaped-dotdot' has a '..' component; refused|bundle"
  "dotdot-top|app tree archive of demo 1.0.0: entry '../escaped-top' has a '..' component; refused|dir"
  "absolute|app tree archive of demo 1.0.0: entry '$ABS' is an absolute path; refused|bundle"
  "symlink-out|release.json of demo 1.0.0: entry 'config/link' is a symlink to '../../outside', which leaves the tree when resolved through the tree's links; $POLICY|dir"
  "symlink-abs|release.json of demo 1.0.0: entry 'config/passwd' is a symlink to the absolute path '/etc/passwd'; $POLICY|bundle"
  "chardev|app tree archive of demo 1.0.0: entry 'config/null' is a character device; refused|dir"
  "blockdev|app tree archive of demo 1.0.0: entry 'config/disk' is a block device; refused|bundle"
  "fifo|app tree archive of demo 1.0.0: entry 'config/pipe' is a FIFO; refused|dir"
  "setuid|app tree archive of demo 1.0.0: entry 'bin/tool' has setuid/setgid bits (mode 04755) that release.json does not declare (mode 0755); refused|bundle"
  "setgid|app tree archive of demo 1.0.0: entry 'bin/tool' has setuid/setgid bits (mode 02755) that release.json does not declare (mode 0755); refused|dir"
  "hardlink|app tree archive of demo 1.0.0: entry 'config/hard' is a hard link (to 'config/app.conf'); release trees may not contain hard links; refused|bundle"
  "through-symlink|entry 'cfg/evil.conf' goes through the symlink 'cfg'; refused|dir"
  "setuid-declared|release.json of demo 1.0.0: entry 'bin/tool' is setuid or setgid (mode 04755); $POLICY|bundle"
  "world-writable|release.json of demo 1.0.0: entry 'config/extra.conf' is writable by others (mode 0666); $POLICY|dir"
  "link-through-link|release.json of demo 1.0.0: entry 'escape' is a symlink to 'config/up/../../outside', which leaves the tree when resolved through the tree's links; $POLICY|bundle"
)
n=0
for c in "${cases[@]}"; do
  IFS='|' read -r name msg how <<<"$c"
  craft "$name" "$T/case-$name"
  resign_case "$T/case-$name"
  run "$AIRLOCK" verify "$T/repo" --trusted-root "$ROOT"
  assert_eq "$rc" 0 "$name: the re-signed repository verifies ($out)"
  src=$T/repo
  if [ "$how" = bundle ]; then
    src=$T/$name.airlock
    "$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.0.0 --arch x86_64 --out "$src" >/dev/null \
      || fail "$name: bundle export"
  fi
  run "$AIRLOCK" stage "$src" "${C[@]}"
  assert_eq "$rc" 4 "$name: exit code of stage from the $how ($out)"
  assert_contains "$out" "airlock: error: $msg" "$name: message"
  assert_eq "$(releases)" "0 " "$name: releases/ after the refusal"
  assert_eq "$(readlink "$APP/current")" "releases/0" "$name: current"
  assert_eq "$(fingerprint)" "$site_before" "$name: data/, site/ and current"
  for escaped in "$APP/escaped-dotdot" "$APP/releases/escaped-top" "$APP/escaped-top" "$ABS" "$APP/outside"; do
    [ ! -e "$escaped" ] && [ ! -L "$escaped" ] || fail "$name: $escaped was written"
  done
  n=$((n + 1))
done
echo "$n unsafe releases refused" >&2

# The site still works: the state database opens, and the only stage recorded as ok is the benign one.
run "$AIRLOCK" status --json "${C[@]}"
assert_eq "$rc" 0 "status ($out)"
assert_contains "$out" '"version":"0"' "status"
run "$AIRLOCK" history --json "${C[@]}"
assert_eq "$rc" 0 "history ($out)"
stages=$(python3 -c 'import json,sys; print(" ".join(e["to"]+":"+e["outcome"] for e in json.load(sys.stdin) if e["action"]=="stage" and e["outcome"]=="ok"))' <<<"$out")
assert_eq "$stages" "1.0.0:ok" "successful stages in history"
# Known gap, reported rather than asserted: each refused stage leaves its verified release.json and payload in
# state/downloads (stage removes them only after success).
left=$(ls -A "$T/state/downloads" | wc -l)
[ "$left" = 0 ] || echo "NOTE: $left verified files of refused stages left in state/downloads" >&2
echo ok
