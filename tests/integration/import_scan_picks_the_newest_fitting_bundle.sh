#!/usr/bin/env bash
# `airlock import --scan DIR` (a USB stick mounted by udev or systemd automount) picks the newest bundle in DIR
# that verifies and fits this app, architecture and installed version, imports it, and lists every other file
# with the reason it was skipped: not a bundle, a tampered bundle, another architecture, an older version and a
# valid but older bundle. A directory with nothing newer imports nothing and says so (exit 0).
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2escan$$ E2E_PORT=18370
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
defer e2e_cleanup
e2e_release 1.0.0
e2e_release 1.1.0
e2e_release 1.2.0
# shellcheck disable=SC2046
"$AIRLOCK_BUNDLE" release add "$E2E/repo" "$E2E/src/1.2.0" --arch aarch64 --image "$E2E_APP-web:1.2.0" \
  $(_e2e_online_keys) >/dev/null 2>&1 || true # the same version for aarch64 (may already exist under that name)
e2e_init
CF=(--config "$E2E_CONF")
run "$AIRLOCK" import "$(e2e_bundle 1.0.0)" "${CF[@]}"
assert_eq "$rc" 0 "install of 1.0.0 ($out)"

usb=$T/usb
mkdir -p "$usb"
cp "$(e2e_bundle 1.0.0)" "$usb/a-1.0.0.airlock"
cp "$(e2e_bundle 1.1.0)" "$usb/b-1.1.0.airlock"
"$AIRLOCK_BUNDLE" bundle export "$E2E/repo" --version 1.2.0 --arch aarch64 --out "$usb/c-1.2.0-arm.airlock" >/dev/null
zipedit "$(e2e_bundle 1.2.0)" "$usb/d-1.2.0-tampered.airlock" --flip "*release.json"
echo "hello" > "$usb/README.txt"

before=$(docker ps -q --filter "label=com.docker.compose.project=$E2E_APP")
run "$AIRLOCK" import --scan "$usb" --yes "${CF[@]}"
assert_eq "$rc" 0 "import --scan ($out)"
assert_contains "$out" "chose $usb/b-1.1.0.airlock"
assert_contains "$out" "skipped $usb/README.txt:"
assert_contains "$out" "skipped $usb/a-1.0.0.airlock: 1.0.0 is not newer than the installed 1.0.0"
assert_contains "$out" "skipped $usb/c-1.2.0-arm.airlock: $E2E_APP 1.2.0 for aarch64: another architecture (this host is $(uname -m))"
assert_contains "$out" "updated 1.0.0 -> 1.1.0"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the scan import"
# The tampered 1.2.0 bundle is the newest but fails verification: skipped with the reason, 1.1.0 is chosen.
assert_contains "$out" "skipped $usb/d-1.2.0-tampered.airlock:"
grep "skipped $usb/d-1.2.0-tampered.airlock:" <<<"$out" | grep -qi "sha-256\|hash\|length" || fail "no hash failure named: $out"
[ "$before" != "$(docker ps -q --filter "label=com.docker.compose.project=$E2E_APP")" ] || fail "the container was not replaced"

# Nothing newer left: nothing imported, exit 0, the same container keeps running.
rm "$usb/b-1.1.0.airlock"
cp "$(e2e_bundle 1.1.0)" "$usb/b-1.1.0.airlock"
id=$(docker ps -q --filter "label=com.docker.compose.project=$E2E_APP")
run "$AIRLOCK" import --scan "$usb" --yes "${CF[@]}"
assert_eq "$rc" 0 "import --scan with nothing newer ($out)"
assert_contains "$out" "no bundle in $usb updates $E2E_APP"
assert_eq "$(docker ps -q --filter "label=com.docker.compose.project=$E2E_APP")" "$id" "container after the empty scan"
echo "ok"
