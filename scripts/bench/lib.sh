#!/usr/bin/env bash
# Shared by the benchmarks of scripts/bench/ (sourced, not run): paths of the binaries, the scratch directory, timing
# and arithmetic helpers. Each benchmark script sets its own BENCH_* defaults before sourcing this file.
#   AIRLOCK_BUILD_DIR    binaries to measure (default build/x86_64, relative to the repository root)
#   BENCH_DIR            scratch directory (each script has its own default); removed at the end unless BENCH_KEEP=1
#   BENCH_RUNS           timed runs of each contender (default 3)
#   BENCH_RSS_LIMIT_MIB  hard limit on airlock's peak RSS (default 64)
# The page cache is warmed equally for both contenders (every file read once beforehand); caches are never
# dropped, so this measures hashing and I/O-path overhead, not the disk (except where a contender makes its output
# durable).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

BUILD_DIR=${AIRLOCK_BUILD_DIR:-build/x86_64}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$root/$BUILD_DIR ;; esac
BENCH_DIR=${BENCH_DIR:-/tmp/airlock-bench}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_RSS_LIMIT_MIB=${BENCH_RSS_LIMIT_MIB:-64}

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
