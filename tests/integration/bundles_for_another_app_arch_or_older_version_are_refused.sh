#!/usr/bin/env bash
# Proves `airlock import` refuses valid, correctly signed bundles that are not for this site with exit 9
# (not_applicable) and a message naming the reason, leaving the site untouched (same container ID and start time,
# same answer, same data/ fingerprint, current and status unchanged, no new release tree):
#   - a release for the other architecture (aarch64 on this x86_64 host),
#   - an older version without --allow-downgrade (with it, the older version installs: exit 0, it answers),
#   - a release of another app. airlock-bundle keeps one app per repository (`repo init --app`, and `release add`
#     refuses an airlock-release.json naming another app), and a site trusts only its own repository's root, so
#     the other app comes from a second repository signed with the SAME keys (a vendor sharing its signing keys
#     across apps): its metadata verifies against this site's root, and only the app check refuses it. It is
#     imported last, since the verified newer metadata of that repository becomes the site's trusted state.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
[ "$(uname -m)" = x86_64 ] || skip "the 'other architecture' here is aarch64; this host is $(uname -m)"
E2E=$T/e2e E2E_APP=e2erefuse$$ E2E_PORT=18431
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")

e2e_release 1.0.0
e2e_release 1.1.0
docker save -o "$T/image-1.1.0.tar" "$E2E_APP-web:1.1.0"
# 1.2.0 for aarch64 only (the x86_64 image is good enough: the architecture check comes first).
src=$E2E/src/1.2.0
cp -a "$E2E/src/1.1.0" "$src"
sed -i 's/"version": "1\.1\.0"/"version": "1.2.0"/; s/ok 1\.1\.0/ok 1.2.0/' "$src/airlock-release.json"
# shellcheck disable=SC2046
"$AIRLOCK_BUNDLE" release add "$E2E/repo" "$src" --arch aarch64 --image-archive "$T/image-1.1.0.tar" \
  $(_e2e_online_keys) >/dev/null || fail "release add 1.2.0 for aarch64 failed"
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
barm=$E2E/bundles/1.2.0-aarch64.airlock
"$AIRLOCK_BUNDLE" bundle export "$E2E/repo" --version 1.2.0 --arch aarch64 --out "$barm" >/dev/null \
  || fail "bundle export of 1.2.0 for aarch64 failed"

# Another app, e2eother, published with the same four keys in a second repository. Its metadata must be newer
# than what the site will trust (the versions of $E2E/repo), or the site would keep its own.
other=e2eother$$
src=$T/other-src
cp -a "$E2E/src/1.1.0" "$src"
sed -i "s/\"app\": \"$E2E_APP\"/\"app\": \"$other\"/; s/\"version\": \"1\.1\.0\"/\"version\": \"5.0.0\"/; s/ok 1\.1\.0/ok 5.0.0/" \
  "$src/airlock-release.json"
"$AIRLOCK_BUNDLE" repo init "$T/other-repo" --app "$other" --root-key "$E2E/keys/root.pem" \
  --targets-key "$E2E/keys/targets.pem" --snapshot-key "$E2E/keys/snapshot.pem" \
  --timestamp-key "$E2E/keys/timestamp.pem" >/dev/null || fail "repo init of $other failed"
versions() { "$AIRLOCK_BUNDLE" inspect "$1" --json | e2e_py 'max(d[r]["version"] for r in ("timestamp", "snapshot", "targets"))'; }
site_version=$(versions "$E2E/repo")
n=0
while [ "$(versions "$T/other-repo")" -le "$site_version" ]; do
  sed -i "s/\"version\": \"5\.0\.[0-9]*\"/\"version\": \"5.0.$n\"/" "$src/airlock-release.json"
  # shellcheck disable=SC2046
  "$AIRLOCK_BUNDLE" release add "$T/other-repo" "$src" --arch x86_64 --image-archive "$T/image-1.1.0.tar" \
    $(_e2e_online_keys) >/dev/null || fail "release add $other 5.0.$n failed"
  n=$((n + 1))
done
bother=$E2E/bundles/$other.airlock
"$AIRLOCK_BUNDLE" bundle export "$T/other-repo" --version "5.0.$((n - 1))" --arch x86_64 --out "$bother" >/dev/null \
  || fail "bundle export of $other failed"
"$AIRLOCK" verify "$bother" --trusted-root "$E2E/repo/metadata/1.root.json" >/dev/null \
  || fail "the other app's bundle does not verify against this site's root; the scenario is void"

e2e_forget_images 1.0.0 1.1.0
e2e_init
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.1.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the first install"
echo "operator's" >"$E2E_SITE/data/keep"

# The site as it is now; every refusal must leave all of it as it is.
snapshot_site() {
  local cid
  cid=$(e2e_cid)
  echo "cid=$cid started=$(docker inspect -f '{{.State.StartedAt}}' "$cid") body=$(e2e_body)" \
    "current=$(e2e_current) status=$(e2e_status_version) data=$(e2e_data_sum) releases=$(ls "$E2E_SITE/releases" | tr '\n' ,)"
}
refused() { # WHAT BUNDLE EXPECTED-TEXT...
  local what=$1 bundle=$2 before t
  shift 2
  before=$(snapshot_site)
  run "$AIRLOCK" import "$bundle" --yes "${CF[@]}"
  echo "$what: exit $rc: $out" >&2
  assert_eq "$rc" 9 "import of $what: exit code ($out)"
  for t in "$@"; do assert_contains "$out" "$t" "the message for $what"; done
  assert_eq "$(snapshot_site)" "$before" "the site after the refused import of $what"
}

refused "a bundle for aarch64" "$barm" "holds no release of $E2E_APP for x86_64" \
  "$E2E_APP 1.2.0 for aarch64: another architecture (this host is x86_64)"
refused "an older version" "$b10" "$E2E_APP 1.0.0" "is older than the installed 1.1.0" "--allow-downgrade"

# With --allow-downgrade the older version installs.
cid=$(e2e_cid)
run "$AIRLOCK" import "$b10" --allow-downgrade --yes "${CF[@]}"
assert_eq "$rc" 0 "import of the older version with --allow-downgrade ($out)"
assert_contains "$out" "updated 1.1.0 -> 1.0.0"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the downgrade"
assert_eq "$(e2e_current)" "releases/1.0.0" "current after the downgrade"
assert_eq "$(e2e_status_version)" 1.0.0 "status after the downgrade"
[ "$(e2e_cid)" != "$cid" ] || fail "the downgrade did not replace the container"
assert_eq "$(cat "$E2E_SITE/data/keep")" "operator's" "operator data after the downgrade"
assert_eq "$(e2e_history | e2e_py '(d[0]["action"], d[0]["from"], d[0]["to"], d[0]["outcome"])')" \
  "('import', '1.1.0', '1.0.0', 'ok')" "newest history row after the downgrade"

refused "a bundle of another app" "$bother" "holds no release of $E2E_APP for x86_64" \
  "$other 5.0.$((n - 1)) for x86_64: another app (this site runs $E2E_APP)"
echo "ok: another architecture, an older version and another app were refused with exit 9; --allow-downgrade installed 1.0.0"
