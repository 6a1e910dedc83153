#!/usr/bin/env bash
# A static glibc binary must not need anything from the host: a chroot holding only the binary (no /etc,
# no /lib, no NSS modules, no /dev) runs --version and self-test.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "chroot needs root"
for b in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  root="$T/root-$(basename "$b")"
  mkdir -p "$root"
  cp "$b" "$root/tool"
  assert_eq "$(find "$root" | wc -l)" 2 "files in the chroot"
  run chroot "$root" /tool --version
  assert_eq "$rc" 0 "chroot $(basename "$b") --version exit code ($out)"
  assert_contains "$out" "$(basename "$b") " "--version in chroot"
  run chroot "$root" /tool self-test
  assert_eq "$rc" 0 "chroot $(basename "$b") self-test exit code ($out)"
done
echo "ok"
