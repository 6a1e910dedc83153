#!/usr/bin/env bash
# Proves `airlock-bundle inspect` describes a bundle and a repository (versions, keys, targets, which files are
# present) in text and JSON, without a trusted root, and refuses a file that is not a bundle.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/repo" "$T/keys"
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --from 1.0.0 --patch-only --out "$T/p.airlock" >/dev/null

run "$AIRLOCK_BUNDLE" inspect "$T/p.airlock"
assert_eq "$rc" 0 "inspect bundle: exit code ($out)"
assert_contains "$out" "$T/p.airlock (bundle)"
assert_contains "$out" "root       v1"
assert_contains "$out" "threshold 1 of $(cut -c1-16 "$T/keys/root.keyid")"
# The patch is in the bundle (*), the full 1.1.0 app archive is not (--patch-only).
grep -Eq '^    \* +[0-9]+  demo/1.1.0/x86_64/patch-from-1.0.0/patch.tar.gz  patch 1.1.0 x86_64$' <<<"$out" \
  || fail "patch not marked present: $out"
grep -Eq '^      +[0-9]+  demo/1.1.0/x86_64/app.tar.gz  full 1.1.0 x86_64$' <<<"$out" \
  || fail "full app archive not marked absent: $out"

run "$AIRLOCK_BUNDLE" inspect "$T/repo" --json
assert_eq "$rc" 0 "inspect --json repository: exit code ($out)"
present=$(python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["kind"], sum(1 for t in d["target_files"] if t["present"]), len(d["target_files"]), d["keys"]["root"]["threshold"])' <<<"$out")
assert_eq "$present" "repository 11 11 1" "kind, present targets, listed targets, root threshold"

head -c 5000 /dev/urandom > "$T/noise.airlock"
run "$AIRLOCK_BUNDLE" inspect "$T/noise.airlock"
assert_eq "$rc" 4 "inspect of random bytes: exit code ($out)"
assert_contains "$out" "is not a valid bundle"
echo ok
