#!/usr/bin/env bash
# The cross-built aarch64 binaries are static aarch64 executables, and run under qemu-aarch64-static:
# --version reports aarch64, every library's known-answer self-test passes, and each is at most 12 MiB.
. "$(dirname "$0")/lib.sh"
: "${AIRLOCK_AARCH64_DIR:?AIRLOCK_AARCH64_DIR must name the aarch64 build directory}"
command -v qemu-aarch64-static >/dev/null || fail "qemu-aarch64-static is missing (scripts/bootstrap.sh installs it)"
for name in airlock airlock-bundle; do
  b=$(find "$AIRLOCK_AARCH64_DIR" -maxdepth 3 -type f -name "$name" | head -n 1)
  [ -n "$b" ] || fail "no aarch64 $name under $AIRLOCK_AARCH64_DIR: build it with scripts/build.sh aarch64"
  f=$(file -b "$b")
  assert_contains "$f" "ARM aarch64" "file $b"
  assert_contains "$f" "statically linked" "file $b"
  size=$(stat -c %s "$b")
  [ "$size" -le $((12 * 1024 * 1024)) ] || fail "$b is $size bytes, more than 12 MiB (docs/build.md \"Binary size\")"
  run qemu-aarch64-static "$b" --version
  assert_eq "$rc" 0 "qemu $name --version exit code ($out)"
  assert_contains "$out" ", aarch64)" "aarch64 --version"
  run qemu-aarch64-static "$b" self-test
  assert_eq "$rc" 0 "qemu $name self-test ($out)"
  assert_eq "$(grep -c ' ok$' <<<"$out")" 7 "aarch64 checks passed in: $out"
done
echo "ok"
