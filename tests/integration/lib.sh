# Shared helpers for the black-box tests. Each test is one scenario, run by ctest, that drives the real
# static binaries. Source it first: it sets -euo pipefail, makes $T (a temp dir removed on success, kept on
# failure for inspection), and reads the test environment written by tests/env/testenv.sh.
set -euo pipefail
T=$(mktemp -d "/tmp/airlock-test.XXXXXX")
_deferred=()
# defer CMD...: run CMD when the test exits, whatever the outcome (last registered runs first).
defer() { _deferred=("$*" "${_deferred[@]}"); }
_on_exit() {
  local rc=$? c
  set +e
  for c in "${_deferred[@]}"; do eval "$c" >/dev/null 2>&1; done
  if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then rm -rf "$T"; else echo "kept $T for inspection" >&2; fi
  exit $rc
}
trap _on_exit EXIT
: "${AIRLOCK:?AIRLOCK must point at the airlock binary}" "${AIRLOCK_BUNDLE:?AIRLOCK_BUNDLE must point at airlock-bundle}"
TESTENV=${AIRLOCK_TESTENV:-/tmp/airlock-testenv}
[ ! -f "$TESTENV/env.sh" ] || . "$TESTENV/env.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }
assert_contains() { grep -qF -- "$2" <<<"$1" || fail "${3:-output} does not contain '$2': $1"; }
# Runs a command, stores its exit code in $rc and its stdout+stderr in $out, never aborts the test.
run() { set +e; out=$("$@" 2>&1); rc=$?; set -e; }

need_docker() {
  if [ -f "$TESTENV/docker.unavailable" ] || ! docker version >/dev/null 2>&1; then
    [ "${CI:-}" != true ] || fail "CI=true and no docker engine: $(cat "$TESTENV/docker.unavailable" 2>/dev/null || echo 'DOCKER_HOST does not answer')"
    skip "no docker engine: $(cat "$TESTENV/docker.unavailable" 2>/dev/null || echo 'DOCKER_HOST does not answer')"
  fi
}
