#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan + coverage, dynamic) into
# build/x86_64-fuzz and runs each for a bounded time; exits non-zero when any of them finds a crash, a hang, a
# leak or a broken invariant. docs/fuzzing.md says how to run one target for hours and what to do with a crash.
#
#   scripts/fuzz.sh                  every target, FUZZ_SECONDS (default 30) each
#   scripts/fuzz.sh http tar         only these targets
#   scripts/fuzz.sh --build-only     build, then run every committed seed once (no fuzzing)
#   FUZZ_SECONDS=3600 scripts/fuzz.sh json
#
# Per target, under build/x86_64-fuzz/: corpus/<target>/ (what the fuzzer found, kept between runs; the
# committed seeds in tests/fuzz/<target>/ are read, never written), crashes/<target>/ (crash-*, timeout-*,
# leak-*, oom-* inputs) and logs/<target>.log. Needs clang and libclang-rt-14-dev (scripts/bootstrap.sh) and the
# static Poco that scripts/bootstrap.sh builds for x86_64.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
seconds=${FUZZ_SECONDS:-30}
build_only=0
targets=()
for a in "$@"; do
  case $a in
    --build-only) build_only=1 ;;
    -*) echo "unknown option $a" >&2; exit 2 ;;
    *) targets+=("$a") ;;
  esac
done
# The largest input each target makes (-max_len): room for its biggest seed and a little more.
declare -A max_len=([json]=8192 [canonical_json]=2048 [zip]=16384 [tar]=16384 [tuf]=32768 [release]=8192
  [image_archive]=16384 [http]=4096)
all=(json canonical_json zip tar tuf release image_archive http)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -n "${max_len[$t]:-}" ] || { echo "unknown fuzz target '$t' (one of: ${all[*]})" >&2; exit 2; }
done

command -v clang++ >/dev/null && compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null ||
  { echo "clang with libFuzzer is missing: run scripts/bootstrap.sh (packages clang, libclang-rt-14-dev)" >&2; exit 1; }
poco=$(scripts/bootstrap.sh poco-prefix x86_64)
[ -f "$poco/.airlock-ok" ] || { echo "static Poco for x86_64 is not built yet: run scripts/bootstrap.sh" >&2; exit 1; }
bld=${AIRLOCK_BUILD_ROOT:-$here/build}/x86_64-fuzz
# shellcheck source=ccache.sh
. "$here/scripts/ccache.sh"
cmake -S "$here" -B "$bld" -G Ninja -Wno-dev "${ccache_args[@]}" \
  -DCMAKE_TOOLCHAIN_FILE="$here/toolchains/x86_64-linux-clang.cmake" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPOCO_PREFIX="$poco" -DAIRLOCK_FUZZ=ON -DAIRLOCK_TESTS=OFF -DAIRLOCK_WERROR=OFF >/dev/null
cmake --build "$bld" -j"${AIRLOCK_JOBS:-2}" --target "${targets[@]/#/fuzz_}" >"$bld/build.log" 2>&1 ||
  { tail -40 "$bld/build.log" >&2; echo "[fuzz] the build failed; see $bld/build.log" >&2; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One target per core at a time (AIRLOCK_JOBS, default 2); each prints its result in one write.
fuzz_one() {
  local t=$1 corpus=$bld/corpus/$1 crashes=$bld/crashes/$1 log=$bld/logs/$1.log start limit
  mkdir -p "$corpus" "$crashes" "$bld/logs"
  rm -f "$bld/logs/$t.failed"
  # -runs=0 executes every input of the corpora once and stops; otherwise fuzz for `seconds`.
  if [ $build_only = 1 ]; then limit=(-runs=0); else limit=(-max_total_time="$seconds"); fi
  start=$(date +%s)
  if "$bld/tests/fuzz/fuzz_$t" "$corpus" "tests/fuzz/$t" "${limit[@]}" -max_len="${max_len[$t]}" -timeout=10 \
      -rss_limit_mb=2048 -use_value_profile=1 -print_final_stats=1 -artifact_prefix="$crashes/" \
      $( [ -f "tests/fuzz/$t.dict" ] && echo "-dict=tests/fuzz/$t.dict" ) >"$log" 2>&1; then
    printf '[fuzz] %-15s ok   %4ds  %s\n' "$t" $(( $(date +%s) - start )) \
      "$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?') runs, corpus $(ls "$corpus" | wc -l)"
  else
    touch "$bld/logs/$t.failed"
    printf '[fuzz] %-15s FAILED after %ds; log %s, inputs in %s:\n%s\n' "$t" $(( $(date +%s) - start )) "$log" "$crashes" \
      "$(grep -E 'ERROR: |runtime error|invariant broken|SUMMARY|Test unit written' "$log" | head -20 | sed 's/^/    /')"
  fi
}
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "${AIRLOCK_JOBS:-2}" ]; do wait -n || true; done
  fuzz_one "$t" &
done
wait
failed=()
for t in "${targets[@]}"; do [ ! -f "$bld/logs/$t.failed" ] || failed+=("$t"); done
if [ ${#failed[@]} -gt 0 ]; then
  echo "[fuzz] ${#failed[@]} target(s) failed: ${failed[*]} (docs/fuzzing.md: reproduce, fix, keep the input as a seed)" >&2
  exit 1
fi
