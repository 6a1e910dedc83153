#!/usr/bin/env bash
# A mistyped command exits 2 (usage, docs/cli.md) and says how to get the list; --help exits 0.
. "$(dirname "$0")/lib.sh"
for b in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  run "$b" frobnicate
  assert_eq "$rc" 2 "$b frobnicate exit code"
  assert_contains "$out" "unknown command 'frobnicate'" "$b frobnicate"
  assert_contains "$out" "--help" "$b frobnicate"
  run "$b"
  assert_eq "$rc" 2 "$b without a command"
  run "$b" --help
  assert_eq "$rc" 0 "$b --help exit code"
  assert_contains "$out" "usage: $(basename "$b")" "$b --help"
done
echo "ok"
