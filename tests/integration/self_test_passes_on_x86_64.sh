#!/usr/bin/env bash
# Every statically linked library gives its known answers in the x86_64 binaries.
. "$(dirname "$0")/lib.sh"
for b in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  run "$b" self-test
  assert_eq "$rc" 0 "$b self-test exit code ($out)"
  assert_eq "$(grep -c ' ok$' <<<"$out")" 7 "checks passed in: $out"
done
echo "ok"
