#!/usr/bin/env bash
# Proves that `airlock verify` without --trusted-root starts from the site's trusted state and says so (issue 14
# item 8): a bundle whose metadata is older than what the site has already seen is refused there as a rollback
# (exit 3), though it verifies from the repository's first root; a clock set back below the site's last
# verification does not revive metadata expired by then; verify writes nothing into the state; and without a
# site or --trusted-root it is a usage error (exit 2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/repo" "$T/keys"
root=$T/repo/metadata/1.root.json
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --out "$T/old.airlock" >/dev/null
"$AIRLOCK_BUNDLE" repo refresh "$T/repo" --key "$T/keys/timestamp.pem" >/dev/null
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --out "$T/new.airlock" >/dev/null
ts_new=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signed"]["version"])' "$T/repo/metadata/timestamp.json")

C=(--config "$T/airlock.conf")
run "$AIRLOCK" init --app demo --install-root "$T/opt" --state-dir "$T/state" --trusted-root "$root" "${C[@]}"
assert_eq "$rc" 0 "init ($out)"

# A site that trusts only its root: both bundles verify from it, and the output names the site's state.
run "$AIRLOCK" verify "$T/old.airlock" "${C[@]}"
assert_eq "$rc" 0 "verify of the older bundle from a site that has seen nothing newer ($out)"
assert_contains "$out" "$T/old.airlock: verified from the site's trusted state in $T/state/trust"
run "$AIRLOCK" verify "$T/new.airlock" --json "${C[@]}"
assert_eq "$rc" 0 "verify --json ($out)"
assert_eq "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["trusted_by"])' "$out")" \
  "the site's trusted state in $T/state/trust" "trusted_by"

# The site has now seen the newer metadata (as an import of new.airlock leaves it: timestamp, snapshot, targets).
cp "$T/repo/metadata/timestamp.json" "$T/state/trust/timestamp.json"
newest() { find "$T/repo/metadata" -name "[0-9]*.$1.json" -printf '%f\n' | sort -n | tail -1; }
cp "$T/repo/metadata/$(newest snapshot)" "$T/state/trust/snapshot.json"
cp "$T/repo/metadata/$(newest targets)" "$T/state/trust/targets.json"
before=$(cd "$T/state" && find . -type f -exec sha256sum {} + | LC_ALL=C sort)
run "$AIRLOCK" verify "$T/old.airlock" "${C[@]}"
assert_eq "$rc" 3 "verify of a bundle older than the site's metadata ($out)"
assert_contains "$out" "timestamp" "the refusal names the role"
assert_contains "$out" "$ts_new" "the refusal names the version the site trusts"
# From the first root alone the same bundle is fine: only the site's state knows it is a rollback.
run "$AIRLOCK" verify "$T/old.airlock" --trusted-root "$root" "${C[@]}"
assert_eq "$rc" 0 "verify of the older bundle from --trusted-root ($out)"
assert_contains "$out" "verified from trusted root $root"
run "$AIRLOCK" verify "$T/new.airlock" "${C[@]}"
assert_eq "$rc" 0 "verify of the bundle the site has seen ($out)"

# The site last verified 40 days from now: the 30-day timestamp is judged expired then, whatever the clock says.
echo $(( $(date +%s) + 40 * 86400 )) > "$T/state/trust/verified-at"
run "$AIRLOCK" verify "$T/new.airlock" "${C[@]}"
assert_eq "$rc" 3 "verify below the site's clock floor ($out)"
assert_contains "$out" "expired"
rm "$T/state/trust/verified-at"
assert_eq "$(cd "$T/state" && find . -type f -exec sha256sum {} + | LC_ALL=C sort)" "$before" "the state after verify (nothing written)"

# No site and no --trusted-root: a usage error that says what to give.
run "$AIRLOCK" verify "$T/new.airlock" --config "$T/none.conf"
assert_eq "$rc" 2 "verify with a configuration that does not exist ($out)"
assert_contains "$out" "verify needs --trusted-root ROOT.json on a host without a site (there is no $T/none.conf)"
printf '[app]\nname = demo\ninstall_root = %s\n[state]\ndir = %s\n' "$T/opt" "$T/empty-state" > "$T/bare.conf"
run "$AIRLOCK" verify "$T/new.airlock" --config "$T/bare.conf"
assert_eq "$rc" 2 "verify on a site without trusted state ($out)"
assert_contains "$out" "--trusted-root ROOT.json"
echo "ok: verify starts from the site's trusted state, refuses what the site has outgrown, and says which it used"
