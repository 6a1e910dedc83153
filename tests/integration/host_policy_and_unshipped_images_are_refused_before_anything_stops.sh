#!/usr/bin/env bash
# Proves issue 14 items 5 to 7 on the static binaries and the real dockerd and compose:
#   - a site whose [policy] is stricter than the publisher's (host_network = no) refuses a signed release that runs
#     with network_mode: host: exit 9 naming the service and the setting that would allow it, at the stage step,
#     before anything stops (same container, same answer, current unchanged, the journal ends stage:failed);
#   - the site's own override adding a service whose image the release does not ship (redis:7, which compose would
#     pull unsigned from a registry) is refused the same way with exit 4; no redis image appears;
#   - airlock-bundle release add refuses, before signing, what sites refuse: a privileged service with the host's /
#     mounted and a capability added (exit 9, each violation listed), an image the release does not ship (exit 4),
#     a health declaration with a field the gate does not know ("expect_status": exit 4, naming it), and an image
#     named both in airlock-release.json and by --image (exit 2); the repository's metadata stays byte-identical.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2epolicy$$ E2E_PORT=18421
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")
keys=$(_e2e_online_keys)

e2e_release 1.0.0
e2e_release 1.1.0
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.0.0 ($out)"
cid=$(e2e_cid)
[ -n "$cid" ] || fail "no running container after the first install"

unchanged() { # LABEL: the site still runs 1.0.0 in the same container, and the upgrade never reached the stop
  assert_eq "$(e2e_cid)" "$cid" "$1: the running container"
  assert_eq "$(docker inspect -f '{{.RestartCount}}' "$cid")" 0 "$1: restarts"
  assert_eq "$(e2e_body)" "ok 1.0.0" "$1: the service"
  assert_eq "$(e2e_current)" "releases/1.0.0" "$1: current"
  assert_eq "$(e2e_last_steps)" "begin:done fetch:done stage:failed rollback:done" "$1: journal"
}

# 1. A stricter site: network_mode: host is not allowed here.
cp "$E2E_CONF" "$T/airlock.conf.orig"
printf '[policy]\nhost_network = no\n' >>"$E2E_CONF"
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 9 "import under [policy] host_network = no ($out)"
assert_contains "$out" "docker-compose.yml asks for what this host's policy refuses"
assert_contains "$out" "service 'web': network_mode: host (allow it with [policy] host_network = yes)"
assert_contains "$out" "Nothing was stopped."
unchanged "policy refusal"
cp "$T/airlock.conf.orig" "$E2E_CONF"

# 2. The site's override adds a service whose image the release does not ship.
cat >"$E2E_SITE/site/docker-compose.override.yml" <<'YML'
version: "2.4"
services:
  cache:
    image: redis:7
    network_mode: host
YML
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 4 "import with an image the release does not ship ($out)"
assert_contains "$out" "runs images that the release does not ship, which compose would pull unsigned from a registry"
assert_contains "$out" "service 'cache': image redis:7"
unchanged "unshipped image"
[ -z "$(docker images -q redis)" ] || fail "a redis image is in the engine"
rm "$E2E_SITE/site/docker-compose.override.yml"
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 0 "the same bundle once the override is gone ($out)"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the upgrade"

# 3. airlock-bundle refuses the same before it signs.
meta_sum() { (cd "$E2E/repo/metadata" && sha256sum ./*.json | sha256sum); }
before=$(meta_sum)
src=$E2E/src/bad
new_src() { # VERSION: a copy of 1.1.0's source as VERSION
  rm -rf "$src"
  cp -r "$E2E/src/1.1.0" "$src"
  sed -i "s/\"version\": \"1.1.0\"/\"version\": \"$1\"/" "$src/airlock-release.json"
}
new_src 2.0.0
cat >>"$src/docker-compose.yml" <<'YML'
    privileged: true
    cap_add: [ SYS_ADMIN ]
  helper:
    image: e2eimage:none
    network_mode: host
    volumes: [ "/:/host:ro" ]
YML
sed -i "s/e2eimage:none/$E2E_APP-web:1.1.0/" "$src/docker-compose.yml"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$E2E/repo" "$src" --arch "$(uname -m)" --image "$E2E_APP-web:1.1.0" $keys
assert_eq "$rc" 9 "release add of a privileged release ($out)"
assert_contains "$out" "service 'web': privileged: true (allow it with [policy] privileged = yes)"
assert_contains "$out" "service 'web': cap_add: SYS_ADMIN"
assert_contains "$out" "service 'helper': bind mount of the host's / at /host"
assert_contains "$out" "Nothing was published."

new_src 2.0.1
printf '  cache:\n    image: redis:7\n    network_mode: host\n' >>"$src/docker-compose.yml"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$E2E/repo" "$src" --arch "$(uname -m)" --image "$E2E_APP-web:1.1.0" $keys
assert_eq "$rc" 4 "release add with an image it does not ship ($out)"
assert_contains "$out" "service 'cache': image redis:7"

new_src 2.0.2
python3 - "$src/airlock-release.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["health"] = [{"type": "http", "url": "http://127.0.0.1:1/health", "expect_status": 200}]
json.dump(d, open(sys.argv[1], "w"))
PY
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$E2E/repo" "$src" --arch "$(uname -m)" --image "$E2E_APP-web:1.1.0" $keys
assert_eq "$rc" 4 "release add with an unknown health field ($out)"
assert_contains "$out" "expect_status"

new_src 2.0.3
python3 - "$src/airlock-release.json" "$E2E_APP-web:1.1.0" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["images"] = [sys.argv[2]]
json.dump(d, open(sys.argv[1], "w"))
PY
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$E2E/repo" "$src" --arch "$(uname -m)" --image "$E2E_APP-web:1.1.0" $keys
assert_eq "$rc" 2 "release add with an image named twice ($out)"
assert_contains "$out" "is named both in"
assert_eq "$(meta_sum)" "$before" "the repository's metadata after the refusals"
echo ok
