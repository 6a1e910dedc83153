#!/usr/bin/env bash
# Proves that after `root rotate` replaces the root key, a new bundle carries metadata/2.root.json and verifies against the ORIGINAL 1.root.json by walking the root chain, and that a rotation without the old root key is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/repo" "$T/keys"
cp "$T/repo/metadata/1.root.json" "$T/trusted-1.root.json"
"$AIRLOCK_BUNDLE" key generate --out "$T/keys/new-root.pem" > "$T/keys/new-root.keyid" 2>/dev/null
old_id=$(cat "$T/keys/root.keyid") new_id=$(cat "$T/keys/new-root.keyid")
assert_eq "$("$AIRLOCK_BUNDLE" key public "$T/keys/root.pem" --keyid)" "$old_id" "key public --keyid of the old root key"
online="--key $T/keys/targets.pem --key $T/keys/snapshot.pem --key $T/keys/timestamp.pem"

# Refused: the new root must be signed by the current root keys too, and nothing is written.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" root rotate "$T/repo" --add-root-key "$T/keys/new-root.pem" --remove-root-key "${old_id:0:12}" \
  --key "$T/keys/new-root.pem" $online
assert_eq "$rc" 2 "root rotate without the old root key: exit code ($out)"
assert_contains "$out" "the root role of root v1 needs 1 of these keys and 0 of them were given"
[ ! -e "$T/repo/metadata/2.root.json" ] || fail "a refused rotation wrote 2.root.json"
# Refused: removing a key that is not a root key.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" root rotate "$T/repo" --remove-root-key 0000deadbeef --key "$T/keys/root.pem" $online
assert_eq "$rc" 2 "root rotate --remove-root-key of an unknown key: exit code ($out)"
assert_contains "$out" "--remove-root-key '0000deadbeef' matches 0 root keys"
# Refused: a prefix too short to name one key safely.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" root rotate "$T/repo" --remove-root-key "" --key "$T/keys/root.pem" $online
assert_eq "$rc" 2 "root rotate --remove-root-key '': exit code ($out)"
[ ! -e "$T/repo/metadata/2.root.json" ] || fail "a refused rotation wrote 2.root.json"
[ ! -e "$T/repo/metadata/2.root.json" ] || fail "a refused rotation wrote 2.root.json"

# The rotation: old root key out, new one in, signed by both.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" root rotate "$T/repo" --add-root-key "$T/keys/new-root.pem" --remove-root-key "${old_id:0:12}" \
  --key "$T/keys/root.pem" --key "$T/keys/new-root.pem" $online
assert_eq "$rc" 0 "root rotate: exit code ($out)"
assert_contains "$out" "wrote root v2 (1 root keys, threshold 1)"
assert_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(d["signed"]["roles"]["root"]["keyids"]), d["signed"]["version"], " ".join(sorted(s["keyid"] for s in d["signatures"])))' "$T/repo/metadata/2.root.json")" \
  "$new_id 2 $(printf '%s\n' "$old_id" "$new_id" | sort | tr '\n' ' ' | sed 's/ $//')" "2.root.json: root keys, version, signers"
cmp -s "$T/repo/metadata/1.root.json" "$T/trusted-1.root.json" || fail "root rotate changed 1.root.json"

"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --from 1.0.0 --out "$T/b.airlock" >/dev/null
listing=$(unzip -l "$T/b.airlock")
assert_contains "$listing" "metadata/1.root.json"
assert_contains "$listing" "metadata/2.root.json"
for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  run "$tool" verify "$T/b.airlock" --trusted-root "$T/trusted-1.root.json"
  assert_eq "$rc" 0 "$(basename "$tool") verify against the original root: exit code ($out)"
  assert_contains "$out" "$T/b.airlock: verified"
  assert_contains "$out" "root v2 (expires"
  assert_contains "$out" "7 targets,"  # with the layer delta patch add ships between the two releases
  run "$tool" verify "$T/b.airlock" --trusted-root "$T/trusted-1.root.json" --json
  assert_eq "$rc" 0 "$(basename "$tool") verify --json: exit code ($out)"
  assert_eq "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["verified"], d["root"]["version"])' "$out")" "True 2" "--json verified and root version"
  run "$tool" verify "$T/b.airlock" --trusted-root "$T/repo/metadata/2.root.json"
  assert_eq "$rc" 0 "$(basename "$tool") verify against the new root: exit code ($out)"
  run "$tool" verify "$T/repo" --trusted-root "$T/trusted-1.root.json"
  assert_eq "$rc" 0 "$(basename "$tool") verify of the repository against the original root: exit code ($out)"
  assert_contains "$out" "root v2"
done

# After the rotation the old root key can no longer sign a root: root v3 needs the new key.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" root rotate "$T/repo" --key "$T/keys/root.pem" $online
assert_eq "$rc" 2 "root rotate with only the retired root key: exit code ($out)"
assert_contains "$out" "the root role of root v2 needs 1 of these keys"
# A replayed root: 1.root.json served as 2.root.json is validly signed by the trusted key, yet refused.
zipedit "$T/b.airlock" "$T/swapped.airlock" --set 'metadata/2.root.json' "$T/repo/metadata/1.root.json"
run "$AIRLOCK" verify "$T/swapped.airlock" --trusted-root "$T/trusted-1.root.json"
assert_eq "$rc" 3 "verify with 1.root.json served as 2.root.json: exit code ($out)"
assert_contains "$out" "holds root version 1 where 2 was expected"

# Root v3 replaces the online timestamp and targets keys (signed by the new root key); the chain v1 -> v2 -> v3
# still verifies a new bundle, and the v2-era bundle, signed by the retired online keys, no longer verifies
# against root v3.
"$AIRLOCK_BUNDLE" key generate --out "$T/keys/timestamp2.pem" >/dev/null 2>&1
"$AIRLOCK_BUNDLE" key generate --out "$T/keys/targets2.pem" >/dev/null 2>&1
run "$AIRLOCK_BUNDLE" root rotate "$T/repo" --timestamp-key "$T/keys/timestamp2.pem" --targets-key "$T/keys/targets2.pem" \
  --key "$T/keys/new-root.pem" --key "$T/keys/timestamp2.pem" --key "$T/keys/targets2.pem" --key "$T/keys/snapshot.pem"
assert_eq "$rc" 0 "root rotate of the timestamp and targets keys: exit code ($out)"
assert_contains "$out" "wrote root v3"
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --out "$T/b3.airlock" >/dev/null
assert_contains "$(unzip -l "$T/b3.airlock")" "metadata/3.root.json"
for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  run "$tool" verify "$T/b3.airlock" --trusted-root "$T/trusted-1.root.json"
  assert_eq "$rc" 0 "$(basename "$tool") verify of the v3 bundle against the original root: exit code ($out)"
  assert_contains "$out" "root v3 (expires"
  run "$tool" verify "$T/b.airlock" --trusted-root "$T/repo/metadata/3.root.json"
  assert_eq "$rc" 3 "$(basename "$tool") verify of the v2-era bundle against root v3: exit code ($out)"
  assert_contains "$out" "required timestamp keys of root v3"
done
echo "ok: a root rotation keeps bundles verifiable from the first root"
