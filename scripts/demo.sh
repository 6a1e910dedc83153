#!/usr/bin/env bash
# The main job: a demo update of a sample stack on a local docker engine, end to end with the real binaries.
#   1. installs packages and builds the static binaries (scripts/bootstrap.sh, scripts/build.sh)
#   2. uses the docker engine at DOCKER_HOST, or starts a private dockerd when none answers
#   3. makes signing keys and a repository, and a small HTTP service image for releases 1.0.0, 1.1.0, 1.2.0
#      (1.2.0 is broken on purpose: it damages its data and then fails its health check); the images share a
#      base layer, so the patch bundle 1.0.0 -> 1.1.0 carries one small layer: its size is printed next to the
#      full bundle's
#   4. initialises a site, installs 1.0.0 from a bundle, and writes data as an operator would
#   5. imports 1.1.0 from a patch bundle: plan, then the upgrade, which commits
#   6. imports 1.2.0: the health gate fails, airlock rolls back to 1.1.0 and restores data/
#   7. publishes 1.3.0 on a local web server (python's http.server): `airlock check` exits 10, and
#      `airlock upgrade --cron` (the online mode, as a timer runs it) installs it
#   8. prints status and history, then removes everything it created or started
# Exits 0 when every step behaved as described (the rollback in step 6 is the expected outcome).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo FAILED: $*" >&2; exit 1; }

say "1. packages and static binaries"
AIRLOCK_ARCHES=x86_64 scripts/bootstrap.sh all  # the demo needs the x86_64 build only
B=$(scripts/build.sh x86_64 | tail -1)
export AIRLOCK=$B/agent/airlock AIRLOCK_BUNDLE=$B/bundle-tool/airlock-bundle TESTSVC=$B/tests/testsvc
[ -x "$AIRLOCK" ] && [ -x "$TESTSVC" ] || fail "the build did not produce $AIRLOCK and $TESTSVC"

work=$(mktemp -d /tmp/airlock-demo.XXXXXX)
started_env=""
cleanup() {
  set +e
  [ -z "${http_pid:-}" ] || kill "$http_pid" 2>/dev/null
  [ -z "${E2E_APP:-}" ] || e2e_cleanup
  [ -z "$started_env" ] || AIRLOCK_TESTENV=$started_env tests/env/testenv.sh stop >/dev/null 2>&1
  # dockerd leaves mounts (netns, overlay) under its directories: unmount them before removing.
  awk -v w="$work" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

say "2. docker engine"
if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  echo "using the engine at ${DOCKER_HOST:-the default socket}"
else
  started_env=$work/env
  AIRLOCK_TESTENV=$started_env tests/env/testenv.sh start-docker >/dev/null
  eval "$(AIRLOCK_TESTENV=$started_env tests/env/testenv.sh env)"
  echo "started a private dockerd at $DOCKER_HOST (stopped again at the end)"
fi
docker-compose version --short >/dev/null || fail "docker-compose is missing"

export E2E=$work/demo E2E_APP=demo$$ E2E_PORT=${AIRLOCK_DEMO_PORT:-18280}
. tests/fixtures/e2e/site.sh
C=(--config "$E2E_CONF")

say "3. keys, a signed repository, releases 1.0.0, 1.1.0 and 1.2.0 (broken), bundles"
# The base layer every release shares: the service binary plus 8 MiB standing in for a real image's base.
export IMAGE_PAD_MIB=${AIRLOCK_DEMO_PAD_MIB:-8}
e2e_release 1.0.0
e2e_release 1.1.0
e2e_patch 1.0.0 1.1.0
E2E_HEALTH_TIMEOUT=15 e2e_release 1.2.0 damage-data
b1=$(e2e_bundle 1.0.0)
b2=$(e2e_bundle 1.1.0 1.0.0 --patch-only)
b3=$(e2e_bundle 1.2.0)
full2=$(e2e_bundle 1.1.0)
ls -l "$E2E/bundles"
# The images share their base layer (the service binary); 1.1.0 changes one small layer, so its patch bundle
# carries only that layer and the new config (docs/repository.md, "Images by layer").
full_bytes=$(stat -c %s "$full2") patch_bytes=$(stat -c %s "$b2")
echo "full bundle of 1.1.0: $full_bytes bytes; patch bundle 1.0.0 -> 1.1.0: $patch_bytes bytes" \
  "(1/$((full_bytes / patch_bytes)) of the full one)"
[ $((patch_bytes * 20)) -le "$full_bytes" ] || fail "the patch bundle is not under 1/20 of the full bundle"

say "4. a new site: init, install 1.0.0, write data"
e2e_init
"$AIRLOCK" import "$b1" --yes "${C[@]}"
echo "the service answers: $(e2e_body)"
mkdir -p "$E2E_SITE/data/orders"
for i in 1 2 3; do echo "order $i: 42 widgets" > "$E2E_SITE/data/orders/$i.txt"; done
orders_before=$(cat "$E2E_SITE"/data/orders/*.txt | sha256sum)

say "5. import 1.1.0 from a patch bundle"
"$AIRLOCK" import "$b2" --plan "${C[@]}"
"$AIRLOCK" import "$b2" --yes "${C[@]}"
[ "$(e2e_body)" = "ok 1.1.0" ] || fail "1.1.0 does not answer"
echo "the service answers: $(e2e_body)"

say "6. import 1.2.0: it damages its data and fails its health check, so airlock rolls back"
set +e
"$AIRLOCK" import "$b3" --yes "${C[@]}"
rc=$?
set -e
[ "$rc" = 7 ] || fail "expected exit code 7 (rolled back), got $rc"
[ "$(e2e_body)" = "ok 1.1.0" ] || fail "1.1.0 is not answering after the rollback"
[ "$(cat "$E2E_SITE"/data/orders/*.txt | sha256sum)" = "$orders_before" ] || fail "data/orders changed"
grep -q DAMAGED "$E2E_SITE/data/log" && fail "data/log is still damaged"
echo "exit code $rc (rolled back); the service answers: $(e2e_body); data/orders unchanged; data/log:"
sed 's/^/  /' "$E2E_SITE/data/log"

say "7. online: 1.3.0 published to the repository on a web server; check, then upgrade as cron would"
e2e_release 1.3.0
port=${AIRLOCK_DEMO_HTTP_PORT:-18281}
python3 -m http.server --bind 127.0.0.1 --directory "$E2E/repo" "$port" >"$work/http.log" 2>&1 &
http_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/metadata/1.root.json" >/dev/null && break; sleep 0.1; done
printf '[repository]\nurls = http://127.0.0.1:%s\n' "$port" >>"$E2E_CONF"
set +e
"$AIRLOCK" check "${C[@]}"
rc=$?
set -e
[ "$rc" = 10 ] || fail "check exited $rc, expected 10 (update available)"
echo "exit code 10: update available"
"$AIRLOCK" upgrade --cron --max-delay 0 "${C[@]}"
kill "$http_pid"
http_pid=""
[ "$(e2e_body)" = "ok 1.3.0" ] || fail "1.3.0 does not answer after the online upgrade"
echo "the service answers: $(e2e_body)"

say "8. status and history"
"$AIRLOCK" status "${C[@]}"
echo
"$AIRLOCK" history "${C[@]}"
say "demo complete: 1.0.0 installed, patched to 1.1.0, 1.2.0 refused by its health gate and rolled back, 1.3.0 installed online"
