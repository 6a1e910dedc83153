#!/usr/bin/env bash
# Proves that `bundle export --max-part-size` writes FILE.airlock.part-001, -002, ... whose `cat` is the bundle
# exported without the option, byte for byte; that `airlock verify`, `airlock-bundle verify|inspect`, `airlock
# stage` and `airlock import --scan` take the first part and read the set as one bundle (scan lists a set once);
# and that a set with a missing, short or swapped part is refused with a message naming the part (or the set) and
# saying to copy the whole set again (exit 4, or 3 when only the signed hash can tell), the site unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_keys "$T/keys"
"$AIRLOCK_BUNDLE" repo init "$T/repo" --app demo --root-key "$T/keys/root.pem" --targets-key "$T/keys/targets.pem" \
  --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem" >/dev/null
make_src "$T/src" 1.0.0
head -c 300000 /dev/urandom > "$T/src/config/blob.bin" # incompressible: the app archive spans several parts
# shellcheck disable=SC2046
"$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") $(online_keys "$T/keys") >/dev/null
root=$T/repo/metadata/1.root.json
EXPORT=("$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.0.0 --arch x86_64)

# --- The writer: parts of exactly 64 KiB but the last, joined by cat into the single-file bundle.
"${EXPORT[@]}" --out "$T/whole.airlock" >/dev/null
mkdir "$T/usb"
run "${EXPORT[@]}" --out "$T/usb/demo.airlock" --max-part-size 64K
assert_eq "$rc" 0 "export --max-part-size 64K ($out)"
n=$(( ($(stat -c %s "$T/whole.airlock") + 65535) / 65536 ))
[ "$n" -ge 5 ] || fail "expected at least 5 parts, the bundle is $(stat -c %s "$T/whole.airlock") bytes"
last=$(printf '%03d' "$n")
assert_contains "$out" "wrote $T/usb/demo.airlock.part-001 to part-$last ($n parts of at most 65536 bytes) with 4 targets"
[ ! -e "$T/usb/demo.airlock" ] || fail "export --max-part-size also wrote the single file"
[ ! -e "$T/usb/demo.airlock.part-$(printf '%03d' $((n + 1)))" ] || fail "one part too many"
for i in $(seq 1 $((n - 1))); do
  assert_eq "$(stat -c %s "$T/usb/demo.airlock.part-$(printf '%03d' "$i")")" 65536 "size of part $i"
done
cat "$T/usb/demo.airlock".part-* > "$T/joined.airlock"
cmp "$T/joined.airlock" "$T/whole.airlock" || fail "cat of the parts differs from the bundle exported in one file"
ls "$T/usb" | grep -q 'tmp-' && fail "export left temp files: $(ls "$T/usb")"

# Sizes: too small is a usage error; 4G (the FAT32 spelling) means 4 GiB - 1 byte and still writes part-001.
run "${EXPORT[@]}" --out "$T/small.airlock" --max-part-size 1K
assert_eq "$rc" 2 "export --max-part-size 1K ($out)"
assert_contains "$out" "--max-part-size takes a size such as 4G, 4096M, 3900MiB or 1000000 (bytes), at least 65536 bytes, not '1K'"
run "${EXPORT[@]}" --out "$T/fat.airlock" --max-part-size 4G
assert_eq "$rc" 0 "export --max-part-size 4G ($out)"
assert_contains "$out" "wrote $T/fat.airlock.part-001 to part-001 (1 part of at most 4294967295 bytes)"
cmp "$T/fat.airlock.part-001" "$T/whole.airlock" || fail "a one-part set differs from the bundle"
[ ! -e "$T/fat.airlock" ] || fail "4G wrote the single file too"

# --- The reader: both tools verify and inspect the set given its first part.
for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  run "$tool" verify "$T/usb/demo.airlock.part-001" --trusted-root "$root"
  assert_eq "$rc" 0 "$(basename "$tool") verify of the part set ($out)"
  assert_contains "$out" "$T/usb/demo.airlock.part-001: verified"
  assert_contains "$out" "4 targets,"
done
run "$AIRLOCK_BUNDLE" inspect "$T/usb/demo.airlock.part-001"
assert_eq "$rc" 0 "inspect of the part set ($out)"
assert_contains "$out" "demo/1.0.0/x86_64/app.tar.gz"

# --- A site, and bad sets: each refused before anything changes.
C=(--config "$T/airlock.conf")
"$AIRLOCK" init --app demo --install-root "$T/opt" --state-dir "$T/state" --trusted-root "$root" "${C[@]}" >/dev/null
site_unchanged() {
  [ -z "$(ls -A "$T/opt/demo/releases")" ] || fail "$1: releases/ is not empty: $(ls -A "$T/opt/demo/releases")"
  [ ! -e "$T/opt/demo/current" ] || fail "$1: current exists"
  run "$AIRLOCK" status --json "${C[@]}"
  assert_eq "$(python3 -c 'import json,sys; d = json.loads(sys.argv[1]); print(d["version"], d["release_dir"])' "$out")" "None None" "$1: status"
  run "$AIRLOCK" history --json "${C[@]}" # a refused stage is audited as failed, nothing else
  python3 -c 'import json,sys; assert all(e["outcome"] == "failed" for e in json.loads(sys.argv[1]) if e["action"] == "stage")' \
    "$out" || fail "$1: history has a stage that did not fail: $out"
}
bad_set() { rm -rf "$T/bad"; mkdir "$T/bad"; cp "$T/usb/"demo.airlock.part-* "$T/bad/"; }
# refused CODE TEXT...: verify and stage of $T/bad's set exit CODE and say each TEXT; the site is unchanged.
refused() {
  local code=$1 text; shift
  for cmd in "verify --trusted-root $root" "stage ${C[*]}"; do
    # shellcheck disable=SC2086
    run "$AIRLOCK" ${cmd%% *} "$T/bad/demo.airlock.part-001" ${cmd#* }
    assert_eq "$rc" "$code" "${cmd%% *} of a bad set ($out)"
    for text in "$@"; do assert_contains "$out" "$text" "${cmd%% *} of a bad set"; done
  done
  site_unchanged "after $*"
}

bad_set; rm "$T/bad/demo.airlock.part-003"
refused 4 "$T/bad/demo.airlock.part-003 is missing ($((n - 1)) of the parts 001 to $last are there)" \
  "nothing was changed. Copy the whole set again"

bad_set; rm "$T/bad/demo.airlock.part-$last"
refused 4 "$T/bad/demo.airlock.part-$last or later parts are missing" "Copy the whole set again"

bad_set; truncate -s 60000 "$T/bad/demo.airlock.part-002"
refused 4 "$T/bad/demo.airlock.part-002 is 60000 bytes, but every part except the last must be 65536 bytes" \
  "Copy the whole set again"

bad_set; head -c 100 /dev/urandom > "$T/bad/demo.airlock.part-$(printf '%03d' $((n + 1)))"
refused 4 "$T/bad/demo.airlock.part-$last is" "or the parts after it are from another export"

# Parts 002 and 003 swapped hold only app archive bytes: the zip structure is intact, the signed SHA-256 is not.
bad_set; mv "$T/bad/demo.airlock.part-002" "$T/bad/x"; mv "$T/bad/demo.airlock.part-003" "$T/bad/demo.airlock.part-002"
mv "$T/bad/x" "$T/bad/demo.airlock.part-003"
refused 3 "target demo/1.0.0/x86_64/app.tar.gz does not match its signed SHA-256" \
  "This bundle is a set of $n parts ($T/bad/demo.airlock.part-001 to part-$last): a part may be missing, short, damaged or in the wrong place (renamed); copy the whole set again."
[ -z "$(ls -A "$T/state/downloads" 2>/dev/null)" ] || fail "a refused target was left in downloads: $(ls -A "$T/state/downloads")"

# Swapping the first two parts breaks the zip structure: refused as a bad bundle, with the set's hint.
bad_set; mv "$T/bad/demo.airlock.part-001" "$T/bad/x"; mv "$T/bad/demo.airlock.part-002" "$T/bad/demo.airlock.part-001"
mv "$T/bad/x" "$T/bad/demo.airlock.part-002"
refused 4 "is not a valid bundle" "This bundle is a set of $n parts"

# Giving a later part names the first one (a usage error).
run "$AIRLOCK" verify "$T/usb/demo.airlock.part-002" --trusted-root "$root"
assert_eq "$rc" 2 "verify of part 002 ($out)"
assert_contains "$out" "$T/usb/demo.airlock.part-002 is part 2 of a part set: give its first part, $T/usb/demo.airlock.part-001"

# --- The good set stages, every file verified; the staged blob is the source's.
run "$AIRLOCK" stage "$T/usb/demo.airlock.part-001" "${C[@]}"
assert_eq "$rc" 0 "stage of the part set ($out)"
assert_contains "$out" "staged demo 1.0.0 (full)"
cmp "$T/src/config/blob.bin" "$T/opt/demo/releases/1.0.0/config/blob.bin" || fail "the staged blob differs"

# --- import --scan lists the set once, by its first part; parts without their first part are skipped once.
ln -sfn releases/1.0.0 "$T/opt/demo/current"
cp "$T/whole.airlock" "$T/usb/other.airlock"
run "$AIRLOCK" import --scan "$T/usb" "${C[@]}"
assert_eq "$rc" 0 "import --scan ($out)"
assert_contains "$out" "no bundle in $T/usb updates demo"
assert_contains "$out" "skipped $T/usb/demo.airlock.part-001: 1.0.0 is not newer than the installed 1.0.0"
assert_not_contains "$out" "part-002" "import --scan output"
mkdir "$T/half"
cp "$T/usb/demo.airlock".part-00[2-9] "$T/half/"
run "$AIRLOCK" import --scan "$T/half" "${C[@]}"
assert_eq "$rc" 0 "import --scan of a set without its first part ($out)"
assert_contains "$out" "skipped $T/half/demo.airlock.part-002: a part of a set whose first part, $T/half/demo.airlock.part-001, is not there (copy the whole set)"
assert_not_contains "$out" "part-003" "import --scan of a set without its first part"
echo "ok: a $n-part set joins to the bundle, verifies, stages and scans as one; bad sets are refused"
