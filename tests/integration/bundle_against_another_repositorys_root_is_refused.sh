#!/usr/bin/env bash
# Proves that a bundle verified against the trusted root of another repository is refused with exit 3: by the root keys when the bundle carries a newer root, by the timestamp keys when it does not.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/a" "$T/keys-a"
make_repo "$T/b" "$T/keys-b"
cp "$T/a/metadata/1.root.json" "$T/a-root.json"
cp "$T/b/metadata/1.root.json" "$T/b-root.json"
"$AIRLOCK_BUNDLE" bundle export "$T/a" --version 1.1.0 --arch x86_64 --out "$T/a.airlock" >/dev/null
run "$AIRLOCK" verify "$T/a.airlock" --trusted-root "$T/a-root.json"
assert_eq "$rc" 0 "verify against its own root ($out)"

for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  # Only 1.root.json in the bundle: the chain stays at B's root, whose timestamp key did not sign A's timestamp.
  run "$tool" verify "$T/a.airlock" --trusted-root "$T/b-root.json"
  assert_eq "$rc" 3 "$(basename "$tool") verify against another root: exit code ($out)"
  assert_contains "$out" "timestamp.json in bundle $T/a.airlock: has valid signatures from 0 of the 1 required timestamp keys of root v1"
  assert_contains "$out" "signed by a wrong or unknown key"
  # The same for the repository directory.
  run "$tool" verify "$T/a" --trusted-root "$T/b-root.json"
  assert_eq "$rc" 3 "$(basename "$tool") verify of repository a against b's root: exit code ($out)"
  assert_contains "$out" "required timestamp keys of root v1"
done

# A rotates its root (same keys, root v2). A's 2.root.json now comes first, and B's root keys never signed it.
# shellcheck disable=SC2046
"$AIRLOCK_BUNDLE" root rotate "$T/a" --key "$T/keys-a/root.pem" $(online_keys "$T/keys-a") >/dev/null
"$AIRLOCK_BUNDLE" bundle export "$T/a" --version 1.1.0 --arch x86_64 --out "$T/a2.airlock" >/dev/null
run "$AIRLOCK" verify "$T/a2.airlock" --trusted-root "$T/a-root.json"
assert_eq "$rc" 0 "verify of the rotated bundle against its own v1 root ($out)"
for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  run "$tool" verify "$T/a2.airlock" --trusted-root "$T/b-root.json"
  assert_eq "$rc" 3 "$(basename "$tool") verify of the rotated bundle against another root: exit code ($out)"
  assert_contains "$out" "2.root.json in bundle $T/a2.airlock: has valid signatures from 0 of the 1 required root keys of root v1"
  assert_contains "$out" "(a new root must be signed by the keys of root v1)"
done

# A trusted root that is not a root at all is malformed input.
run "$AIRLOCK" verify "$T/a.airlock" --trusted-root "$T/a/metadata/timestamp.json"
assert_eq "$rc" 4 "verify with timestamp.json as the trusted root: exit code ($out)"
assert_contains "$out" "_type is 'timestamp' where 'root' metadata was expected"
echo "ok: another repository's root is refused (exit 3) with and without a root rotation in the bundle"
