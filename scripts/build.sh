#!/usr/bin/env bash
# Configures and builds airlock for one architecture into build/<arch>[-asan].
#   scripts/build.sh x86_64|aarch64 [--sanitize] [--debug] [--target T] [-- extra cmake args]
# AIRLOCK_BUILD_ROOT (default build/) puts the build directories elsewhere.
# Dependencies must be bootstrapped first (scripts/bootstrap.sh); scripts/test.sh does both.
# Warnings are errors (AIRLOCK_WERROR=OFF to build anyway): the same flags in every build, so that CI, the demo and
# a developer share one compile cache.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:?usage: scripts/build.sh x86_64|aarch64 [--sanitize] [--debug] [--target T]}; shift
case $arch in x86_64|aarch64) ;; *) echo "unknown architecture '$arch' (x86_64 or aarch64)" >&2; exit 2;; esac
type=Release sanitize=OFF suffix="" target=()
while [ $# -gt 0 ]; do
  case $1 in
    --sanitize) sanitize=ON suffix=-asan type=RelWithDebInfo ;;
    --debug) type=Debug suffix=${suffix}-debug ;;
    --target) target=(--target "$2"); shift ;;
    --) shift; break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
werror=${AIRLOCK_WERROR:-ON}
poco=$("$here/scripts/bootstrap.sh" poco-prefix "$arch")
[ -f "$poco/.airlock-ok" ] || { echo "static Poco for $arch is not built yet: run scripts/bootstrap.sh" >&2; exit 1; }
bld=${AIRLOCK_BUILD_ROOT:-$here/build}/$arch$suffix
# shellcheck source=ccache.sh
. "$here/scripts/ccache.sh"
cmake -S "$here" -B "$bld" -G Ninja -Wno-dev "${ccache_args[@]}" \
  -DCMAKE_TOOLCHAIN_FILE="$here/toolchains/$arch-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=$type -DPOCO_PREFIX="$poco" -DAIRLOCK_WERROR="$werror" -DAIRLOCK_SANITIZE=$sanitize \
  -DAIRLOCK_AARCH64_DIR="$here/build/aarch64" "$@" >/dev/null
cmake --build "$bld" -j"${AIRLOCK_JOBS:-2}" "${target[@]}"
echo "$bld"
