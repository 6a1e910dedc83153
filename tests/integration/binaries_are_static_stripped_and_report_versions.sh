#!/usr/bin/env bash
# Both x86_64 binaries are static, stripped and at most 12 MiB (docs/build.md "Binary size"), and --version names
# the git revision, the architecture and every linked library's version.
. "$(dirname "$0")/lib.sh"
for b in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  f=$(file -b "$b")
  assert_contains "$f" "statically linked" "file $b"
  case "${AIRLOCK_BUILD_TYPE:-Release}" in Release)
    assert_contains "$f" ", stripped" "file $b"
    size=$(stat -c %s "$b")
    [ "$size" -le $((12 * 1024 * 1024)) ] || fail "$b is $size bytes, more than 12 MiB (docs/build.md \"Binary size\")";;
  esac
  run ldd "$b"
  assert_contains "$out" "not a dynamic executable" "ldd $b"
  run "$b" --version
  assert_eq "$rc" 0 "$b --version exit code"
  name=$(basename "$b")
  assert_contains "$out" "$name $(cat "$(dirname "$0")/../../VERSION")" "--version"
  assert_contains "$out" "(git " "--version"
  assert_contains "$out" ", x86_64)" "--version"
  for lib in "Poco     1.11.0" "OpenSSL  OpenSSL 3." "mbedTLS  2." "zlib     1." "SQLite   3." "xxHash   0."; do
    assert_contains "$out" "$lib" "--version"
  done
done
echo "ok"
