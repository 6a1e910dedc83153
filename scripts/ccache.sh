# shellcheck shell=bash
# Sourced by build.sh and fuzz.sh: sets ccache_args to the cmake arguments that compile through ccache, with
# its cache outside the tree (${AIRLOCK_CACHE:-/var/cache/airlock-build}/ccache) and paths taken relative to
# the checkout, so that a fresh clone elsewhere (CI) hits the objects an earlier build left. The settings
# travel in the launcher itself, so `ninja` run by hand in a build directory uses the same cache.
# AIRLOCK_CCACHE=0 turns it off; without the ccache command the build runs the compiler directly.
# shellcheck disable=SC2034 # used by the scripts that source this file
ccache_args=()
if [ "${AIRLOCK_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null; then
  _ccache="env;CCACHE_DIR=${AIRLOCK_CACHE:-/var/cache/airlock-build}/ccache;CCACHE_BASEDIR=$here;CCACHE_NOHASHDIR=true"
  _ccache+=";CCACHE_MAXSIZE=${AIRLOCK_CCACHE_SIZE:-6G};ccache"
  ccache_args=(-DCMAKE_C_COMPILER_LAUNCHER="$_ccache" -DCMAKE_CXX_COMPILER_LAUNCHER="$_ccache")
fi
