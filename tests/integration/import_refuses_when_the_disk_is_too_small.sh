#!/usr/bin/env bash
# The disk preflight of `airlock import`: when the state directory's filesystem cannot hold the downloads, the
# images and the pre-upgrade backup (here: a 4 MiB tmpfs and 12 MB of data/ to back up), the import is refused
# before anything changes: exit 1, a message naming the directory, the space needed and free and what to do; no
# release staged, `current` absent, no journal row, no file in downloads/ or backups/.
. "$(dirname "$0")/lib.sh"
need_docker
[ "$(id -u)" = 0 ] || skip "needs root to mount tmpfs"
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2espace$$ E2E_PORT=18390
. "$(dirname "$0")/../fixtures/e2e/site.sh"
defer e2e_cleanup
e2e_release 1.0.0
bundle=$(e2e_bundle 1.0.0)
mkdir -p "$E2E/site/state"
mount -t tmpfs -o size=4m tmpfs "$E2E/site/state" || skip "cannot mount tmpfs"
defer umount -l "$E2E/site/state"
e2e_init
head -c 12000000 /dev/urandom > "$E2E_SITE/data/big.bin"
run "$AIRLOCK" import "$bundle" --config "$E2E_CONF"
assert_eq "$rc" 1 "import onto a full state filesystem ($out)"
assert_contains "$out" "not enough disk space: the upgrade needs about"
assert_contains "$out" "in $E2E/site/state"
assert_contains "$out" "free some space"
assert_contains "$out" "Nothing was changed."
[ ! -e "$E2E_SITE/current" ] || fail "current exists after the refusal"
assert_eq "$(ls -A "$E2E_SITE/releases")" "" "releases/ after the refusal"
assert_eq "$(ls -A "$E2E/site/state/downloads") $(ls -A "$E2E/site/state/backups")" " " "downloads/ and backups/"
assert_eq "$(sqlite3 "$E2E/site/state/state.db" 'SELECT count(*) FROM journal')" 0 "journal rows"
echo ok
