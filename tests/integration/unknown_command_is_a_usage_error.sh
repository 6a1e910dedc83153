#!/usr/bin/env bash
# A mistyped command exits 2 (usage, docs/cli.md) and says how to get the list; --help exits 0. So does a bad
# number in an option: a usage error that names the option and its range, never an "internal error".
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
run "$AIRLOCK" history --limit abc
assert_eq "$rc" 2 "history --limit abc exit code ($out)"
assert_contains "$out" "--limit takes a whole number from 1 to 10000, not 'abc'" "history --limit abc"
run "$AIRLOCK" backup create --level 10
assert_eq "$rc" 2 "backup create --level 10 exit code ($out)"
assert_contains "$out" "--level takes a whole number from 0 to 9, not '10'" "backup create --level 10"
run "$AIRLOCK_BUNDLE" root rotate repo --root-threshold many --key k.pem
assert_eq "$rc" 2 "airlock-bundle root rotate --root-threshold many exit code ($out)"
assert_contains "$out" "--root-threshold takes a whole number from 1 to 1000, not 'many'" "root rotate --root-threshold many"
echo "ok"
