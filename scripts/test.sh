#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, builds static Poco once (cached outside
# the tree), builds both binaries for x86_64 and aarch64, runs the unit tests under ASan+UBSan once, fuzzes each
# parser of untrusted input for a bounded time (scripts/fuzz.sh, clang), then every test (unit, integration,
# qemu smoke, docker) with ctest. Exits non-zero when anything fails.
# The private dockerd and nginx that the tests start are stopped on exit, whatever happened.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
start=$(date +%s)
step() { printf '\n=== %s (%ds)\n' "$*" $(( $(date +%s) - start )); }
trap 'tests/env/testenv.sh stop || true' EXIT

step "bootstrap: packages and static Poco"
scripts/bootstrap.sh all
step "fixtures: the PostgreSQL scenarios' Debian rootfs (mmdebstrap, cached outside the tree)"
# Built here once rather than by the first pg scenario; a failure is reported by those scenarios, not fatal here.
tests/fixtures/pg/build-images.sh --rootfs >/dev/null || echo "warning: the pg rootfs could not be built; the pg scenarios will fail" >&2
step "format: clang-format --dry-run --Werror (.clang-format)"
git ls-files -z '*.cpp' '*.hpp' '*.c' | xargs -0 clang-format --dry-run --Werror
step "build aarch64 (cross)"
scripts/build.sh aarch64 >/dev/null
step "build x86_64"
scripts/build.sh x86_64 >/dev/null
step "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
# Warnings are errors in the two release builds above; the sanitizer build is exempt because GCC 12 reports
# false positives (-Wmaybe-uninitialized) inside libstdc++ under -fsanitize.
AIRLOCK_WERROR=OFF scripts/build.sh x86_64 --sanitize --target airlock_unit_tests >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 build/x86_64-asan/tests/airlock_unit_tests
step "fuzzing: every libFuzzer target of tests/fuzz for FUZZ_SECONDS (default 30) each (docs/fuzzing.md)"
scripts/fuzz.sh
step "ctest: unit, integration, qemu and docker tests"
# Docker scenarios run two at a time (slots of tests/CMakeLists.txt's resources.json), the others beside them.
ctest --test-dir build/x86_64 --output-on-failure -j"${AIRLOCK_TEST_JOBS:-3}" \
  --resource-spec-file "$here/build/x86_64/tests/resources.json" "$@"
step "all tests passed"
