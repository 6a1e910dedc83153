#!/usr/bin/env bash
# Proves that a bundle whose 30-day timestamp expired is refused as a possible freeze attack (exit 3), and that `repo refresh` plus a new export makes it verify again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
past=$(( $(date +%s) - 40 * 86400 ))
AIRLOCK_NOW=$past make_repo "$T/repo" "$T/keys"
root=$T/repo/metadata/1.root.json
# The pinned clock was used: the timestamp expired 10 days ago (30-day default), the others are still valid.
ts_expires=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signed"]["expires"])' "$T/repo/metadata/timestamp.json")
assert_eq "$ts_expires" "$(date -u -d "@$(( past + 30 * 86400 ))" +%Y-%m-%dT%H:%M:%SZ)" "timestamp expiry of the pinned-clock repository"
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --out "$T/old.airlock" >/dev/null

for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  for path in "$T/old.airlock" "$T/repo"; do
    run "$tool" verify "$path" --trusted-root "$root"
    assert_eq "$rc" 3 "$(basename "$tool") verify $path with an expired timestamp: exit code ($out)"
    assert_contains "$out" "timestamp metadata version 4 expired at $ts_expires" "$(basename "$tool") verify $path"
    assert_contains "$out" "freeze attack" "$(basename "$tool") verify $path"
    assert_contains "$out" "airlock-bundle repo refresh" "$(basename "$tool") verify $path"
  done
done
# inspect still describes it, with a warning.
run "$AIRLOCK_BUNDLE" inspect "$T/old.airlock"
assert_eq "$rc" 0 "inspect of the expired bundle: exit code ($out)"
assert_contains "$out" "WARNING: timestamp expired at $ts_expires"

# Refresh needs the timestamp key: without it, nothing changes.
run "$AIRLOCK_BUNDLE" repo refresh "$T/repo" --key "$T/keys/snapshot.pem"
assert_eq "$rc" 2 "repo refresh without the timestamp key: exit code ($out)"
assert_contains "$out" "the timestamp role of root v1 needs 1 of these keys and 0 of them were given"
run "$AIRLOCK_BUNDLE" verify "$T/repo" --trusted-root "$root"
assert_eq "$rc" 3 "verify after the refused refresh ($out)"

# Refresh with the real clock, then export again: it verifies, with timestamp v5.
run "$AIRLOCK_BUNDLE" repo refresh "$T/repo" --key "$T/keys/timestamp.pem"
assert_eq "$rc" 0 "repo refresh: exit code ($out)"
assert_contains "$out" "timestamp v5 expires "
# ... 30 days from the real clock, not from the pinned one.
left=$(python3 -c 'import calendar,json,sys,time; e=json.load(open(sys.argv[1]))["signed"]["expires"]; print(calendar.timegm(time.strptime(e, "%Y-%m-%dT%H:%M:%SZ")) - int(time.time()))' "$T/repo/metadata/timestamp.json")
[ "$left" -gt $(( 30 * 86400 - 300 )) ] && [ "$left" -le $(( 30 * 86400 )) ] || fail "the refreshed timestamp expires in $left s, not in 30 days"
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --out "$T/new.airlock" >/dev/null
for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  run "$tool" verify "$T/new.airlock" --trusted-root "$root"
  assert_eq "$rc" 0 "$(basename "$tool") verify after refresh: exit code ($out)"
  assert_contains "$out" "timestamp v5"
  assert_contains "$out" "4 targets,"
  run "$tool" verify "$T/repo" --trusted-root "$root"
  assert_eq "$rc" 0 "$(basename "$tool") verify of the refreshed repository: exit code ($out)"
done
# The bundle made before the refresh stays refused: refresh does not rescue copies already handed out.
run "$AIRLOCK" verify "$T/old.airlock" --trusted-root "$root"
assert_eq "$rc" 3 "verify of the pre-refresh bundle ($out)"
echo "ok: an expired timestamp is refused as a freeze attack until the repository is refreshed"
