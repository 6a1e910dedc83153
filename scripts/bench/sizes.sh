#!/usr/bin/env bash
# Binary sizes (issue 16, item 5): the sizes of airlock and airlock-bundle in build/x86_64 and build/aarch64 (when
# present), `stat -c %s` of the stripped static binaries, against the 12 MiB (12,582,912 bytes) goal.
#   scripts/bench/sizes.sh
BENCH_DIR=${BENCH_DIR:-/tmp/airlock-bench-sizes}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

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


bench_sizes
