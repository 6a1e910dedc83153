#!/usr/bin/env bash
# Images by layer (issue 13, item 8): what a one-file change between two releases of a large image costs.
#   scripts/bench/layers.sh          (as root; needs a docker engine, docker-compose, nginx, python3, mmdebstrap)
#
# The application is the static test service (tests/fixtures/testsvc) on a real Debian bookworm rootfs (mmdebstrap:
# python3, numpy, pandas, psycopg2, PostgreSQL 15; cached in ${AIRLOCK_CACHE}/rootfs), built by
# tests/fixtures/testsvc/make-image.sh with IMAGE_BASE_ROOTFS: layer 1 the rootfs, layer 2 /testsvc, layer 3
# /VERSION. Releases 1.0.0 and 1.1.0 differ in that one file (and SVC_VERSION in the image config). In one run:
#   (d) `airlock-bundle release add --image` of 1.0.0 (no layer in the repository yet) and of 1.1.0 (the base layers
#       already there), each against `docker save IMAGE | gzip > FILE` of the same image;
#   (a) `patch add 1.0.0 -> 1.1.0`; sizes of the bundles `bundle export --version 1.1.0` (full), `--from 1.0.0
#       --patch-only` and `--from 1.0.0`; goal: the patch-only bundle at most 1/20 of the full one;
#   (b) a site running 1.0.0 (installed from the full 1.0.0 bundle; the engine holds the 1.0.0 image, not the
#       1.1.0 one) runs `airlock upgrade --yes` against our own nginx on 127.0.0.1:BENCH_HTTP_PORT: the body bytes
#       nginx sent for the run (its access log), each request listed, against the minimum: the compressed size of
#       the layers 1.1.0 has and 1.0.0 lacks, plus 1.1.0's image config, plus every non-image file the agent fetched
#       (TUF metadata, release.json, the app archive or patch); goal at most 1.1x. The layers' compressed size is
#       that of their `<app>/blobs/*.<diffid>.layer.tar.gz` targets when the repository has them, else (an older
#       airlock-bundle, whole-image archives) of the layer tar from `docker save` gzipped at level 6;
#   (c) the agent's image step: the `load` step's `ms` (step-done in <state>/airlock.jsonl) of that online upgrade,
#       and of an offline `airlock import` of the patch-only bundle on a fresh site running 1.0.0, against
#       `docker load -i` of the full 1.1.0 archive (`docker save | gzip` from (d)) into an engine that holds none of
#       its layers (the app, base and rootfs images removed first); goal at most 0.2x.
# Prints the commands it times, a table and one verdict line per goal. Exits non-zero only when something fails
# (a command, the service's answer after an upgrade); a missed goal is reported, not fatal.
#
# Environment:
#   AIRLOCK_BUILD_DIR   binaries (agent/airlock, bundle-tool/airlock-bundle, tests/testsvc; default build/x86_64);
#                       copied to BENCH_DIR/bin at the start so that a rebuild during the run does not change them
#   BENCH_DIR           work directory (default /var/tmp/airlock-bench-layers; about 3 GiB); removed at the end
#                       unless BENCH_KEEP=1
#   BENCH_IMAGE         rootfs (default: the Debian rootfs above) or pad (the testsvc base with BENCH_PAD_MIB MiB
#                       of incompressible bytes: the worst case for gzip)
#   BENCH_ROOTFS        a rootfs tarball to use instead of building or reusing the cached one
#   BENCH_PAD_MIB       with BENCH_IMAGE=pad (default 420)
#   BENCH_HTTP_PORT     nginx's loopback port (default 18095)
#   BENCH_SVC_PORT      the service's loopback port (network_mode: host; default 18295)
#   DOCKER_HOST         the engine; when it does not answer, a private dockerd is started with tests/env/testenv.sh
#                       (AIRLOCK_TESTENV=/tmp/airlock-testenv-bench-layers) and stopped at the end
#   AIRLOCK_CACHE       rootfs cache (default /var/cache/airlock-build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

BUILD_DIR=${AIRLOCK_BUILD_DIR:-build/x86_64}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$root/$BUILD_DIR ;; esac
BENCH_DIR=${BENCH_DIR:-/var/tmp/airlock-bench-layers}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_IMAGE=${BENCH_IMAGE:-rootfs}
BENCH_PAD_MIB=${BENCH_PAD_MIB:-420}
BENCH_HTTP_PORT=${BENCH_HTTP_PORT:-18095}
BENCH_SVC_PORT=${BENCH_SVC_PORT:-18295}
CACHE=${AIRLOCK_CACHE:-/var/cache/airlock-build}
GOAL_PATCH=0.05 GOAL_DOWNLOAD=1.1 GOAL_LOAD=0.2
APP=benchlayers

die() { echo "layers: $*" >&2; exit 1; }
fail() { die "$@"; } # for tests/fixtures/e2e/site.sh
say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
mib() { calc "$1 / 1048576"; }
size() { stat -c %s "$1"; }
# cmd ARGS...: prints the command (as it can be pasted) and runs it
cmd() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }
# timed VAR CMD...: runs CMD (printed; output to $W/logs/VAR.log), stores its wall seconds in VAR
timed() {
  local var=$1 t0 t1; shift
  printf '$'; printf ' %q' "$@"; printf '\n'
  t0=$(now)
  "$@" >"$W/logs/$var.log" 2>&1 || { cat "$W/logs/$var.log" >&2; die "failed: $*"; }
  t1=$(now)
  printf -v "$var" '%s' "$(calc "$t1 - $t0")"
  printf '  %.3f s\n' "${!var}"
}

# ----------------------------------------------------------------------------------------------- setup

[ "$(id -u)" = 0 ] || die "run as root (the rootfs build and the private dockerd need it)"
for t in docker docker-compose nginx python3 sqlite3 gzip curl flock; do
  command -v "$t" >/dev/null || die "'$t' is required"
done
for f in agent/airlock bundle-tool/airlock-bundle tests/testsvc; do
  [ -x "$BUILD_DIR/$f" ] || die "$BUILD_DIR/$f not found: scripts/build.sh x86_64 (or set AIRLOCK_BUILD_DIR)"
done
if [ -d "$BENCH_DIR" ] && [ ! -e "$BENCH_DIR/.airlock-bench-layers" ] && [ -n "$(ls -A "$BENCH_DIR")" ]; then
  die "$BENCH_DIR exists, is not empty and was not made by this script; set BENCH_DIR elsewhere"
fi
(: </dev/tcp/127.0.0.1/"$BENCH_HTTP_PORT") 2>/dev/null && die "127.0.0.1:$BENCH_HTTP_PORT is in use; set BENCH_HTTP_PORT"
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/bin" "$BENCH_DIR/logs"
touch "$BENCH_DIR/.airlock-bench-layers"
W=$BENCH_DIR
cp "$BUILD_DIR/agent/airlock" "$BUILD_DIR/bundle-tool/airlock-bundle" "$BUILD_DIR/tests/testsvc" "$W/bin/"
export AIRLOCK=$W/bin/airlock AIRLOCK_BUNDLE=$W/bin/airlock-bundle TESTSVC=$W/bin/testsvc
BENCH_T0=$SECONDS

NGINX_PID_FILE="" STARTED_ENV="" E2E_SOURCED=""
finish() {
  local rc=$?
  set +e
  if [ -n "$NGINX_PID_FILE" ] && [ -f "$NGINX_PID_FILE" ]; then kill "$(cat "$NGINX_PID_FILE")" 2>/dev/null; fi
  [ -z "$E2E_SOURCED" ] || e2e_cleanup
  if [ -n "$STARTED_ENV" ]; then AIRLOCK_TESTENV=$STARTED_ENV "$root/tests/env/testenv.sh" stop; fi
  if [ "$BENCH_KEEP" = 1 ]; then echo "layers: kept $W (BENCH_KEEP=1)" >&2
  elif [ -e "$W/.airlock-bench-layers" ]; then rm -rf "$W"; fi
  exit $rc
}
trap finish EXIT

if ! timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  STARTED_ENV=/tmp/airlock-testenv-bench-layers
  echo "no docker engine at ${DOCKER_HOST:-the default socket}: starting a private dockerd ($STARTED_ENV)"
  AIRLOCK_TESTENV=$STARTED_ENV "$root/tests/env/testenv.sh" start-docker
  eval "$(AIRLOCK_TESTENV=$STARTED_ENV "$root/tests/env/testenv.sh" env)"
  timeout 5 docker version >/dev/null 2>&1 || die "the private dockerd did not start"
fi

say "machine"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:      $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), nproc $(nproc)"
echo "memory:   $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
echo "airlock:  $("$AIRLOCK" --version | head -1)"
echo "bundle:   $("$AIRLOCK_BUNDLE" --version 2>/dev/null | head -1)"
echo "git:      HEAD $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
for f in agent/airlock bundle-tool/airlock-bundle; do
  echo "binary:   $f $(size "$BUILD_DIR/$f") bytes, sha256 $(sha256sum <"$BUILD_DIR/$f" | cut -c1-12), built $(date -u -r "$BUILD_DIR/$f" +%Y-%m-%dT%H:%M:%SZ)"
done
echo "engine:   $(docker version --format '{{.Server.Version}}'), storage $(docker info --format '{{.Driver}}'), DOCKER_HOST=${DOCKER_HOST:-default}"
echo "nginx:    $(nginx -v 2>&1 | sed 's/^nginx version: //'); $(gzip --version | head -1)"

# ----------------------------------------------------------------------------------------------- the rootfs

# Everything that changes the rootfs is in the recipe; its hash is the cache key.
SUITE=bookworm
PACKAGES=python3,python3-numpy,python3-pandas,python3-psycopg2,postgresql-15
# shellcheck disable=SC2016 # "$1" is expanded by mmdebstrap
MM_OPTS=(--variant=essential --include="$PACKAGES" --components=main --aptopt='APT::Install-Recommends "false"'
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log "$1"/var/log/apt "$1"/var/lib/postgresql/15 "$1"/etc/postgresql/15')
mirror() { # the machine's configured Debian mirror, else deb.debian.org
  local f u
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    u=$(awk '/^URIs:/{u=$2} /^Suites:/ && / '"$SUITE"'( |$)/{print u; exit}' "$f")
    [ -z "$u" ] || { echo "$u"; return; }
  done
  u=$(awk '$1=="deb" && $3=="'"$SUITE"'" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${u:-http://deb.debian.org/debian}"
}
rootfs_tar() { # prints the path of the rootfs tarball, building it once (flock: one build at a time)
  local arch key out m t0
  arch=$(dpkg --print-architecture)
  key=$( { echo "recipe=1 suite=$SUITE arch=$arch"; printf '%s\n' "${MM_OPTS[@]}"; } | sha256sum | cut -c1-12)
  out=$CACHE/rootfs/layers-$SUITE-$arch-$key.tar
  mkdir -p "$CACHE/rootfs"
  exec 8>"$CACHE/rootfs/.layers-$key.lock"
  flock 8
  if [ ! -s "$out" ]; then
    command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (apt-get install mmdebstrap), or set BENCH_IMAGE=pad"
    m=$(mirror) t0=$SECONDS
    echo "rootfs: building $out with mmdebstrap from $m (a few minutes)" >&2
    nice -n 10 mmdebstrap "${MM_OPTS[@]}" "$SUITE" "$out.part.tar" "$m" >"$W/logs/mmdebstrap.log" 2>&1 \
      || { tail -20 "$W/logs/mmdebstrap.log" >&2; rm -f "$out.part.tar"; die "mmdebstrap failed (or set BENCH_IMAGE=pad)"; }
    mv "$out.part.tar" "$out"
    echo "rootfs: built in $((SECONDS - t0)) s" >&2
  fi
  exec 8>&-
  echo "$out"
}

say "images: $APP-web:1.0.0 and $APP-web:1.1.0 (tests/fixtures/testsvc/make-image.sh)"
case $BENCH_IMAGE in
  rootfs)
    export IMAGE_BASE_ROOTFS=${BENCH_ROOTFS:-$(rootfs_tar)}
    echo "rootfs:   $IMAGE_BASE_ROOTFS, $(size "$IMAGE_BASE_ROOTFS") bytes (Debian $SUITE: $PACKAGES)" ;;
  pad)
    export IMAGE_PAD_MIB=$BENCH_PAD_MIB
    echo "pad:      the testsvc base with $BENCH_PAD_MIB MiB of incompressible bytes" ;;
  *) die "BENCH_IMAGE is rootfs or pad, not $BENCH_IMAGE" ;;
esac

export E2E=$W/e2e E2E_APP=$APP E2E_PORT=$BENCH_SVC_PORT
# shellcheck source=/dev/null
. "$root/tests/fixtures/e2e/site.sh"
E2E_SOURCED=1
e2e_cleanup # a run killed earlier may have left the project or its images

# release_src V: the source tree of release V (as e2e_release writes it), and the image $APP-web:V
release_src() {
  local v=$1 src=$E2E/src/$1 t0
  rm -rf "$src"; mkdir -p "$src/config"
  t0=$(now)
  tests/fixtures/testsvc/make-image.sh "$TESTSVC" "$APP-web:$v" "$v" >/dev/null || die "make-image $v failed"
  printf 'make-image %s: %.1f s\n' "$v" "$(calc "$(now) - $t0")"
  cat >"$src/docker-compose.yml" <<YML
version: "2.4"
services:
  web:
    image: $APP-web:$v
    network_mode: host
    restart: "no"
    environment: { SVC_PORT: "$E2E_PORT", SVC_DATA: /data, SVC_MODE: ok }
    volumes: [ "\${AIRLOCK_DATA}:/data" ]
YML
  printf 'release=%s\nmode=ok\n' "$v" >"$src/config/app.conf"
  cat >"$src/airlock-release.json" <<JSON
{"app": "$APP", "version": "$v",
 "health": {"checks": [{"type": "http", "url": "http://127.0.0.1:$E2E_PORT/health", "status": 200, "body": "ok $v"},
                       {"type": "containers"}],
            "timeout": 60, "stable_window": 2, "interval": 1}}
JSON
}
release_src 1.0.0
release_src 1.1.0
layers() { docker image inspect -f '{{range .RootFS.Layers}}{{println .}}{{end}}' "$1" | sed '/^$/d'; }
layers "$APP-web:1.0.0" >"$W/layers-1.0.0"
layers "$APP-web:1.1.0" >"$W/layers-1.1.0"
ID0=$(docker image inspect -f '{{.Id}}' "$APP-web:1.0.0")
ID1=$(docker image inspect -f '{{.Id}}' "$APP-web:1.1.0")
IMG_BYTES=$(docker image inspect -f '{{.Size}}' "$APP-web:1.1.0")
grep -vxFf "$W/layers-1.0.0" "$W/layers-1.1.0" >"$W/layers-changed" || true
echo "1.0.0:    $ID0, layers: $(tr '\n' ' ' <"$W/layers-1.0.0")"
echo "1.1.0:    $ID1, layers: $(tr '\n' ' ' <"$W/layers-1.1.0")"
printf 'image:    %s bytes (%.1f MiB) in the engine; %d of %d layers differ\n' "$IMG_BYTES" "$(mib "$IMG_BYTES")" \
  "$(wc -l <"$W/layers-changed")" "$(wc -l <"$W/layers-1.1.0")"
[ "$(wc -l <"$W/layers-changed")" -ge 1 ] || die "the two images have the same layers"
((IMG_BYTES >= 400 * 1048576)) || echo "NOTE: the image is below 400 MiB"

# ----------------------------------------------------------------------------------------------- (d) release add

say "(d) release add against docker save | gzip"
_e2e_keys
# shellcheck disable=SC2207
KEYS=($(_e2e_online_keys))
mkdir -p "$W/archives"
# shellcheck disable=SC2016 # expanded by sh -c
timed GZ0 sh -c 'docker save "$1" | gzip >"$2"' sh "$APP-web:1.0.0" "$W/archives/1.0.0.tar.gz"
timed RA0 "$AIRLOCK_BUNDLE" release add "$E2E/repo" "$E2E/src/1.0.0" --arch "$(uname -m)" --image "$APP-web:1.0.0" "${KEYS[@]}"
timed RA1 "$AIRLOCK_BUNDLE" release add "$E2E/repo" "$E2E/src/1.1.0" --arch "$(uname -m)" --image "$APP-web:1.1.0" "${KEYS[@]}"
# shellcheck disable=SC2016
timed GZ1 sh -c 'docker save "$1" | gzip >"$2"' sh "$APP-web:1.1.0" "$W/archives/1.1.0.tar.gz"
FULL_GZ=$(size "$W/archives/1.1.0.tar.gz")
printf 'docker save | gzip of 1.1.0: %s bytes (%.1f MiB)\n' "$FULL_GZ" "$(mib "$FULL_GZ")"
BLOBS=$(find "$E2E/repo/targets" -path "*/$APP/blobs/*" -type f | wc -l)
if [ "$BLOBS" -gt 0 ]; then
  LAYOUT=layers
  echo "repository: $BLOBS blob targets under targets/$APP/blobs/ (images by layer)"
else
  LAYOUT=archives
  echo "repository: no targets/$APP/blobs/: whole-image archives (airlock-bundle before images by layer)"
fi
find "$E2E/repo/targets" -type f -printf '%s\t%P\n' | sort -k2 >"$W/targets.txt"

# ----------------------------------------------------------------------------------------------- (a) bundles

say "(a) bundles"
timed PA "$AIRLOCK_BUNDLE" patch add "$E2E/repo" --from 1.0.0 --to 1.1.0 --arch "$(uname -m)" "${KEYS[@]}"
mkdir -p "$E2E/bundles"
B_FULL0=$E2E/bundles/1.0.0.airlock B_FULL=$E2E/bundles/1.1.0.airlock
B_PONLY=$E2E/bundles/1.1.0-from-1.0.0-patch-only.airlock B_FROM=$E2E/bundles/1.1.0-from-1.0.0.airlock
export_bundle() { # OUT ARGS...
  local out=$1; shift
  cmd "$AIRLOCK_BUNDLE" bundle export "$E2E/repo" --arch "$(uname -m)" "$@" --out "$out" >/dev/null
}
export_bundle "$B_FULL0" --version 1.0.0
export_bundle "$B_FULL" --version 1.1.0
export_bundle "$B_PONLY" --version 1.1.0 --from 1.0.0 --patch-only
export_bundle "$B_FROM" --version 1.1.0 --from 1.0.0
S_FULL=$(size "$B_FULL") S_PONLY=$(size "$B_PONLY") S_FROM=$(size "$B_FROM")
for b in "$B_FULL" "$B_PONLY" "$B_FROM"; do
  echo "$(basename "$b"): $(size "$b") bytes; entries of 1 KiB and more:"
  python3 - "$b" <<'PY'
import sys, zipfile
for i in zipfile.ZipFile(sys.argv[1]).infolist():
    if i.file_size >= 1024:
        print("  %12d  %s" % (i.file_size, i.filename))
PY
done

# ----------------------------------------------------------------------------------------------- nginx

N=$W/nginx
mkdir -p "$N/tmp"
chmod a+rx "$W" "$E2E"
chmod -R a+rX "$E2E/repo"
cat >"$N/nginx.conf" <<NGINX
daemon on;
pid $N/nginx.pid;
error_log $N/error.log;
worker_processes 1;
events { worker_connections 64; }
http {
  log_format bench '\$msec \$status \$body_bytes_sent "\$request" range="\$http_range"';
  access_log $N/access.log bench;
  client_body_temp_path $N/tmp; proxy_temp_path $N/tmp; fastcgi_temp_path $N/tmp;
  uwsgi_temp_path $N/tmp; scgi_temp_path $N/tmp;
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:$BENCH_HTTP_PORT;
    server_name localhost;
    root $E2E/repo;
    location / { autoindex off; }
  }
}
NGINX
nginx -c "$N/nginx.conf" -e "$N/error.log" || die "nginx did not start (see $N/error.log)"
NGINX_PID_FILE=$N/nginx.pid
for _ in $(seq 1 50); do (: </dev/tcp/127.0.0.1/"$BENCH_HTTP_PORT") 2>/dev/null && break; sleep 0.1; done
curl -fsS -o /dev/null "http://127.0.0.1:$BENCH_HTTP_PORT/metadata/1.root.json" || die "nginx does not serve the repository"
touch "$N/access.log"

# ----------------------------------------------------------------------------------------------- (b) online upgrade

# step_ms FROM_LINE STEP: the ms of the last step-done event of STEP after line FROM_LINE of the agent's log
step_ms() {
  python3 - "$E2E/site/state/airlock.jsonl" "$1" "$2" <<'PY'
import json, sys
ms = [json.loads(l).get("ms") for l in open(sys.argv[1]).readlines()[int(sys.argv[2]):]
      if '"step-done"' in l and json.loads(l).get("step") == sys.argv[3]]
print(ms[-1] if ms else "")
PY
}
steps_after() { # FROM_LINE: "step ms" of every step-done event after that line
  python3 - "$E2E/site/state/airlock.jsonl" "$1" <<'PY'
import json, sys
for l in open(sys.argv[1]).readlines()[int(sys.argv[2]):]:
    r = json.loads(l)
    if r.get("event") == "step-done":
        print("%s %s" % (r.get("step"), r.get("ms")))
PY
}
jsonl_lines() { [ -f "$E2E/site/state/airlock.jsonl" ] && wc -l <"$E2E/site/state/airlock.jsonl" || echo 0; }
wait_body() { # WANT: waits up to 10 s for GET /health to answer WANT
  local b=
  for _ in $(seq 1 50); do b=$(e2e_body); [ "$b" = "$1" ] && return 0; sleep 0.2; done
  die "the service answers '$b', not '$1'"
}
new_site() { # a fresh site at 1.0.0 from the full 1.0.0 bundle (the engine has the 1.0.0 image, not 1.1.0)
  local ids
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$APP")
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  rm -rf "$E2E/site"
  e2e_init
  cat >>"$E2E_CONF" <<CONF
[repository]
urls = http://127.0.0.1:$BENCH_HTTP_PORT
retries = 2
connect_timeout = 2
stall_timeout = 30
CONF
  "$AIRLOCK" import "$B_FULL0" --yes --config "$E2E_CONF" >"$W/logs/install-$1.log" 2>&1 \
    || { cat "$W/logs/install-$1.log" >&2; die "airlock import of the full 1.0.0 bundle failed"; }
  wait_body "ok 1.0.0"
  ! docker image inspect "$APP-web:1.1.0" >/dev/null 2>&1 || docker rmi "$APP-web:1.1.0" >/dev/null
  docker image inspect "$APP-web:1.0.0" >/dev/null || die "the engine lost the 1.0.0 image"
}

say "(b) online upgrade 1.0.0 -> 1.1.0 from nginx"
new_site online
echo "site:     1.0.0 running; the engine holds $APP-web:1.0.0 and not $APP-web:1.1.0"
"$AIRLOCK" check --json --config "$E2E_CONF" >"$W/logs/check.log" 2>&1 || true
CHECK=$(tail -1 "$W/logs/check.log")
echo "check:    $CHECK"
CHECK_BYTES=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get("download_bytes", ""))' "$CHECK" 2>/dev/null || true)
from_log=$(wc -l <"$N/access.log") from_jsonl=$(jsonl_lines)
timed UP "$AIRLOCK" upgrade --yes --config "$E2E_CONF"
wait_body "ok 1.1.0"
echo "the service answers 'ok 1.1.0'"
echo "agent steps (step-done ms): $(steps_after "$from_jsonl" | tr '\n' ',' | sed 's/,$//; s/,/, /g')"
LOAD_ONLINE=$(step_ms "$from_jsonl" load)
awk -v from="$from_log" 'NR > from' "$N/access.log" >"$W/requests.log"
echo "nginx:    $(wc -l <"$W/requests.log") requests for the upgrade:"
awk '{ printf "  %s %12d  %s\n", $2, $3, $5 }' "$W/requests.log"

# Classify what was fetched: image payload (layer blobs, image configs, whole-image archives) vs the rest.
read -r DL_TOTAL DL_IMAGE DL_OTHER <<<"$(python3 - "$W/requests.log" "$APP" <<'PY'
import sys
total = image = 0
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 5:
        continue
    n, path = int(f[2]), f[4]
    total += n
    if path.startswith("/targets/") and ("/blobs/" in path or "/images/" in path):
        image += n
print(total, image, total - image)
PY
)"

# The minimum image payload: the changed layers, compressed, and 1.1.0's config.
if [ "$LAYOUT" = layers ]; then
  MIN_LAYERS=0
  while read -r d; do
    f=$(find "$E2E/repo/targets/$APP/blobs" -name "*.${d#sha256:}.layer.tar.gz" | head -1)
    [ -n "$f" ] || die "no blob target for the changed layer $d"
    MIN_LAYERS=$((MIN_LAYERS + $(size "$f")))
  done <"$W/layers-changed"
  f=$(find "$E2E/repo/targets/$APP/blobs" -name "*.${ID1#sha256:}.config.json" | head -1)
  [ -n "$f" ] || die "no config blob target for $ID1"
  MIN_CONFIG=$(size "$f")
else
  # The docker save archive on stdin: each layer tar hashed (its diff ID); the changed ones gzipped at level 6.
  py=$(cat <<'PY'
import hashlib, sys, tarfile, zlib
changed = {l.strip().split(":")[1] for l in open(sys.argv[1]) if l.strip()}
config = sys.argv[2].split(":")[1]
layers = cfg = 0
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:
    for m in t:
        if not m.isfile():
            continue
        f = t.extractfile(m)
        if m.name.endswith("layer.tar") or m.name.startswith("blobs/sha256/"):
            h, z, n = hashlib.sha256(), zlib.compressobj(6, zlib.DEFLATED, 31), 0
            small = m.size <= 64 << 20
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
                if small:
                    n += len(z.compress(b))
            d = h.hexdigest()
            if d in changed:
                if not small:
                    sys.exit("changed layer %s is over 64 MiB" % d)
                layers += n + len(z.flush())
            elif d == config:
                cfg = m.size
        elif m.name == config + ".json":
            cfg = m.size
print(layers, cfg)
PY
)
  read -r MIN_LAYERS MIN_CONFIG <<<"$(gzip -dc "$W/archives/1.1.0.tar.gz" | python3 -c "$py" "$W/layers-changed" "$ID1")"
fi
MIN_TOTAL=$((MIN_LAYERS + MIN_CONFIG + DL_OTHER))
DL_RATIO=$(calc "$DL_TOTAL / $MIN_TOTAL")
printf 'downloaded: %s bytes = %s image payload + %s other (metadata, release.json, app archive or patch)\n' \
  "$DL_TOTAL" "$DL_IMAGE" "$DL_OTHER"
printf 'minimum:    %s bytes = %s changed layer(s) compressed + %s config + %s other\n' "$MIN_TOTAL" "$MIN_LAYERS" \
  "$MIN_CONFIG" "$DL_OTHER"

# ----------------------------------------------------------------------------------------------- (c) offline patch

say "(c) offline: airlock import of the patch-only bundle on a fresh site running 1.0.0"
new_site offline
from_jsonl=$(jsonl_lines)
timed IMP "$AIRLOCK" import "$B_PONLY" --yes --config "$E2E_CONF"
wait_body "ok 1.1.0"
echo "agent steps (step-done ms): $(steps_after "$from_jsonl" | tr '\n' ',' | sed 's/,$//; s/,/, /g')"
LOAD_OFFLINE=$(step_ms "$from_jsonl" load)

say "(c) docker load -i of the full 1.1.0 archive into an engine without its layers"
e2e_cleanup
all_layers=$(sort -u "$W/layers-1.0.0" "$W/layers-1.1.0")
holders() { # images (any tag) holding one of our layers
  local i
  for i in $(docker images -q | sort -u); do
    layers "$i" | grep -xF "$all_layers" >/dev/null && echo "$i"
  done
  true
}
# The fixture's base and rootfs images, children first (a parent with children cannot be removed); untagged
# intermediate images of the legacy builder go with their tagged child.
for i in $(for h in $(holders); do echo "$(layers "$h" | wc -l) $h"; done | sort -rn | cut -d' ' -f2); do
  refs=$(docker image inspect -f '{{join .RepoTags " "}}' "$i" 2>/dev/null) || continue
  case " $refs " in
    *" airlock-testsvc-base:"* | *" airlock-testsvc-rootfs:"*) docker rmi -f "$i" >/dev/null ;;
  esac
done
left=$(holders)
[ -z "$left" ] || echo "NOTE: other images still hold some of the layers ($left): docker load skips those, its time is flattered"
cat "$W/archives/1.1.0.tar.gz" >/dev/null
timed DL docker load -q -i "$W/archives/1.1.0.tar.gz"
docker image inspect "$APP-web:1.1.0" >/dev/null || die "docker load did not give $APP-web:1.1.0"
e2e_cleanup # the base and rootfs images were removed above; the next run imports and builds them again

# ----------------------------------------------------------------------------------------------- results

verdict() { # NAME VALUE GOAL: met when VALUE <= GOAL
  if [ -z "$2" ]; then echo "$1: not measured"
  elif awk "BEGIN { exit !($2 <= $3) }"; then printf '%s: met (%.4g, goal <= %s)\n' "$1" "$2" "$3"
  else printf '%s: NOT met (%.4g, goal <= %s)\n' "$1" "$2" "$3"; fi
}
s() { [ -n "$1" ] && calc "$1 / 1000" || echo ""; }
P_RATIO=$(calc "$S_PONLY / $S_FULL") F_RATIO=$(calc "$S_FROM / $S_FULL")
LO=$(s "$LOAD_ONLINE") LF=$(s "$LOAD_OFFLINE")
LO_RATIO="" LF_RATIO=""
[ -z "$LO" ] || LO_RATIO=$(calc "$LO / $DL")
[ -z "$LF" ] || LF_RATIO=$(calc "$LF / $DL")

say "results ($LAYOUT layout; image $(printf '%.1f' "$(mib "$IMG_BYTES")") MiB, $(wc -l <"$W/layers-1.1.0") layers, 1 file changed)"
printf '| %-62s | %14s | %10s |\n' measure value ratio
printf '| %-62s | %14s | %10s |\n' -------------------------------------------------------------- -------------- ----------
row() { printf '| %-62s | %14s | %10s |\n' "$1" "$2" "$3"; }
row "(a) full bundle 1.1.0 (bytes)" "$S_FULL" "1"
row "(a) patch bundle --from 1.0.0 --patch-only (bytes)" "$S_PONLY" "$(printf '%.6f' "$P_RATIO")"
row "(a) patch bundle --from 1.0.0 (bytes)" "$S_FROM" "$(printf '%.6f' "$F_RATIO")"
row "(b) downloaded by airlock upgrade, nginx body bytes" "$DL_TOTAL" "$(printf '%.3f' "$DL_RATIO")"
row "(b) minimum: changed layers + config + metadata/app (bytes)" "$MIN_TOTAL" "1"
row "    airlock check --json: download_bytes before the upgrade" "$CHECK_BYTES" ""
row "(c) docker load -i full 1.1.0 archive (s)" "$(printf '%.3f' "$DL")" "1"
row "(c) agent load step, online upgrade (s)" "$(printf '%.3f' "${LO:-0}")" "${LO_RATIO:+$(printf '%.3f' "$LO_RATIO")}"
row "(c) agent load step, offline patch-only import (s)" "$(printf '%.3f' "${LF:-0}")" "${LF_RATIO:+$(printf '%.3f' "$LF_RATIO")}"
row "(d) docker save | gzip, 1.0.0 (s)" "$(printf '%.3f' "$GZ0")" "1"
row "(d) release add 1.0.0, no layer in the repository yet (s)" "$(printf '%.3f' "$RA0")" "$(printf '%.3f' "$(calc "$RA0 / $GZ0")")"
row "(d) docker save | gzip, 1.1.0 (s)" "$(printf '%.3f' "$GZ1")" "1"
row "(d) release add 1.1.0, base layers already there (s)" "$(printf '%.3f' "$RA1")" "$(printf '%.3f' "$(calc "$RA1 / $GZ1")")"
row "    docker save | gzip output, 1.1.0 (bytes)" "$FULL_GZ" ""
row "    airlock upgrade, whole run (s)" "$(printf '%.3f' "$UP")" ""
row "    airlock import of the patch-only bundle, whole run (s)" "$(printf '%.3f' "$IMP")" ""
echo
verdict "(a) patch-only bundle / full bundle" "$P_RATIO" "$GOAL_PATCH"
verdict "(b) bytes downloaded online / minimum" "$DL_RATIO" "$GOAL_DOWNLOAD"
verdict "(c) agent load step (online upgrade) / docker load of the full archive" "$LO_RATIO" "$GOAL_LOAD"
verdict "(c) agent load step (offline patch import) / docker load of the full archive" "$LF_RATIO" "$GOAL_LOAD"
printf '(d) release add / docker save | gzip: %.3f (1.0.0), %.3f (1.1.0); no goal, reported\n' \
  "$(calc "$RA0 / $GZ0")" "$(calc "$RA1 / $GZ1")"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg); runtime $((SECONDS - BENCH_T0)) s"
