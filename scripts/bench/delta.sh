#!/usr/bin/env bash
# Layer deltas (issue 17): one rebuilt binary in a large app layer.
#   scripts/bench/delta.sh          (as root; needs a docker engine, docker-compose, python3, zstd, sqlite3)
#
# The web image (tests/fixtures/testsvc/make-fat-image.sh) has a top layer of BENCH_FILES_MIB MiB of files
# (1 MiB each, base64 text: gzip makes about 3/4 of them) and a BENCH_BIN_MIB MiB binary of incompressible bytes;
# 1.1.0 rebuilds the binary (other bytes). In one run:
#   (a) CI: `patch add --delta-level L` for L in BENCH_LEVELS: its wall time and peak RSS (GNU time), the delta's
#       size against the compressed layer (goal: at most 1/10), and `zstd -L --long=31 --patch-from` of the same
#       tars as the standard tool;
#   (b) the bundles: `bundle export --from 1.0.0 --patch-only` with deltas and with --no-deltas (goal: at most 1/10);
#   (c) site: a site running 1.0.0 imports each bundle (a fresh site each time; the engine holds 1.0.0 and not
#       1.1.0): the `load` step's ms from the journal (delta: docker save of 1.0.0, apply, check, docker load;
#       full: docker load of the gzip layer), against `docker load -i` of `docker save 1.1.0 | gzip` (goal: delta
#       apply + load at most 2x the full layer's load); the agent's peak memory while it runs, sampled every 10 ms
#       from /proc/PID/status: VmHWM (resident, with the mapped files' page cache) and RssAnon (anonymous; goal at
#       most 256 MiB).
# Exits non-zero only when a command fails; a missed goal is reported, not fatal.
#
# Environment:
#   AIRLOCK_BUILD_DIR   binaries (default build/x86_64); copied to BENCH_DIR/bin first
#   BENCH_DIR           work directory (default /var/tmp/airlock-bench-delta; about 4 GiB); removed unless BENCH_KEEP=1
#   BENCH_FILES_MIB     default 280;  BENCH_BIN_MIB  default 20;  BENCH_LEVELS  default "3 9" (19 takes minutes)
#   BENCH_SVC_PORT      the service's loopback port (default 18296)
#   DOCKER_HOST         the engine; when it does not answer, a private dockerd is started (tests/env/testenv.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
BUILD_DIR=${AIRLOCK_BUILD_DIR:-build/x86_64}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$root/$BUILD_DIR ;; esac
BENCH_DIR=${BENCH_DIR:-/var/tmp/airlock-bench-delta}
BENCH_KEEP=${BENCH_KEEP:-0}
FILES=${BENCH_FILES_MIB:-280} BIN=${BENCH_BIN_MIB:-20} LEVELS=${BENCH_LEVELS:-3 9}
APP=benchdelta

die() { echo "delta: $*" >&2; exit 1; }
fail() { die "$@"; } # for tests/fixtures/e2e
say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.4f\", $1 }"; }
mib() { calc "$1 / 1048576"; }
cmd() { printf '$'; printf ' %q' "$@"; printf '\n'; }

[ "$(id -u)" = 0 ] || die "run as root"
for t in docker docker-compose python3 sqlite3 zstd gzip /usr/bin/time; do command -v "$t" >/dev/null || die "'$t' is required"; done
for f in agent/airlock bundle-tool/airlock-bundle tests/testsvc; do
  [ -x "$BUILD_DIR/$f" ] || die "$BUILD_DIR/$f not found: scripts/build.sh x86_64"
done
if [ -d "$BENCH_DIR" ] && [ ! -e "$BENCH_DIR/.airlock-bench-delta" ] && [ -n "$(ls -A "$BENCH_DIR")" ]; then
  die "$BENCH_DIR exists, is not empty and was not made by this script"
fi
rm -rf "$BENCH_DIR"; mkdir -p "$BENCH_DIR/bin" "$BENCH_DIR/logs"; touch "$BENCH_DIR/.airlock-bench-delta"
W=$BENCH_DIR
cp "$BUILD_DIR/agent/airlock" "$BUILD_DIR/bundle-tool/airlock-bundle" "$BUILD_DIR/tests/testsvc" "$W/bin/"
export AIRLOCK=$W/bin/airlock AIRLOCK_BUNDLE=$W/bin/airlock-bundle TESTSVC=$W/bin/testsvc

STARTED_ENV="" E2E_SOURCED=""
finish() {
  local rc=$?
  set +e
  [ -z "$E2E_SOURCED" ] || lay_cleanup web
  if [ -n "$STARTED_ENV" ]; then AIRLOCK_TESTENV=$STARTED_ENV "$root/tests/env/testenv.sh" stop; fi
  if [ "$BENCH_KEEP" = 1 ]; then echo "delta: kept $W" >&2; elif [ -e "$W/.airlock-bench-delta" ]; then rm -rf "$W"; fi
  exit $rc
}
trap finish EXIT
if ! timeout 5 docker version >/dev/null 2>&1; then
  STARTED_ENV=/tmp/airlock-testenv-bench-delta
  echo "no docker engine: starting a private dockerd ($STARTED_ENV)"
  AIRLOCK_TESTENV=$STARTED_ENV "$root/tests/env/testenv.sh" start-docker
  eval "$(AIRLOCK_TESTENV=$STARTED_ENV "$root/tests/env/testenv.sh" env)"
fi

say "machine"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:      $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "airlock:  $("$AIRLOCK" --version | head -1); git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "engine:   $(docker version --format '{{.Server.Version}}'), storage $(docker info --format '{{.Driver}}'); $(zstd --version)"

export E2E=$W/e2e E2E_APP=$APP E2E_PORT=${BENCH_SVC_PORT:-18296}
# shellcheck source=/dev/null
. "$root/tests/fixtures/e2e/site.sh"
# shellcheck source=/dev/null
. "$root/tests/fixtures/e2e/probe.sh"
# shellcheck source=/dev/null
. "$root/tests/fixtures/e2e/layers.sh"
LAY_PAD0_OK=1 # alone on the engine: pad 0 as in the figures of docs/benchmarks.md
E2E_MAKE_IMAGE=$root/tests/fixtures/testsvc/make-fat-image.sh
E2E_SOURCED=1
lay_cleanup web
KEYS=(--key "$E2E/keys/targets.pem" --key "$E2E/keys/snapshot.pem" --key "$E2E/keys/timestamp.pem")
ARCH=$(uname -m)

say "releases 1.0.0 and 1.1.0: top layer $FILES MiB of files + a $BIN MiB binary, rebuilt in 1.1.0"
t0=$(now); IMAGE_FAT="web=7:1:$FILES:$BIN" lay_release 1.0.0 web:0; printf 'release add 1.0.0: %.1f s\n' "$(calc "$(now) - $t0")"
t0=$(now); IMAGE_FAT="web=7:2:$FILES:$BIN" lay_release 1.1.0 web:0; printf 'release add 1.1.0: %.1f s\n' "$(calc "$(now) - $t0")"
fat_blob10=$(lay_img 1.0.0 web 'i["layers"][-1]["blob"]') fat_blob11=$(lay_img 1.1.0 web 'i["layers"][-1]["blob"]')
layer_gz=$(lay_len "$fat_blob11") layer_raw=$(lay_img 1.1.0 web 'i["layers"][-1]["uncompressed_size"]')
echo "the layer: $layer_raw bytes ($(mib "$layer_raw") MiB) uncompressed, $layer_gz bytes ($(mib "$layer_gz") MiB) as gzip -6"
docker save "$APP-web:1.1.0" | gzip -6 >"$W/full-1.1.0.tar.gz"

say "(a) CI: the delta"
gunzip -c "$(lay_file "$fat_blob10")" >"$W/base.tar"
gunzip -c "$(lay_file "$fat_blob11")" >"$W/new.tar"
printf '| level | airlock-bundle patch add | peak RSS | delta | delta / gzip layer | zstd --patch-from | its peak RSS | its size |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n' >"$W/table-a"
last_level=
for L in $LEVELS; do
  rm -rf "$W/repo-$L"; cp -r "$E2E/repo" "$W/repo-$L"
  cmd "$AIRLOCK_BUNDLE" patch add "$W/repo-$L" --from 1.0.0 --to 1.1.0 --arch "$ARCH" --delta-level "$L" --key ...
  /usr/bin/time -f '%e %M' -o "$W/logs/time-$L" "$AIRLOCK_BUNDLE" patch add "$W/repo-$L" --from 1.0.0 --to 1.1.0 \
    --arch "$ARCH" --delta-level "$L" "${KEYS[@]}" >"$W/logs/patch-$L.log" 2>&1 || { cat "$W/logs/patch-$L.log"; die "patch add failed"; }
  grep '^delta' "$W/logs/patch-$L.log" | sed 's/^/  /'
  read -r secs kb <"$W/logs/time-$L"
  dsize=$(python3 -c 'import json,sys,glob; l=json.load(open(glob.glob(sys.argv[1]+"/targets/'"$APP"'/1.1.0/*/patch-from-1.0.0/*.release.json")[0]))["images"][0]["layers"][-1]; print(l.get("delta",{}).get("size",0))' "$W/repo-$L")
  cmd zstd -q -"$L" --long=31 --patch-from="$W/base.tar" "$W/new.tar" -o "$W/cli-$L.zst"
  /usr/bin/time -f '%e %M' -o "$W/logs/cli-$L" zstd -q -f -"$L" --long=31 --single-thread --patch-from="$W/base.tar" "$W/new.tar" -o "$W/cli-$L.zst" 2>/dev/null
  read -r csecs ckb <"$W/logs/cli-$L"
  printf '| %s | %.1f s | %.0f MiB | %s B (%.1f MiB) | %.4f | %.1f s | %.0f MiB | %s B |\n' "$L" "$secs" "$(calc "$kb / 1024")" "$dsize" \
    "$(mib "$dsize")" "$(calc "$dsize / $layer_gz")" "$csecs" "$(calc "$ckb / 1024")" "$(stat -c %s "$W/cli-$L.zst")" >>"$W/table-a"
  last_level=$L
done
cat "$W/table-a"
# The site part uses the repository of the middle level (the default, 9, when it was measured).
use=$(awk '{ print $2 }' <<<"$LEVELS"); [ -n "$use" ] || use=$last_level
rm -rf "$E2E/repo"; cp -r "$W/repo-$use" "$E2E/repo"
rm -f "$W/base.tar" "$W/new.tar" "$W"/cli-*.zst

say "(b) the bundles (patch 1.0.0 -> 1.1.0 of level $use)"
b10=$(e2e_bundle 1.0.0)
bd=$(e2e_bundle 1.1.0 1.0.0 --patch-only)
mkdir -p "$W/nodelta"
"$AIRLOCK_BUNDLE" bundle export "$E2E/repo" --version 1.1.0 --arch "$ARCH" --from 1.0.0 --patch-only --no-deltas --out "$W/nodelta/p.airlock" >/dev/null
bn=$W/nodelta/p.airlock
sd=$(stat -c %s "$bd") sn=$(stat -c %s "$bn")
echo "patch-only bundle with deltas: $sd B ($(mib "$sd") MiB); with --no-deltas: $sn B ($(mib "$sn") MiB); ratio $(calc "$sd / $sn")"

say "(c) site: import of each bundle on a site running 1.0.0"
# peak PID: the highest VmHWM and RssAnon (KiB) of PID until it ends, sampled every 10 ms
peak() {
  local pid=$1 hwm=0 anon=0 h a
  while kill -0 "$pid" 2>/dev/null; do
    h=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    a=$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [ -z "$h" ] || [ "$h" -le "$hwm" ] || hwm=$h
    [ -z "$a" ] || [ "$a" -le "$anon" ] || anon=$a
    sleep 0.01
  done
  echo "$hwm $anon"
}
site_import() { # site_import NAME BUNDLE: a fresh site at 1.0.0 imports BUNDLE; prints "load_ms hwm_kb anon_kb"
  local name=$1 bundle=$2 pid
  e2e_cleanup >/dev/null 2>&1 || true
  docker rmi "$APP-web:1.1.0" >/dev/null 2>&1 || true
  rm -rf "$E2E/site"; e2e_init >&2 # only the result line goes to stdout (the caller reads it)
  "$AIRLOCK" import "$b10" --yes --config "$E2E_CONF" >"$W/logs/site-$name-1.0.0.log" 2>&1 || { cat "$W/logs/site-$name-1.0.0.log" >&2; die "install of 1.0.0 failed"; }
  sync; echo 3 >/proc/sys/vm/drop_caches
  /usr/bin/time -f '%M' -o "$W/logs/rss-$name" "$AIRLOCK" import "$bundle" --yes --config "$E2E_CONF" \
    >"$W/logs/site-$name.log" 2>&1 &
  local tpid=$! i
  pid=
  for i in $(seq 1 200); do pid=$(pgrep -P "$tpid" -x "$(basename "$AIRLOCK")" || true); [ -z "$pid" ] || break; sleep 0.01; done
  read -r hwm anon < <(if [ -n "$pid" ]; then peak "$pid"; else echo "0 0"; fi)
  wait "$tpid" || { cat "$W/logs/site-$name.log" >&2; die "import of $bundle failed"; }
  # GNU time's maximum RSS of the agent (mapped file pages included) when the sampler saw nothing.
  [ "${hwm:-0}" -gt 0 ] || hwm=$(tail -1 "$W/logs/rss-$name")
  [ "$(e2e_body)" = "ok 1.1.0" ] || die "the service does not answer ok 1.1.0 after $name"
  [ "$(lay_image_id "$APP-web:1.1.0")" = "$(lay_img 1.1.0 web 'i["id"]')" ] || die "wrong image after $name"
  echo "$(python3 -c 'import json, sys
print([json.loads(l).get("ms") for l in open(sys.argv[1]) if "\"step-done\"" in l and json.loads(l).get("step") == "load"][-1])' \
    "$E2E_STATE/airlock.jsonl") ${hwm:-0} ${anon:-0}"
}
cmd "$AIRLOCK" import "$bd" --yes; read -r ms_d hwm_d anon_d < <(site_import delta "$bd")
grep -h '"layer-delta"' "$E2E_STATE/airlock.jsonl" | tail -1 | python3 -c 'import json,sys; print("  " + json.loads(sys.stdin.read())["message"].strip())' || true
cmd "$AIRLOCK" import "$bn" --yes; read -r ms_n hwm_n anon_n < <(site_import full "$bn")
e2e_cleanup >/dev/null 2>&1 || true
docker rmi "$APP-web:1.1.0" >/dev/null 2>&1 || true
sync; echo 3 >/proc/sys/vm/drop_caches
cmd docker load -i "$W/full-1.1.0.tar.gz"
t0=$(now); docker load -i "$W/full-1.1.0.tar.gz" >/dev/null; dl=$(calc "$(now) - $t0")
printf '| import of | load step | agent VmHWM | agent RssAnon |\n| --- | --- | --- | --- |\n'
printf '| patch-only bundle, deltas | %s ms | %.0f MiB | %.1f MiB |\n' "$ms_d" "$(calc "$hwm_d / 1024")" "$(calc "$anon_d / 1024")"
printf '| patch-only bundle, --no-deltas | %s ms | %.0f MiB | %.1f MiB |\n' "$ms_n" "$(calc "$hwm_n / 1024")" "$(calc "$anon_n / 1024")"
printf '| docker load -i of docker save 1.1.0 gzip (base layers held) | %.0f ms | | |\n' "$(calc "$dl * 1000")"

say "goals"
r1=$(calc "$(awk -F'|' -v L="$use" '$2+0 == L { print $5 }' "$W/table-a" | awk '{print $1}') / $layer_gz")
verdict() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "MISSED"; fi; }
echo "delta / compressed layer (level $use): $r1 (goal <= 0.1): $(verdict "$r1 <= 0.1")"
echo "patch bundle with deltas / without: $(calc "$sd / $sn") (goal <= 0.1): $(verdict "$sd * 10 <= $sn")"
echo "apply + load / load of the full layer (agent, load step): $(calc "$ms_d / $ms_n") (goal <= 2): $(verdict "$ms_d <= 2 * $ms_n")"
echo "apply + load / docker load -i of the full image: $(calc "$ms_d / ($dl * 1000)")"
echo "agent peak anonymous memory: $(calc "$anon_d / 1024") MiB (goal <= 256): $(verdict "$anon_d <= 262144"); VmHWM $(calc "$hwm_d / 1024") MiB"
