#!/usr/bin/env bash
# The unit tests cross-built for aarch64 (scripts/build.sh aarch64 builds them) pass under qemu-aarch64-static:
# every test case the x86_64 build runs natively runs on the emulated aarch64 too, and none fails.
# ctest timeout: 1500
. "$(dirname "$0")/lib.sh"
: "${AIRLOCK_AARCH64_DIR:?AIRLOCK_AARCH64_DIR must name the aarch64 build directory}" "${AIRLOCK:?}"
command -v qemu-aarch64-static >/dev/null || fail "qemu-aarch64-static is missing (scripts/bootstrap.sh installs it)"
arm=$AIRLOCK_AARCH64_DIR/tests/airlock_unit_tests
native=$(dirname "$AIRLOCK")/../tests/airlock_unit_tests
[ -x "$arm" ] || fail "no aarch64 unit tests at $arm: build them with scripts/build.sh aarch64"
[ -x "$native" ] || fail "no x86_64 unit tests at $native"
assert_contains "$(file -b "$arm")" "ARM aarch64" "file $arm"
count() { "$@" --count 2>&1 | sed -n 's/.*unskipped test cases passing the current filters: \([0-9]*\).*/\1/p'; }
want=$(count "$native")
[ -n "$want" ] && [ "$want" -gt 0 ] || fail "could not count the x86_64 unit tests"
assert_eq "$(count qemu-aarch64-static "$arm")" "$want" "aarch64 unit test cases"
run qemu-aarch64-static "$arm" --no-version
echo "$out" | tail -5
assert_eq "$rc" 0 "aarch64 unit tests under qemu (failures above)"
summary=$(grep 'test cases:' <<<"$out" | tr -s ' ')
assert_contains "$summary" "test cases: $want | $want passed | 0 failed" "the aarch64 run's summary"
echo "ok"
