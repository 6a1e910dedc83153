#!/usr/bin/env bash
# Proves that one changed byte of a target payload inside a bundle is refused with exit 3 on its signed SHA-256 (zip rebuilt with a right CRC), and that bytes patched in place are refused too (CRC-32 or SHA-256).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/repo" "$T/keys"
root=$T/repo/metadata/1.root.json
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --out "$T/good.airlock" >/dev/null
payload='targets/demo/1.1.0/x86_64/*.app.tar.gz'

# Control: the same rewrite without a change verifies, so the refusals below are about the changed byte.
zipedit "$T/good.airlock" "$T/same.airlock"
run "$AIRLOCK" verify "$T/same.airlock" --trusted-root "$root"
assert_eq "$rc" 0 "verify of the unchanged rewrite ($out)"

# Rebuilt zip, right CRC, one payload byte flipped: only the signed SHA-256 can tell.
zipedit "$T/good.airlock" "$T/bad.airlock" --flip "$payload"
if cmp -s "$T/good.airlock" "$T/bad.airlock"; then fail "zipedit --flip changed nothing"; fi
for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  run "$tool" verify "$T/bad.airlock" --trusted-root "$root"
  assert_eq "$rc" 3 "$(basename "$tool") verify of a tampered payload: exit code ($out)"
  assert_contains "$out" "target demo/1.1.0/x86_64/app.tar.gz does not match its signed SHA-256" "$(basename "$tool") verify"
  assert_not_contains "$out" ": verified" "$(basename "$tool") verify"
  run "$tool" verify "$T/bad.airlock" --trusted-root "$root" --json
  assert_eq "$rc" 3 "$(basename "$tool") verify --json of a tampered payload: exit code ($out)"
  assert_not_contains "$out" '"verified":true' "$(basename "$tool") verify --json"
done

# The same for the release.json target.
zipedit "$T/good.airlock" "$T/bad-release.airlock" --sed 'targets/demo/1.1.0/x86_64/*.release.json' '"1.1.0"' '"1.1.1"'
run "$AIRLOCK" verify "$T/bad-release.airlock" --trusted-root "$root"
assert_eq "$rc" 3 "verify of a tampered release.json: exit code ($out)"
assert_contains "$out" "target demo/1.1.0/x86_64/release.json does not match its signed SHA-256"

# Patched in place: the zip's CRC-32 no longer matches either. Target bytes are checked against the signed
# SHA-256, so the zip reader may skip the CRC (exit 3, as above) or check it first (exit 4, malformed input);
# either refusal is right, a pass is not.
zipedit "$T/good.airlock" "$T/crc.airlock" --flip-in-place "$payload"
assert_eq "$(stat -c %s "$T/crc.airlock")" "$(stat -c %s "$T/good.airlock")" "size of the in-place patched bundle"
for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  run "$tool" verify "$T/crc.airlock" --trusted-root "$root"
  case "$rc" in
    3) assert_contains "$out" "target demo/1.1.0/x86_64/app.tar.gz does not match its signed SHA-256" "$(basename "$tool") verify crc.airlock" ;;
    4) assert_contains "$out" "app.tar.gz\" is corrupt: its data has CRC-32" "$(basename "$tool") verify crc.airlock" ;;
    *) fail "$(basename "$tool") verify of an in-place patched payload: exit code $rc, expected 3 or 4 ($out)" ;;
  esac
done
# Metadata is always read with its CRC-32 checked: a byte flipped in place there is malformed input (exit 4).
zipedit "$T/good.airlock" "$T/crc-meta.airlock" --flip-in-place 'metadata/4.targets.json'
run "$AIRLOCK" verify "$T/crc-meta.airlock" --trusted-root "$root"
assert_eq "$rc" 4 "verify of in-place patched metadata: exit code ($out)"
assert_contains "$out" "entry \"metadata/4.targets.json\" is corrupt: its data has CRC-32"
echo "ok: a changed payload byte is refused on its signed SHA-256 (exit 3), a changed metadata byte on its CRC-32 (exit 4)"
