#!/usr/bin/env bash
# Proves a fleet driven only by static files on nginx (issue 15 items 2, 3): 40 sites of one app, 30 following
# channel stable and 10 following beta, `airlock check` each against the repository nginx serves.
#  1. 1.0.0 (stable), 1.1.0 (stable, in a staged rollout to 10%), 1.2.0 (beta only): every beta site is offered
#     1.2.0 and never a stable-only release; each stable site is offered 1.1.0 exactly when its bucket (the
#     documented formula: SHA-256 of "airlock-rollout\n<site ID>\n<app>\n<version>", first 8 bytes mod 10000) is
#     below 1000, else 1.0.0, and says why it was passed over.
#  2. `rollout set --percent 50`: the sites offered 1.1.0 before still are, and exactly the buckets below 5000 are.
#  3. `rollout pause`: no stable site is offered 1.1.0; `rollout resume`: the 50% again.
#  4. `channel add 1.2.0 --channel stable` (a promotion): every site is offered 1.2.0.
#  5. A bundle imported by an operator ignores rollouts: `import --plan` of a bundle of 1.1.0 in a paused rollout
#     plans 1.1.0 at a stable site; a site on channel beta refuses that bundle (1.1.0 is not in beta), exit 8.
#  6. Malformed input: `rollout set --percent 101` or without --percent, `channel add --channel Bad!` and taking a
#     release out of its last channel are usage errors (exit 2); a version the repository lacks is exit 6.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
: "${AIRLOCK_TEST_WWW:?testenv is not started}" "${AIRLOCK_TEST_HTTPS:?}" "${AIRLOCK_TEST_CA:?}"
APP=fleet$$
make_keys "$T/keys"
K=$(online_keys "$T/keys")
"$AIRLOCK_BUNDLE" repo init "$T/repo" --app "$APP" --root-key "$T/keys/root.pem" --targets-key "$T/keys/targets.pem" \
  --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem" >/dev/null
add() { # VERSION [--channel C ...]
  local v=$1; shift
  APP=$APP make_src "$T/src/$v" "$v"
  # shellcheck disable=SC2086,SC2046
  "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src/$v" --arch "$(uname -m)" $(src_image "$T/src/$v") "$@" $K >/dev/null \
    || fail "release add $v failed"
}
add 1.0.0
add 1.1.0 --channel stable
add 1.2.0 --channel beta
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" rollout set "$T/repo" --version 1.1.0 --percent 10 $K
assert_eq "$rc" 0 "rollout set 10 ($out)"
assert_contains "$out" "$APP 1.1.0: in a staged rollout to 10% of sites"
WWW=$AIRLOCK_TEST_WWW/fleet-$$
defer rm -rf "$WWW"
publish() { rm -rf "$WWW.new"; cp -r "$T/repo" "$WWW.new"; chmod -R a+rX "$WWW.new"; rm -rf "$WWW"; mv "$WWW.new" "$WWW"; }
publish

N=40
for i in $(seq 1 $N); do
  s=$T/site$i channel=stable
  [ "$i" -le 30 ] || channel=beta
  mkdir -p "$s"
  cat > "$s/airlock.conf" <<CONF
[app]
name = $APP
install_root = $s/opt
channel = $channel
[state]
dir = $s/state
[repository]
urls = $AIRLOCK_TEST_HTTPS/fleet-$$
ca_file = $AIRLOCK_TEST_CA
retries = 1
CONF
  "$AIRLOCK" init --config "$s/airlock.conf" --trusted-root "$T/repo/metadata/1.root.json" >/dev/null || fail "init site $i"
  [ "$(wc -c < "$s/state/site-id")" = 33 ] || fail "site $i has no site ID"
done
[ "$(cat "$T"/site*/state/site-id | sort -u | wc -l)" = $N ] || fail "site IDs are not distinct"

bucket() { # SITE_DIR VERSION: the documented formula
  python3 -c 'import hashlib,sys; h=hashlib.sha256(("airlock-rollout\n%s\n%s\n%s" % (open(sys.argv[1]).read().strip(), sys.argv[2], sys.argv[3])).encode()).hexdigest(); print(int(h[:16],16) % 10000)' \
    "$1/state/site-id" "$APP" "$2"
}
offered() { # SITE_DIR: sets $got to the version `check --json` offers (and $out to its output)
  run "$AIRLOCK" check --json --config "$1/airlock.conf"
  [ "$rc" = 10 ] || fail "check at $1: exit $rc ($out)"
  got=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1].splitlines()[-1])["to"])' "$out")
}
expect_stable() { # PERCENT PAUSED FILE: checks every stable site; writes the sites offered 1.1.0 into FILE
  local i want b
  : > "$3"
  for i in $(seq 1 30); do
    b=$(bucket "$T/site$i" 1.1.0)
    want=1.0.0
    [ "$2" = yes ] || [ "$b" -ge $(( $1 * 100 )) ] || want=1.1.0
    offered "$T/site$i"
    assert_eq "$got" "$want" "stable site $i (bucket $b, rollout $1%, paused $2)"
    [ "$want" = 1.0.0 ] || echo "$i" >> "$3"
    if [ "$want" = 1.0.0 ]; then
      if [ "$2" = yes ]; then assert_contains "$out" "rollout (50% of sites) is paused"; else
        assert_contains "$out" "this site (bucket $b of 10000) is not among them yet"; fi
    fi
    assert_contains "$out" "not in channel stable (published to beta)" "stable site $i's skipped releases"
  done
  true
}

# 1. 10%, and the beta sites.
expect_stable 10 no "$T/ten"
for i in $(seq 31 $N); do
  offered "$T/site$i"
  assert_eq "$got" 1.2.0 "beta site $i"
  assert_contains "$out" "$APP 1.1.0 for $(uname -m): not in channel beta (published to stable)"
  assert_contains "$out" '"channel":"beta"'
done

# 2. 50%: a superset.
# shellcheck disable=SC2086
"$AIRLOCK_BUNDLE" rollout set "$T/repo" --version 1.1.0 --percent 50 $K >/dev/null
publish
expect_stable 50 no "$T/fifty"
while read -r i; do grep -qx "$i" "$T/fifty" || fail "site $i was offered 1.1.0 at 10% but not at 50%"; done < "$T/ten"
[ "$(wc -l < "$T/fifty")" -gt "$(wc -l < "$T/ten")" ] || fail "50% offered no more sites than 10%"

# 3. Pause, resume.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" rollout pause "$T/repo" --version 1.1.0 $K
assert_contains "$out" "in a staged rollout to 50% of sites, paused"
publish
expect_stable 50 yes "$T/paused"
[ ! -s "$T/paused" ] || fail "a paused rollout still offered 1.1.0"
# shellcheck disable=SC2086
"$AIRLOCK_BUNDLE" rollout resume "$T/repo" --version 1.1.0 $K >/dev/null
publish
expect_stable 50 no "$T/resumed"
assert_eq "$(cat "$T/resumed")" "$(cat "$T/fifty")" "the sites offered 1.1.0 after resume"

# 5 (before the promotion). A bundle from a stick ignores rollouts, not channels.
# shellcheck disable=SC2086
"$AIRLOCK_BUNDLE" rollout pause "$T/repo" --version 1.1.0 $K >/dev/null
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch "$(uname -m)" --out "$T/1.1.0.airlock" >/dev/null
run "$AIRLOCK" import "$T/1.1.0.airlock" --plan --config "$T/site1/airlock.conf"
assert_eq "$rc" 0 "import --plan of a bundle in a paused rollout ($out)"
assert_contains "$out" "plan: $APP (nothing installed) -> 1.1.0" "the plan ignores the rollout"
run "$AIRLOCK" import "$T/1.1.0.airlock" --plan --config "$T/site31/airlock.conf"
assert_eq "$rc" 9 "import of a stable-only bundle at a beta site ($out)"
assert_contains "$out" "not in channel beta"

# 4. Promotion: 1.2.0 to stable as well; every site is offered it.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" channel add "$T/repo" --version 1.2.0 --channel stable $K
assert_eq "$rc" 0 "channel add ($out)"
assert_contains "$out" "$APP 1.2.0: channels beta, stable"
publish
for i in 1 2 3 30 31 40; do
  offered "$T/site$i"
  assert_eq "$got" 1.2.0 "site $i after the promotion"
done

# 6. Usage errors.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" rollout set "$T/repo" --version 1.1.0 --percent 101 $K
assert_eq "$rc" 2 "rollout set --percent 101 ($out)"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" channel add "$T/repo" --version 1.1.0 --channel 'Bad!' $K
assert_eq "$rc" 2 "channel add of a bad name ($out)"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" rollout set "$T/repo" --version 1.1.0 $K
assert_eq "$rc" 2 "rollout set without --percent ($out)"
assert_contains "$out" "rollout set needs --percent N (0..100)"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" channel remove "$T/repo" --version 1.0.0 --channel stable $K
assert_eq "$rc" 2 "channel remove of a release's last channel ($out)"
assert_contains "$out" "would be in no channel at all; add it to another channel first"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" rollout set "$T/repo" --version 9.9.9 --percent 5 $K
assert_eq "$rc" 6 "rollout set of a release that does not exist ($out)"
echo "ok: channels and staged rollouts reach exactly the sites meant for them, from static files alone"
