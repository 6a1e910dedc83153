#!/usr/bin/env bash
# Benchmarks of the built binaries. Results go to stdout; docs/benchmarks.md records measured runs.
#   scripts/bench.sh [all|verify|sizes]        (default: all)
#
#   verify  `airlock verify` of a large signed bundle against `openssl dgst -sha256` over the same payload
#           bytes, in the same run: median wall time of BENCH_RUNS alternating runs, throughput, ratio, and
#           airlock's peak RSS. Exits non-zero when the peak RSS is above BENCH_RSS_LIMIT_MIB (a hard limit:
#           the bundle reader must stream); a ratio below BENCH_MIN_RATIO is reported, not fatal.
#   sizes   sizes of airlock and airlock-bundle in build/x86_64 and build/aarch64 (when present).
#
# Environment:
#   AIRLOCK_BUILD_DIR    binaries to measure (default build/x86_64, relative to the repository root)
#   BENCH_DIR            scratch directory (default /tmp/airlock-bench); removed at the end unless BENCH_KEEP=1.
#                        With BENCH_KEEP=1 a later run of the same size reuses the bundle it made.
#   BENCH_BUNDLE_MIB     payload size of the verify bundle in MiB (default 2048)
#   BENCH_IMAGE_MIB      size of each image archive the payload is split into (default 512)
#   BENCH_RUNS           timed runs of each contender (default 3)
#   BENCH_RSS_LIMIT_MIB  hard limit on airlock's peak RSS (default 64)
#   BENCH_MIN_RATIO      throughput goal, airlock / openssl (default 0.9)
#
# The page cache is warmed equally for both contenders (every file read once beforehand); caches are never
# dropped, so this measures hashing and I/O-path overhead, not the disk.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

BUILD_DIR=${AIRLOCK_BUILD_DIR:-build/x86_64}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$root/$BUILD_DIR ;; esac
BENCH_DIR=${BENCH_DIR:-/tmp/airlock-bench}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_BUNDLE_MIB=${BENCH_BUNDLE_MIB:-2048}
BENCH_IMAGE_MIB=${BENCH_IMAGE_MIB:-512}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_RSS_LIMIT_MIB=${BENCH_RSS_LIMIT_MIB:-64}
BENCH_MIN_RATIO=${BENCH_MIN_RATIO:-0.9}

AIRLOCK=$BUILD_DIR/agent/airlock
BUNDLE_TOOL=$BUILD_DIR/bundle-tool/airlock-bundle
TIME=/usr/bin/time

die() { echo "bench: $*" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
# Floating-point arithmetic: calc 'EXPR' (awk syntax).
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
# Median of the numbers given as arguments (lower middle for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mib() { calc "$1 / 1048576"; }

# ---------------------------------------------------------------------------------------------------- common

need_tools() {
  if [ ! -x "$TIME" ]; then
    echo "bench: $TIME is missing; installing Debian package 'time'" >&2
    apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
  fi
  local t
  for t in openssl unzip gzip tar sha256sum awk; do
    command -v "$t" >/dev/null || die "'$t' is required"
  done
  [ -x "$AIRLOCK" ] || die "$AIRLOCK not found: build it (scripts/build.sh x86_64) or set AIRLOCK_BUILD_DIR"
  [ -x "$BUNDLE_TOOL" ] || die "$BUNDLE_TOOL not found: build it or set AIRLOCK_BUILD_DIR"
}

# The scratch directory carries a marker so that cleanup never removes a directory this script did not make.
setup_dir() {
  if [ -d "$BENCH_DIR" ] && [ ! -e "$BENCH_DIR/.airlock-bench" ] && [ -n "$(ls -A "$BENCH_DIR")" ]; then
    die "$BENCH_DIR exists, is not empty and was not made by this script; set BENCH_DIR elsewhere"
  fi
  mkdir -p "$BENCH_DIR"
  touch "$BENCH_DIR/.airlock-bench"
  trap cleanup EXIT
}

cleanup() {
  if [ "$BENCH_KEEP" = 1 ]; then
    echo "bench: kept $BENCH_DIR (BENCH_KEEP=1)" >&2
  elif [ -e "$BENCH_DIR/.airlock-bench" ]; then
    rm -rf "$BENCH_DIR"
  fi
}

machine() {
  say "machine"
  echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu:      $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), nproc $(nproc)"
  echo "sha_ni:   $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
  echo "memory:   $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel:   $(uname -r)"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
  echo "airlock:  $("$AIRLOCK" --version | head -1)"
  echo "openssl:  $(openssl version)"
}

# run_measured OUT_PREFIX CMD...: runs CMD with stdout/stderr to OUT_PREFIX.log; prints
# "WALL_SECONDS USER_SECONDS SYS_SECONDS PEAK_RSS_KIB". Fails (with the log) when CMD fails.
run_measured() {
  local out=$1; shift
  local t0 t1
  t0=$(now)
  if ! "$TIME" -f '%U %S %M' -o "$out.time" "$@" >"$out.log" 2>&1; then
    cat "$out.log" >&2
    die "failed: $*"
  fi
  t1=$(now)
  echo "$(calc "$t1 - $t0") $(tail -1 "$out.time")"
}

# ---------------------------------------------------------------------------------------------------- sizes

bench_sizes() {
  say "binary sizes (bytes, stat -c %s)"
  printf '| %-8s | %-14s | %12s |\n' arch binary bytes
  printf '| %-8s | %-14s | %12s |\n' -------- -------------- ------------
  local arch f
  for arch in x86_64 aarch64; do
    for f in agent/airlock bundle-tool/airlock-bundle; do
      if [ -f "$root/build/$arch/$f" ]; then
        printf '| %-8s | %-14s | %12s |\n' "$arch" "$(basename "$f")" "$(stat -c %s "$root/build/$arch/$f")"
      else
        printf '| %-8s | %-14s | %12s |\n' "$arch" "$(basename "$f")" "(not built)"
      fi
    done
  done
  case $BUILD_DIR in
    "$root/build/x86_64" | "$root/build/aarch64") ;;
    *) for f in agent/airlock bundle-tool/airlock-bundle; do
         [ -f "$BUILD_DIR/$f" ] && printf '| %-8s | %-14s | %12s |\n' "$(basename "$BUILD_DIR")" "$(basename "$f")" \
           "$(stat -c %s "$BUILD_DIR/$f")"
       done ;;
  esac
}

# ---------------------------------------------------------------------------------------------------- verify

# One "docker save"-like archive: manifest.json first (what release add reads), a config blob, and an
# incompressible blob of SIZE_MIB, gzipped with -1 (a .tar.gz is published as is).
make_image_archive() {
  local dir=$1 index=$2 size_mib=$3 out=$4
  local d="$dir/img-$index" h
  rm -rf "$d"
  mkdir -p "$d/blobs/sha256"
  printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]},"bench":%d}' \
    "$index" >"$d/config.json"
  h=$(sha256sum "$d/config.json" | cut -c1-64)
  mv "$d/config.json" "$d/blobs/sha256/$h"
  printf '[{"Config":"blobs/sha256/%s","RepoTags":["bench:%d"],"Layers":[]}]\n' "$h" "$index" >"$d/manifest.json"
  openssl rand -out "$d/blobs/sha256/payload" $((size_mib * 1048576))
  tar -C "$d" --owner=0 --group=0 --numeric-owner -cf - manifest.json blobs | gzip -1 >"$out.part"
  mv "$out.part" "$out"
  rm -rf "$d"
}

# Builds $w/bundle.airlock (repository, keys, one release whose images make up the payload) and extracts its
# target files into $w/payload for openssl. Reused when BENCH_KEEP=1 left one of the same size.
make_verify_fixture() {
  local w=$1
  local stamp
  stamp="mib=$BENCH_BUNDLE_MIB image_mib=$BENCH_IMAGE_MIB tool=$(stat -c %s "$BUNDLE_TOOL")"
  if [ -f "$w/fixture.ok" ] && [ "$(cat "$w/fixture.ok")" = "$stamp" ]; then
    echo "reusing the fixture in $w ($stamp)"
    return
  fi
  rm -rf "$w"
  mkdir -p "$w/src" "$w/images"
  local k
  for k in root targets snapshot timestamp; do
    "$BUNDLE_TOOL" key generate --out "$w/$k.pem" >/dev/null 2>&1
  done
  "$BUNDLE_TOOL" repo init "$w/repo" --app bench --root-key "$w/root.pem" --targets-key "$w/targets.pem" \
    --snapshot-key "$w/snapshot.pem" --timestamp-key "$w/timestamp.pem" >/dev/null
  printf 'services:\n  bench:\n    image: bench:0\n' >"$w/src/docker-compose.yml"
  printf '{"version": "1.0.0"}\n' >"$w/src/airlock-release.json"

  # Split the payload into image archives; gzip them in parallel, one per core.
  local n=$(((BENCH_BUNDLE_MIB + BENCH_IMAGE_MIB - 1) / BENCH_IMAGE_MIB)) i left size jobs t0 t1
  jobs=$(nproc)
  local args=()
  t0=$(now)
  left=$BENCH_BUNDLE_MIB
  for ((i = 0; i < n; i++)); do
    size=$((left < BENCH_IMAGE_MIB ? left : BENCH_IMAGE_MIB))
    left=$((left - size))
    make_image_archive "$w/images" "$i" "$size" "$w/images/image-$i.tar.gz" &
    args+=(--image-archive "$w/images/image-$i.tar.gz")
    if (((i + 1) % jobs == 0)); then wait; fi
  done
  wait
  for ((i = 0; i < n; i++)); do [ -f "$w/images/image-$i.tar.gz" ] || die "image archive $i was not made"; done
  t1=$(now)
  printf 'made %d image archive(s), %.1f MiB in total, in %.1f s (openssl rand | tar | gzip -1)\n' "$n" \
    "$(mib "$(du -cb "$w/images"/image-*.tar.gz | tail -1 | cut -f1)")" "$(calc "$t1 - $t0")"

  local m wall user sys rss
  m=$(run_measured "$w/release-add" "$BUNDLE_TOOL" release add "$w/repo" "$w/src" --arch x86_64 "${args[@]}" \
    --key "$w/targets.pem" --key "$w/snapshot.pem" --key "$w/timestamp.pem")
  read -r wall user sys rss <<<"$m"
  printf 'release add:   %6.1f s wall, %5.1f s user, %5.1f s sys, peak RSS %s KiB\n' "$wall" "$user" "$sys" "$rss"
  m=$(run_measured "$w/export" "$BUNDLE_TOOL" bundle export "$w/repo" --version 1.0.0 --arch x86_64 \
    --out "$w/bundle.airlock")
  read -r wall user sys rss <<<"$m"
  printf 'bundle export: %6.1f s wall, %5.1f s user, %5.1f s sys, peak RSS %s KiB\n' "$wall" "$user" "$sys" "$rss"
  rm -rf "$w/images" # the repository and the bundle hold copies

  # The same bytes for openssl: every target file of the bundle (not the TUF metadata, which is signed JSON).
  unzip -q "$w/bundle.airlock" 'targets/*' -d "$w/payload"
  echo "$stamp" >"$w/fixture.ok"
}

bench_verify() {
  local w=$BENCH_DIR/verify
  say "verify: fixture (${BENCH_BUNDLE_MIB} MiB payload in ${BENCH_IMAGE_MIB} MiB image archives)"
  make_verify_fixture "$w"
  local bundle=$w/bundle.airlock trusted=$w/repo/metadata/1.root.json
  mapfile -t files < <(find "$w/payload" -type f | sort)
  local bundle_bytes payload_bytes
  bundle_bytes=$(stat -c %s "$bundle")
  payload_bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)
  printf 'bundle: %s bytes (%.1f MiB), %d target files, %s payload bytes\n' "$bundle_bytes" \
    "$(mib "$bundle_bytes")" "${#files[@]}" "$payload_bytes"

  # Sanity: airlock verifies exactly these bytes, and openssl's digests are the signed ones (the target file
  # names carry their SHA-256), so both contenders hash identical data.
  "$AIRLOCK" verify "$bundle" --trusted-root "$trusted" --json >"$w/verify.json"
  local verified
  verified=$(grep -o '"verified_bytes":[0-9]*' "$w/verify.json" | cut -d: -f2)
  [ "$verified" = "$payload_bytes" ] || die "airlock verified $verified bytes but the bundle holds $payload_bytes target bytes"
  openssl dgst -sha256 -r "${files[@]}" | while read -r digest name; do
    case $(basename "${name#\*}") in "$digest".*) ;; *) die "openssl digest $digest does not match ${name#\*}" ;; esac
  done

  say "verify: warm the page cache (each file read once)"
  cat "$bundle" >/dev/null
  cat "${files[@]}" >/dev/null

  say "verify: $BENCH_RUNS timed runs of each, alternating"
  local i c m a_wall=() a_cpu=() a_rss=() o_wall=() o_cpu=() o_rss=() wall user sys rss order
  for ((i = 1; i <= BENCH_RUNS; i++)); do
    # Alternate which contender goes first, so neither always follows the other.
    if ((i % 2)); then order="airlock openssl"; else order="openssl airlock"; fi
    for c in $order; do
      if [ "$c" = airlock ]; then
        m=$(run_measured "$w/run-airlock-$i" "$AIRLOCK" verify "$bundle" --trusted-root "$trusted")
        read -r wall user sys rss <<<"$m"
        a_wall+=("$wall") a_cpu+=("$(calc "$user + $sys")") a_rss+=("$rss")
      else
        m=$(run_measured "$w/run-openssl-$i" openssl dgst -sha256 "${files[@]}")
        read -r wall user sys rss <<<"$m"
        o_wall+=("$wall") o_cpu+=("$(calc "$user + $sys")") o_rss+=("$rss")
      fi
      printf 'run %d %-8s %7.3f s wall  %6.2f s user  %5.2f s sys  %7s KiB peak RSS\n' "$i" "$c" "$wall" "$user" "$sys" "$rss"
    done
  done

  local aw ow ac oc arss orss at ot ratio cratio
  aw=$(median "${a_wall[@]}") ow=$(median "${o_wall[@]}")
  ac=$(median "${a_cpu[@]}") oc=$(median "${o_cpu[@]}")
  arss=$(printf '%s\n' "${a_rss[@]}" | sort -n | tail -1) orss=$(printf '%s\n' "${o_rss[@]}" | sort -n | tail -1)
  at=$(calc "$payload_bytes / $aw / 1048576") ot=$(calc "$payload_bytes / $ow / 1048576")
  ratio=$(calc "$ow / $aw") cratio=$(calc "$oc / $ac")

  say "verify: results (median of $BENCH_RUNS; throughput = $payload_bytes payload bytes / median wall time)"
  printf '| %-48s | %12s | %12s | %15s | %14s |\n' contender "wall (s)" "MiB/s" "CPU u+s (s)" "peak RSS (KiB)"
  printf '| %-48s | %12s | %12s | %15s | %14s |\n' ------------------------------------------------ \
    ------------ ------------ --------------- --------------
  printf '| %-48s | %12.3f | %12.1f | %15.2f | %14s |\n' "airlock verify BUNDLE --trusted-root ROOT.json" "$aw" "$at" "$ac" "$arss"
  printf '| %-48s | %12.3f | %12.1f | %15.2f | %14s |\n' "openssl dgst -sha256 (${#files[@]} extracted target files)" "$ow" "$ot" "$oc" "$orss"
  printf 'ratio airlock/openssl: %.3f (throughput, wall time); %.3f (CPU time)\n' "$ratio" "$cratio"
  printf 'airlock peak RSS: %s KiB = %.1f MiB (limit %s MiB)\n' "$arss" "$(calc "$arss / 1024")" "$BENCH_RSS_LIMIT_MIB"
  echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

  local status=0
  if awk "BEGIN { exit !($ratio < $BENCH_MIN_RATIO) }"; then
    printf 'NOTE: airlock verify is below the %sx goal (%.3f of openssl'"'"'s throughput)\n' "$BENCH_MIN_RATIO" "$ratio"
  fi
  if ((arss > BENCH_RSS_LIMIT_MIB * 1024)); then
    echo "FAIL: airlock verify peak RSS $arss KiB is above the hard limit of $BENCH_RSS_LIMIT_MIB MiB" >&2
    status=1
  fi
  return $status
}

# ---------------------------------------------------------------------------------------------------- main

what=${1:-all}
case $what in
  sizes)
    bench_sizes ;;
  verify)
    need_tools; setup_dir; machine; bench_verify ;;
  all)
    need_tools; setup_dir; machine; bench_sizes; bench_verify ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *)
    echo "usage: scripts/bench.sh [all|verify|sizes]" >&2; exit 2 ;;
esac
