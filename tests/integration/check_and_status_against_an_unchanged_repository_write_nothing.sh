#!/usr/bin/env bash
# Proves issue 16 item 6: `airlock check` and `airlock status` take no fsync and rename nothing (strace counts
# fsync/fdatasync/sync_file_range/syncfs/sync and renames of the whole process tree), and a download against a
# repository that did not change replaces no file of the trusted state (the inodes of root.json, timestamp.json,
# snapshot.json, targets.json and verified-at stay). After a new release, the next download replaces the changed
# metadata and the clock floor, not root.json.
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

# check never saves the trusted state (it only looks), and its facts for the metrics commit without an fsync.
traced check1 check
assert_eq "$rc" 10 "first check: exit code ($out)"
assert_eq "$syncs" 0 "sync calls of the first check ($(grep -E 'sync|rename' "$T/check1.strace" | head -5))"
assert_eq "$renames" 0 "renames of the first check"
[ ! -e "$TRUST/timestamp.json" ] || fail "check saved the trusted state"

# The first download saves the repository's metadata; a second one against the unchanged repository replaces
# no file of the trusted state (same inodes).
run "$AIRLOCK" upgrade --download-only --yes --config "$T/airlock.conf"
assert_eq "$rc" 0 "first download: exit code ($out)"
before=$(inodes)
traced download2 upgrade --download-only --yes
assert_eq "$rc" 0 "second download: exit code ($out)"
assert_eq "$(inodes)" "$before" "inodes of the trusted state after a download against the unchanged repository"
if grep -E 'rename' "$T/download2.strace" | grep -q "/trust/"; then
  fail "the second download renamed files of the trusted state: $(grep rename "$T/download2.strace" | grep /trust/)"
fi

# Unchanged repository: check and status take no sync call and rename nothing.
traced check2 check
assert_eq "$rc" 10 "second check: exit code ($out)"
assert_eq "$syncs" 0 "sync calls of a check against an unchanged repository ($(grep -E 'sync|rename' "$T/check2.strace" | head -5))"
assert_eq "$renames" 0 "renames of a check against an unchanged repository"
traced status1 status
assert_eq "$rc" 0 "status: exit code ($out)"
assert_eq "$syncs" 0 "sync calls of status ($(grep -E 'sync|rename' "$T/status1.strace" | head -5))"
assert_eq "$renames" 0 "renames of status"
assert_eq "$(inodes)" "$before" "inodes of the trusted state after check and status"

# A new release: check sees it and still writes nothing; the next download replaces targets.json (and the clock
# floor with it), not root.json.
add 1.1.0
publish
traced check3 check
assert_eq "$rc" 10 "check after 1.1.0 was published: exit code ($out)"
assert_contains "$out" "1.1.0"
assert_eq "$syncs" 0 "sync calls of the check that found 1.1.0"
run "$AIRLOCK" upgrade --download-only --yes --config "$T/airlock.conf"
assert_eq "$rc" 0 "download of 1.1.0: exit code ($out)"
after=$(inodes)
assert_eq "$(grep root.json <<<"$after")" "$(grep root.json <<<"$before")" "root.json inode after new targets"
[ "$(grep targets.json <<<"$after")" != "$(grep targets.json <<<"$before")" ] || fail "targets.json was not replaced"
[ "$(grep verified-at <<<"$after")" != "$(grep verified-at <<<"$before")" ] || fail "verified-at was not written with new metadata"
echo "ok: check and status write nothing; the trusted state is saved only when it changed"
