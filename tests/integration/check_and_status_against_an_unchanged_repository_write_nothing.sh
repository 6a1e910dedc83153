#!/usr/bin/env bash
# Proves issue 16 item 6: `airlock check` against a repository that did not change, and `airlock status`, take no
# fsync and replace no file of the trusted state (strace counts fsync/fdatasync/sync_file_range/syncfs and renames
# of the whole process tree; the inodes of root.json, timestamp.json, snapshot.json, targets.json and verified-at
# stay). The first check after a new release does write: the changed metadata and the clock floor.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
: "${AIRLOCK_TEST_WWW:?testenv is not started}" "${AIRLOCK_TEST_HTTPS:?}" "${AIRLOCK_TEST_CA:?}"
command -v strace >/dev/null || fail "strace is missing (scripts/bootstrap.sh installs it)"
APP=quiet$$
make_keys "$T/keys"
K=$(online_keys "$T/keys")
"$AIRLOCK_BUNDLE" repo init "$T/repo" --app "$APP" --root-key "$T/keys/root.pem" --targets-key "$T/keys/targets.pem" \
  --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem" >/dev/null
add() {
  APP=$APP make_src "$T/src/$1" "$1"
  # shellcheck disable=SC2086,SC2046
  "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src/$1" --arch "$(uname -m)" $(src_image "$T/src/$1") $K >/dev/null \
    || fail "release add $1 failed"
}
add 1.0.0
WWW=$AIRLOCK_TEST_WWW/quiet-$$
defer rm -rf "$WWW"
publish() { rm -rf "$WWW.new"; cp -r "$T/repo" "$WWW.new"; chmod -R a+rX "$WWW.new"; rm -rf "$WWW"; mv "$WWW.new" "$WWW"; }
publish
cat >"$T/airlock.conf" <<CONF
[app]
name = $APP
install_root = $T/opt
[state]
dir = $T/state
[repository]
urls = $AIRLOCK_TEST_HTTPS/quiet-$$
ca_file = $AIRLOCK_TEST_CA
retries = 1
CONF
"$AIRLOCK" init --config "$T/airlock.conf" --trusted-root "$T/repo/metadata/1.root.json" >/dev/null || fail "init"
TRUST=$T/state/trust
inodes() { stat -c '%n %i' "$TRUST"/root.json "$TRUST"/timestamp.json "$TRUST"/snapshot.json "$TRUST"/targets.json "$TRUST"/verified-at; }
# traced NAME ARGS...: runs airlock under strace; sets $out, $rc, $syncs (the sync calls) and $renames
traced() {
  local name=$1; shift
  set +e
  out=$(strace -f -qq -e trace=fsync,fdatasync,sync_file_range,syncfs,sync,rename,renameat,renameat2 \
    -o "$T/$name.strace" "$AIRLOCK" "$@" --config "$T/airlock.conf" 2>&1)
  rc=$?
  set -e
  syncs=$(grep -cE '(^|[0-9] )(fsync|fdatasync|sync_file_range|syncfs|sync)\(' "$T/$name.strace" || true)
  renames=$(grep -cE '(^|[0-9] )rename(at2?)?\(' "$T/$name.strace" || true)
}

# The first check trusts the repository's metadata for the first time: it writes.
traced check1 check
assert_eq "$rc" 10 "first check: exit code ($out)"
[ "$syncs" -gt 0 ] || fail "the first check wrote nothing: was the trusted state saved? ($(cat "$T/check1.strace"))"
before=$(inodes)

# Unchanged repository: no sync call, no rename, same inodes.
traced check2 check
assert_eq "$rc" 10 "second check: exit code ($out)"
assert_eq "$syncs" 0 "sync calls of a check against an unchanged repository ($(grep -E 'sync|rename' "$T/check2.strace" | head -5))"
assert_eq "$renames" 0 "renames of a check against an unchanged repository"
assert_eq "$(inodes)" "$before" "inodes of the trusted state after the second check"
traced status1 status
assert_eq "$rc" 0 "status: exit code ($out)"
assert_eq "$syncs" 0 "sync calls of status ($(grep -E 'sync|rename' "$T/status1.strace" | head -5))"
assert_eq "$renames" 0 "renames of status"
assert_eq "$(inodes)" "$before" "inodes of the trusted state after status"

# A new release: the next check replaces targets, snapshot and timestamp (and the clock floor), not root.json.
add 1.1.0
publish
traced check3 check
assert_eq "$rc" 10 "check after 1.1.0 was published: exit code ($out)"
assert_contains "$out" "1.1.0"
after=$(inodes)
assert_eq "$(grep root.json <<<"$after")" "$(grep root.json <<<"$before")" "root.json inode after new targets"
[ "$(grep targets.json <<<"$after")" != "$(grep targets.json <<<"$before")" ] || fail "targets.json was not replaced"
[ "$(grep verified-at <<<"$after")" != "$(grep verified-at <<<"$before")" ] || fail "verified-at was not written with new metadata"
# ... and the check after that writes nothing again.
traced check4 check
assert_eq "$syncs" 0 "sync calls of the check after the new metadata was saved"
echo "ok: check against an unchanged repository and status write nothing; new metadata is saved"
