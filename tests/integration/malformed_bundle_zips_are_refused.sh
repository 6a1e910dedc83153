#!/usr/bin/env bash
# Proves that zip-level attacks on a bundle (path escapes, absolute and backslash names, duplicates, truncation, non-zips, compressed, directory and foreign entries) are refused with exit 4, and an unlisted target with exit 3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/repo" "$T/keys"
root=$T/repo/metadata/1.root.json
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --out "$T/good.airlock" >/dev/null
echo evil > "$T/evil"

# Control: the python rewrite of the good bundle verifies, so each refusal below is caused by its one change.
zipedit "$T/good.airlock" "$T/control.airlock"
run "$AIRLOCK" verify "$T/control.airlock" --trusted-root "$root"
assert_eq "$rc" 0 "verify of the rewritten good bundle ($out)"

refused() { # CODE FILE SUBSTRING...: both verifiers exit CODE naming each substring, and never say "verified"
  local code=$1 f=$2 tool s; shift 2
  for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
    run "$tool" verify "$f" --trusted-root "$root"
    assert_eq "$rc" "$code" "$(basename "$tool") verify $(basename "$f"): exit code ($out)"
    for s in "$@"; do assert_contains "$out" "$s" "$(basename "$tool") verify $(basename "$f")"; done
    assert_not_contains "$out" ": verified" "$(basename "$tool") verify $(basename "$f")"
  done
}

zipedit "$T/good.airlock" "$T/dotdot.airlock" --add '../evil' "$T/evil"
refused 4 "$T/dotdot.airlock" "bundle $T/dotdot.airlock is not a valid bundle: entry \"../evil\" has a \"..\" path component"
zipedit "$T/good.airlock" "$T/dotdot2.airlock" --add 'targets/../../evil' "$T/evil"
refused 4 "$T/dotdot2.airlock" "entry \"targets/../../evil\" has a \"..\" path component (a path escaping the bundle)"

zipedit "$T/good.airlock" "$T/absolute.airlock" --add '/etc/x' "$T/evil"
refused 4 "$T/absolute.airlock" "entry \"/etc/x\" has an absolute name (starts with '/')"

zipedit "$T/good.airlock" "$T/backslash.airlock" --add 'targets\..\evil' "$T/evil"
refused 4 "$T/backslash.airlock" 'entry "targets\x5c..\x5cevil" has a backslash in its name'

# A second metadata/timestamp.json (say, an attacker's) next to the real one.
zipedit "$T/good.airlock" "$T/duplicate.airlock" --add 'metadata/timestamp.json' "$T/repo/metadata/timestamp.json"
refused 4 "$T/duplicate.airlock" 'entry "metadata/timestamp.json" appears twice (duplicate name)'

size=$(stat -c %s "$T/good.airlock")
head -c $(( size / 2 )) "$T/good.airlock" > "$T/truncated.airlock"
refused 4 "$T/truncated.airlock" "bundle $T/truncated.airlock is not a valid bundle: no end of central directory record"
# Cut only the last byte of the end record: still no valid end record.
head -c $(( size - 1 )) "$T/good.airlock" > "$T/short1.airlock"
refused 4 "$T/short1.airlock" "no end of central directory record (it is not a zip file, or it is truncated)"

python3 -c 'import random,sys; r=random.Random(7); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(65536)))' > "$T/random.airlock"
refused 4 "$T/random.airlock" "no end of central directory record (it is not a zip file, or it is truncated)"
head -c 10 "$T/random.airlock" > "$T/tiny.airlock"
refused 4 "$T/tiny.airlock" "the file is 10 bytes, too short for a zip file"

# A payload stored deflated: refused before any of it is read.
zipedit "$T/good.airlock" "$T/deflated.airlock" --deflate 'targets/*.release.json'
refused 4 "$T/deflated.airlock" "release.json\" is compressed (method 8); bundle entries must be stored uncompressed"

# A directory entry, and a file outside metadata/ and targets/.
zipedit "$T/good.airlock" "$T/direntry.airlock" --add 'targets/dir/' /dev/null
refused 4 "$T/direntry.airlock" 'entry "targets/dir/" is a directory entry (bundles hold files only)'
zipedit "$T/good.airlock" "$T/foreign.airlock" --add 'README' "$T/evil"
refused 4 "$T/foreign.airlock" "unexpected entry 'README' (a bundle holds only metadata/ and targets/)"

# A well-formed extra file under targets/ that no signed metadata lists: a verification failure.
zipedit "$T/good.airlock" "$T/extra.airlock" --add 'targets/extra.bin' "$T/evil"
refused 3 "$T/extra.airlock" "bundle $T/extra.airlock: holds \"targets/extra.bin\", which no signed target lists; refusing the bundle"
echo "ok: zip attacks are refused with exit 4, an unlisted target with exit 3"
