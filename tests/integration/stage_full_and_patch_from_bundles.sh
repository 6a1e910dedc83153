#!/usr/bin/env bash
# Proves `airlock stage` verifies a bundle against the site's trusted metadata and stages a full release and then a
# patch (chosen because current is its base), each verified file by file against release.json; that the trusted
# metadata persists (an older bundle is then refused as a rollback); and that staging never touches data/ or site/.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/repo" "$T/keys"
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.0.0 --arch x86_64 --out "$T/v1.airlock" >/dev/null
# A newer timestamp for the patch bundle, so the 1.0.0 bundle is an older repository state afterwards.
"$AIRLOCK_BUNDLE" repo refresh "$T/repo" $(online_keys "$T/keys") >/dev/null
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --from 1.0.0 --patch-only --out "$T/p.airlock" >/dev/null
C=(--config "$T/airlock.conf")
"$AIRLOCK" init --app demo --install-root "$T/opt" --state-dir "$T/state" --trusted-root "$T/repo/metadata/1.root.json" \
  "${C[@]}" >/dev/null
echo "keep me" > "$T/opt/demo/data/file"
echo "SECRET=1" > "$T/opt/demo/site/.env"

run "$AIRLOCK" stage "$T/v1.airlock" "${C[@]}"
assert_eq "$rc" 0 "stage full ($out)"
assert_contains "$out" "staged demo 1.0.0 (full)"
cmp "$T/src-1.0.0/config/app.conf" "$T/opt/demo/releases/1.0.0/config/app.conf" 2>/dev/null \
  || grep -qx 'release=1.0.0' "$T/opt/demo/releases/1.0.0/config/app.conf" || fail "staged 1.0.0 tree differs"
[ -f "$T/opt/demo/releases/1.0.0/config/old.conf" ] || fail "1.0.0 lacks config/old.conf"
[ ! -e "$T/opt/demo/releases/1.0.0.partial" ] || fail "a .partial was left"

# Without current at 1.0.0 the patch does not apply, and the bundle holds no full 1.1.0.
run "$AIRLOCK" stage "$T/p.airlock" "${C[@]}"
assert_eq "$rc" 6 "stage of a patch without its base current ($out)"
assert_contains "$out" "holds no release of demo for x86_64"
ln -sfn releases/1.0.0 "$T/opt/demo/current"
run "$AIRLOCK" stage "$T/p.airlock" "${C[@]}"
assert_eq "$rc" 0 "stage patch ($out)"
assert_contains "$out" "staged demo 1.1.0 (patch from 1.0.0)"
grep -qx 'release=1.1.0' "$T/opt/demo/releases/1.1.0/config/app.conf" || fail "patched app.conf"
[ -f "$T/opt/demo/releases/1.1.0/config/new.conf" ] || fail "patch did not add config/new.conf"
[ ! -e "$T/opt/demo/releases/1.1.0/config/old.conf" ] || fail "patch did not delete config/old.conf"
grep -qx 'release=1.0.0' "$T/opt/demo/releases/1.0.0/config/app.conf" || fail "the base release was modified"
assert_eq "$(cat "$T/opt/demo/data/file")" "keep me" "data/ after staging"
assert_eq "$(cat "$T/opt/demo/site/.env")" "SECRET=1" "site/ after staging"

# The site now trusts the newer timestamp: the 1.0.0 bundle's older one is a rollback.
run "$AIRLOCK" stage "$T/v1.airlock" "${C[@]}"
assert_eq "$rc" 3 "stage of a rolled-back bundle ($out)"
assert_contains "$out" "refusing a rollback of the timestamp role"
run "$AIRLOCK" history --json "${C[@]}"
assert_contains "$out" '"action":"stage"'
echo ok
