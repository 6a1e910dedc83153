#!/usr/bin/env bash
# The snapshot of the data set follows the filesystem: a site whose install root (so ${AIRLOCK_DATA}, with
# PGDATA of PostgreSQL 15 in ${AIRLOCK_DATA}/pgdata) is on a loop-mounted XFS with reflinks gets a reflink clone
# after the stop (pre-copy row "reflink, cloned after the stop", snapshot row "cloned"), the same site on a
# loop-mounted ext4 a two-phase copy (pre-copy "copied N entries", snapshot "changed entries copied"). On each, a
# destructive migration that fails its health gate is rolled back with the database exactly as before.
# Root only; skips (77) where loop mounts fail, except under CI=true.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
[ "$(id -u)" = 0 ] || skip "loop mounts need root"
command -v mkfs.xfs >/dev/null || { [ "${CI:-}" != true ] || fail "mkfs.xfs is missing"; skip "mkfs.xfs is missing"; }
E2E=$T/e2e E2E_APP=pgfs$$ E2E_PORT=18540
export PG_APP=$E2E_APP PG_WEB_PORT=18540 PG_DB_PORT=18541
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/pg/lib.sh"
pg_images
defer pg_cleanup
pg_e2e_release 1.0.0 data=bind
pg_e2e_release 1.1.0 data=bind
pg_e2e_release 1.2.0 data=bind mode=destructive-migration timeout=10
e2e_patch 1.0.0 1.1.0
e2e_patch 1.1.0 1.2.0
b100=$(e2e_bundle 1.0.0) b110=$(e2e_bundle 1.1.0 1.0.0 --patch-only) b120=$(e2e_bundle 1.2.0 1.1.0 --patch-only)
CF=(--config "$E2E_CONF")

# mount_fs FS: a fresh 2 GiB loop-mounted FS (xfs with reflinks, or ext4) at $E2E/site.
mount_fs() {
  local img=$T/$1.img dev
  truncate -s 2G "$img"
  case $1 in
    xfs) mkfs.xfs -q -m reflink=1 "$img" ;;
    ext4) mkfs.ext4 -q -F "$img" ;;
  esac || fail "mkfs.$1 failed"
  mkdir -p "$E2E/site"
  if ! dev=$(losetup -f --show "$img" 2>&1) || ! mount "$dev" "$E2E/site" 2>"$T/mount.err"; then
    [[ $dev != /dev/* ]] || losetup -d "$dev"  # ours: just attached
    [ "${CI:-}" != true ] || fail "CI=true and the loop mount of $1 failed: $dev $(cat "$T/mount.err" 2>/dev/null)"
    skip "loop mounts fail here: $dev $(cat "$T/mount.err" 2>/dev/null)"
  fi
}
# unmount_fs FS: unmounts $E2E/site and detaches the loop devices backed by FS's image (and no other).
unmount_fs() {
  local d
  ! mountpoint -q "$E2E/site" || umount "$E2E/site" || umount -l "$E2E/site"
  for d in $(losetup -n -O NAME -j "$T/$1.img"); do losetup -d "$d"; done
}

for fs in xfs ext4; do
  mount_fs $fs
  defer unmount_fs $fs
  defer pg_cleanup
  case $(stat -f -c %T "$E2E/site") in xfs | ext2/ext3) ;; *) fail "$E2E/site is $(stat -f -c %T "$E2E/site")";; esac
  e2e_init
  run "$AIRLOCK" import "$b100" "${CF[@]}"
  assert_eq "$rc" 0 "$fs: install of 1.0.0 ($out)"
  pg_seed 628
  [ -s "$E2E_SITE/data/pgdata/PG_VERSION" ] || fail "$fs: PGDATA is not in data/pgdata"

  run "$AIRLOCK" import "$b110" "${CF[@]}"
  assert_eq "$rc" 0 "$fs: upgrade to 1.1.0 ($out)"
  pre=$(pg_journal pre-copy) snap=$(pg_journal snapshot)
  if [ $fs = xfs ]; then
    grep -qx '  data: reflink, cloned after the stop' <<<"$pre" || fail "xfs: the pre-copy row: $pre"
    grep -qE '^data: cloned [0-9]+ entries \([^)]*\)$' <<<"$snap" || fail "xfs: the snapshot row: $snap"
  else
    grep -qE '^  data: copied [1-9][0-9]* entries, ' <<<"$pre" || fail "ext4: the pre-copy row: $pre"
    grep -qE '^data: [0-9]+ changed entries copied \(' <<<"$snap" || fail "ext4: the snapshot row: $snap"
  fi

  before=$(pg_state)
  pg_import_seeing "migration done 1.2.0" "$b120" "${CF[@]}"
  assert_eq "$rc" 7 "$fs: import of the destructive 1.2.0 ($out)"
  assert_eq "${pg_during%% *}" "rows=314" "$fs: rows while 1.2.0 ran"
  assert_eq "$(pg_health)" "ok 1.1.0" "$fs: /health after the rollback"
  assert_eq "$(pg_state)" "$before" "$fs: the database after the rollback"
  assert_contains "$(pg_journal rb-restore)" "data site swapped back in" "$fs: the rb-restore row"
  echo "$fs: $(grep -m1 '  data:' <<<"$pre" | sed 's/^ *//'); snapshot $(grep -m1 '^data:' <<<"$snap"); rolled back exactly"
  pg_cleanup
  unmount_fs $fs
done
echo "ok: reflink snapshot on XFS, two-phase on ext4, both rolled back exactly"
