#!/usr/bin/env bash
# Downtime of a patch upgrade of a real database stack with the data set (issue 12, item 8).
#   scripts/bench/downtime.sh            (as root: loop mounts; needs dockerd, docker-compose, mkfs.xfs, sqlite3)
#   scripts/bench/downtime.sh --table BENCH_DIR/results.tsv   prints the tables of an earlier run again
#
# The application is the PostgreSQL 15 + Python web app of tests/fixtures/pg (images from Debian packages, built
# or reused by tests/fixtures/pg/build-images.sh), with PGDATA in ${AIRLOCK_DATA}/pgdata. For each filesystem in
# BENCH_FS (ext4, xfs: a sparse image file under BENCH_DIR, loop-mounted; XFS made with `-m reflink=1`) and each
# size in BENCH_SIZES_MIB, on a fresh site whose install_root and state directory are on that filesystem:
#   1. `airlock import` of the full 1.0.0 bundle (the images are in the engine already, so none is loaded);
#   2. the database filled with generated rows (INSERT ... SELECT generate_series, md5(random()::text)) until
#      pg_database_size reaches the size; VACUUM (ANALYZE), CHECKPOINT, BENCH_IDLE_S seconds idle, CHECKPOINT,
#      sync: the data is idle during the pre-copy;
#   3. `airlock import --json` of the patch bundle 1.0.0 -> 1.0.1 (the patch changes docker-compose.yml, where
#      only the web app's APP_VERSION differs, and airlock-release.json; it ships no image): downtime_ms from the
#      result, and each step's time from the step-done events of <state>/airlock.jsonl;
#   4. idle again (CHECKPOINT, BENCH_IDLE_S, CHECKPOINT, sync), then `airlock import --json` of the patch bundle
#      1.0.1 -> 1.0.2, whose web app runs in WEB_MODE=fail-health (health timeout BENCH_FAIL_TIMEOUT s): exit 7,
#      rolled back; downtime_ms and the rollback steps, rb-restore being the swap of the snapshot back in.
#   After each upgrade the row count and sum of the database are checked against the values before it.
# One run of each combination. Prints every command it runs for the measured imports, a table of the figures and
# the runtime. The results also go to BENCH_DIR/results.tsv, each site's import output, airlock.jsonl and journal
# to BENCH_DIR/logs/<fs>-<MiB>/ (kept); the filesystem images, mounts, repository and bundles are removed.
#
# Environment:
#   AIRLOCK_BUILD_DIR   binaries (agent/airlock, bundle-tool/airlock-bundle; default build/x86_64); copied to
#                       BENCH_DIR/bin at the start so that a rebuild during the run does not change them
#   BENCH_DIR           work directory (default /var/tmp/airlock-bench-downtime; needs about 14 GiB free for 4 GiB)
#   BENCH_FS            filesystems (default "ext4 xfs")
#   BENCH_SIZES_MIB     database sizes in MiB (default "10 1024 4096")
#   BENCH_IMG_GIB       size of each sparse filesystem image (default 24)
#   BENCH_IDLE_S        idle seconds between the last write and the upgrade (default 5)
#   BENCH_FAIL_TIMEOUT  health timeout of the failing release 1.0.2 in seconds (default 10)
#   AIRLOCK_TESTENV, AIRLOCK_TEST_HTTP_PORT, AIRLOCK_TEST_HTTPS_PORT   the private dockerd and nginx of
#                       tests/env/testenv.sh (default /tmp/airlock-testenv-bench, 38080, 38443); started here and
#                       stopped at the end (BENCH_KEEP_ENV=1 keeps them running)
#   PG_DB_PORT, PG_WEB_PORT   loopback ports of the database and the web app (default 38432, 38081)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

BUILD_DIR=${AIRLOCK_BUILD_DIR:-build/x86_64}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$root/$BUILD_DIR ;; esac
BENCH_DIR=${BENCH_DIR:-/var/tmp/airlock-bench-downtime}
BENCH_FS=${BENCH_FS:-ext4 xfs}
BENCH_SIZES_MIB=${BENCH_SIZES_MIB:-10 1024 4096}
BENCH_IMG_GIB=${BENCH_IMG_GIB:-24}
BENCH_IDLE_S=${BENCH_IDLE_S:-5}
BENCH_FAIL_TIMEOUT=${BENCH_FAIL_TIMEOUT:-10}
BENCH_KEEP_ENV=${BENCH_KEEP_ENV:-0}
export AIRLOCK_TESTENV=${AIRLOCK_TESTENV:-/tmp/airlock-testenv-bench}
export AIRLOCK_TEST_HTTP_PORT=${AIRLOCK_TEST_HTTP_PORT:-38080} AIRLOCK_TEST_HTTPS_PORT=${AIRLOCK_TEST_HTTPS_PORT:-38443}
export PG_APP=dtbench PG_DB_PORT=${PG_DB_PORT:-38432} PG_WEB_PORT=${PG_WEB_PORT:-38081}
STEPS="pre-copy stop snapshot switch start health commit archive"
RB_STEPS="rb-stop rb-switch rb-restore rb-start rb-health"

die() { echo "downtime: $*" >&2; exit 1; }
fail() { die "$@"; } # for tests/fixtures/pg/lib.sh
say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# cmd ARGS...: prints the command (as it can be pasted) and runs it
cmd() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }

# print_table RESULTS.TSV: the markdown tables and the goals
print_table() {
python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def s(v):
    v = v.rstrip("!")
    return "-" if v in ("", "-") else "%.2f" % (int(v) / 1000)
up = ["pre-copy", "stop", "snapshot", "switch", "start", "health", "commit", "archive"]
print("Patch upgrade 1.0.0 -> 1.0.1 (seconds):")
print("| fs | db size | data set | fill | **downtime** | " + " | ".join(up) + " |")
print("| --- | ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in up) + " |")
for r in rows:
    print("| %s | %.0f MiB | %.0f MiB | %.0f s | **%s** | %s |" % (r["fs"], int(r["db_bytes"]) / 2**20,
          float(r["dataset_bytes"]) / 2**20, float(r["fill_s"]), s(r["downtime_ms"]), " | ".join(s(r[k]) for k in up)))
rb = ["rb_pre-copy", "rb_stop", "rb_snapshot", "rb_switch", "rb_start", "rb_health", "rb-stop", "rb-switch", "rb-restore", "rb-start", "rb-health"]
print()
print("Failing upgrade 1.0.1 -> 1.0.2, rolled back (seconds; health = the failed gate):")
print("| fs | db size | **downtime** | **rb-restore** | " + " | ".join(k.replace("rb_", "") for k in rb if k != "rb-restore") + " |")
print("| --- | ---: | ---: | ---: | " + " | ".join("---:" for k in rb if k != "rb-restore") + " |")
for r in rows:
    print("| %s | %.0f MiB | **%s** | **%s** | %s |" % (r["fs"], int(r["db_bytes"]) / 2**20, s(r["rb_downtime_ms"]),
          s(r["rb-restore"]), " | ".join(s(r[k]) for k in rb if k != "rb-restore")))
print()
by = {(r["fs"], r["mib"]): r for r in rows}
goals = {"xfs": 2000, "ext4": 10000}
for fs, limit in goals.items():
    lo, hi = by.get((fs, "10")), by.get((fs, "4096"))
    if lo and hi:
        d = int(hi["downtime_ms"]) - int(lo["downtime_ms"])
        print("goal %s: downtime 4 GiB - 10 MiB = %+.2f s (at most %.0f s): %s" % (fs, d / 1000, limit / 1000,
              "met" if d <= limit else "MISSED by %.2f s" % ((d - limit) / 1000)))
for fs in goals:
    hi = by.get((fs, "4096"))
    if hi and hi["rb-restore"] not in ("", "-"):
        v = int(hi["rb-restore"].rstrip("!"))
        print("goal %s: rb-restore with 4 GiB = %.2f s (at most 5 s): %s" % (fs, v / 1000,
              "met" if v <= 5000 else "MISSED by %.2f s" % ((v - 5000) / 1000)))
PY
}

if [ "${1:-}" = --table ]; then print_table "${2:?--table RESULTS.TSV}"; exit 0; fi
[ "$(id -u)" = 0 ] || die "run as root (loop mounts)"
for t in docker docker-compose mkfs.xfs mkfs.ext4 sqlite3 python3 curl; do
  command -v "$t" >/dev/null || die "'$t' is required"
done
if [ ! -x "$BUILD_DIR/agent/airlock" ] || [ ! -x "$BUILD_DIR/bundle-tool/airlock-bundle" ]; then
  die "no binaries in $BUILD_DIR"
fi

T_START=$(now)
CUR_MNT='' CUR_IMG='' ENV_STARTED=0
cleanup() {
  local rc=$?
  set +e
  [ -z "${PG_DB_IMAGE:-}" ] || pg_cleanup
  if [ -n "$CUR_MNT" ]; then umount "$CUR_MNT" 2>/dev/null || umount -l "$CUR_MNT"; rmdir "$CUR_MNT"; fi
  [ -z "$CUR_IMG" ] || rm -f "$CUR_IMG"
  rm -rf "${BENCH_DIR:?}/bin" "$BENCH_DIR/repo" "$BENCH_DIR/keys" "$BENCH_DIR/src" "$BENCH_DIR/bundles" "$BENCH_DIR/images.tar.gz"
  if [ "$ENV_STARTED" = 1 ] && [ "$BENCH_KEEP_ENV" != 1 ]; then tests/env/testenv.sh stop >/dev/null 2>&1; fi
  exit $rc
}
trap cleanup EXIT
mkdir -p "$BENCH_DIR"
rm -rf "$BENCH_DIR/results.tsv" "$BENCH_DIR/logs"

say "machine"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
echo "memory:   $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
echo "disk:     $(df -h --output=source,size,avail "$BENCH_DIR" | tail -1) under $BENCH_DIR"
echo "git:      $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- agent bundle-tool 2>/dev/null || echo ' (agent or bundle-tool modified)')"

# The binaries, copied so that a rebuild during the run does not change them.
mkdir -p "$BENCH_DIR/bin"
cp "$BUILD_DIR/agent/airlock" "$BUILD_DIR/bundle-tool/airlock-bundle" "$BENCH_DIR/bin/"
AIRLOCK=$BENCH_DIR/bin/airlock AIRLOCK_BUNDLE=$BENCH_DIR/bin/airlock-bundle
echo "airlock:  $("$AIRLOCK" --version 2>&1 | head -1) (copied from $BUILD_DIR)"

say "private dockerd and nginx ($AIRLOCK_TESTENV)"
tests/env/testenv.sh start >/dev/null
ENV_STARTED=1
eval "$(tests/env/testenv.sh env)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no docker engine at $DOCKER_HOST"
echo "DOCKER_HOST=$DOCKER_HOST (dockerd $(docker version --format '{{.Server.Version}}'), $(docker-compose version --short))"

say "images (tests/fixtures/pg/build-images.sh)"
# shellcheck source=SCRIPTDIR/../../tests/fixtures/pg/lib.sh
. "$root/tests/fixtures/pg/lib.sh"
t0=$(now)
pg_images
echo "db $PG_DB_IMAGE, web ${PG_WEB_IMAGE:?} ($(secs "$t0" "$(now)") s)"

# ------------------------------------------------------------------------------------------ repository, bundles
say "repository: releases 1.0.0, 1.0.1 (ok) and 1.0.2 (fail-health); patches 1.0.0 -> 1.0.1 -> 1.0.2"
t0=$(now)
K=$BENCH_DIR/keys R=$BENCH_DIR/repo
rm -rf "$K" "$R" "$BENCH_DIR/src" "$BENCH_DIR/bundles"
mkdir -p "$K" "$BENCH_DIR/bundles"
for role in root targets snapshot timestamp; do "$AIRLOCK_BUNDLE" key generate --out "$K/$role.pem" >/dev/null 2>&1; done
"$AIRLOCK_BUNDLE" repo init "$R" --app "$PG_APP" --root-key "$K/root.pem" --targets-key "$K/targets.pem" \
  --snapshot-key "$K/snapshot.pem" --timestamp-key "$K/timestamp.pem" >/dev/null
KEYS=(--key "$K/targets.pem" --key "$K/snapshot.pem" --key "$K/timestamp.pem")
ARCH=$(uname -m)
# One archive holds both images (their base layer once); every release names it, so patches ship no image.
docker save "$PG_DB_IMAGE" "$PG_WEB_IMAGE" | gzip -1 >"$BENCH_DIR/images.tar.gz"
release() { # V MODE HEALTH_TIMEOUT
  local v=$1 src=$BENCH_DIR/src/$1
  mkdir -p "$src"
  pg_compose_yml "$v" data=bind mode="$2" web_image="$PG_WEB_IMAGE" >"$src/docker-compose.yml"
  # The web app reports the release's version (lib.sh may do so already): the compose file is what changes.
  grep -q APP_VERSION "$src/docker-compose.yml" \
    || sed -i -E "s/(WEB_MODE: \"[a-z-]+\") \}/\1, APP_VERSION: \"$v\" }/" "$src/docker-compose.yml"
  grep -q "APP_VERSION: \"$v\"" "$src/docker-compose.yml" || die "no APP_VERSION in the compose file of $v"
  pg_release_json "$v" "$3" >"$src/airlock-release.json"
  "$AIRLOCK_BUNDLE" release add "$R" "$src" --arch "$ARCH" --image-archive "$BENCH_DIR/images.tar.gz" "${KEYS[@]}" \
    >/dev/null || die "release add $v failed"
}
release 1.0.0 ok 60
release 1.0.1 ok 60
release 1.0.2 fail-health "$BENCH_FAIL_TIMEOUT"
"$AIRLOCK_BUNDLE" patch add "$R" --from 1.0.0 --to 1.0.1 --arch "$ARCH" "${KEYS[@]}" >/dev/null
"$AIRLOCK_BUNDLE" patch add "$R" --from 1.0.1 --to 1.0.2 --arch "$ARCH" "${KEYS[@]}" >/dev/null
B100=$BENCH_DIR/bundles/1.0.0.airlock B101=$BENCH_DIR/bundles/1.0.1-from-1.0.0.airlock
B102=$BENCH_DIR/bundles/1.0.2-from-1.0.1.airlock
"$AIRLOCK_BUNDLE" bundle export "$R" --version 1.0.0 --arch "$ARCH" --out "$B100" >/dev/null
"$AIRLOCK_BUNDLE" bundle export "$R" --version 1.0.1 --arch "$ARCH" --from 1.0.0 --patch-only --out "$B101" >/dev/null
"$AIRLOCK_BUNDLE" bundle export "$R" --version 1.0.2 --arch "$ARCH" --from 1.0.1 --patch-only --out "$B102" >/dev/null
diff -u "$BENCH_DIR/src/1.0.0/docker-compose.yml" "$BENCH_DIR/src/1.0.1/docker-compose.yml" | sed -n '3,$p' || true
echo "bundles: 1.0.0 $(stat -c %s "$B100") bytes (full, both images), patch 1.0.1 $(stat -c %s "$B101") bytes," \
  "patch 1.0.2 $(stat -c %s "$B102") bytes ($(secs "$t0" "$(now)") s)"

# ------------------------------------------------------------------------------------------------- helpers
# import_json LABEL BUNDLE: `airlock import --json`; sets RES (the result object), RC, UPG (its upgrade ID)
import_json() {
  local bundle=$2 log=$SITE/import-$1
  printf '$ %q import %q --yes --json --config %q\n' "$AIRLOCK" "$bundle" "$CONF"
  set +e
  "$AIRLOCK" import "$bundle" --yes --json --config "$CONF" >"$log.json" 2>"$log.err"
  RC=$?
  set -e
  RES=$(tail -1 "$log.json")
  UPG=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("upgrade_id", ""))' "$RES" 2>/dev/null || true)
  echo "  exit $RC: $RES"
}

# step_ms UPGRADE STEP...: the ms of each step from the step-done events ("-" when none); a step that failed
# (no step-done) is timed from its begin event to the next event of another step of the same upgrade.
step_ms() {
  python3 - "$STATE/airlock.jsonl" "$@" <<'PY'
import datetime, json, sys
path, upg, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = []
for line in open(path):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("upgrade") == upg:
        rows.append(r)
def ts(r):
    return datetime.datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
done = {r["step"]: r["ms"] for r in rows if r.get("event") == "step-done"}
out = []
for s in steps:
    if s in done:
        out.append(str(done[s]))
        continue
    begin = [i for i, r in enumerate(rows) if r.get("event") == s and r.get("step") == s]
    if not begin:
        out.append("-")
        continue
    i = begin[-1]
    nxt = [r for r in rows[i + 1:] if r.get("step") not in (None, s) and r.get("event") == r.get("step")]
    out.append("%d!" % round((ts(nxt[0]) - ts(rows[i])) * 1000) if nxt else "-")
print(" ".join(out))
PY
}

journal() { # UPGRADE STEP: the detail of that step's row, first lines
  sqlite3 "$STATE/state.db" "select status || ': ' || detail from journal where upgrade_id='$1' and step='$2' order by id desc limit 1" \
    | grep -v '^\$ \|^\[exit' | head -"${3:-6}" | sed 's/^/    /'
}

# Idle database, durable on disk: the pre-copy then sees no change.
settle() {
  pg_sql "CHECKPOINT" >/dev/null
  sleep "$BENCH_IDLE_S"
  pg_sql "CHECKPOINT" >/dev/null
  sync
}

# fill MIB: rows into items until pg_database_size >= MIB MiB; VACUUM (ANALYZE) so that autovacuum stays away
fill() {
  local target=$(($1 * 1048576)) size prev rows=2000 bpr=250
  pg_seed 1 >/dev/null # the schema (the web app creates it too)
  size=$(pg_sql "SELECT pg_database_size(current_database())")
  while [ "$size" -lt "$target" ]; do
    pg_sql "INSERT INTO items (n, payload, note) SELECT i, md5(random()::text) || md5(random()::text) ||
      md5(random()::text) || md5(random()::text), 'bench ' || i FROM generate_series(1, $rows) AS i" >/dev/null
    prev=$size
    size=$(pg_sql "SELECT pg_database_size(current_database())")
    [ "$size" -gt "$prev" ] && bpr=$(((size - prev) / rows + 1))
    rows=$(((target - size) / bpr + 1))
    [ "$rows" -le 2000000 ] || rows=2000000
    [ "$rows" -ge 1000 ] || rows=1000
  done
  pg_sql "VACUUM (ANALYZE) items" >/dev/null
}

rows_sum() { pg_sql "SELECT count(*) || ' ' || coalesce(sum(n), 0) FROM items"; }

wait_health() { # BODY: GET /health answers BODY within 60 s
  pg_web_wait "$1" 60 || die "health: expected '$1', got '$(pg_health)'"
}

# ---------------------------------------------------------------------------------------------------- runs
printf 'fs\tmib\tdb_bytes\tdataset_bytes\tfill_s\tdowntime_ms\t%s\trb_downtime_ms\trb_pre-copy\trb_stop\trb_snapshot\trb_switch\trb_start\trb_health\t%s\n' \
  "$(tr ' ' '\t' <<<"$STEPS")" "$(tr ' ' '\t' <<<"$RB_STEPS")" >"$BENCH_DIR/results.tsv"

for fs in $BENCH_FS; do
  say "$fs: a ${BENCH_IMG_GIB} GiB sparse image, loop-mounted"
  img=$BENCH_DIR/$fs.img mnt=$BENCH_DIR/mnt-$fs
  rm -f "$img"; truncate -s "${BENCH_IMG_GIB}G" "$img"; CUR_IMG=$img
  case $fs in
    ext4) cmd mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$img" ;;
    xfs) cmd mkfs.xfs -q -f -m reflink=1 "$img" ;;
    *) die "unknown filesystem $fs (ext4 or xfs)" ;;
  esac
  mkdir -p "$mnt"
  cmd mount -o loop "$img" "$mnt"
  CUR_MNT=$mnt

  for mib in $BENCH_SIZES_MIB; do
    say "$fs, $mib MiB: fresh site in $mnt/s$mib"
    SITE=$mnt/s$mib CONF=$mnt/s$mib/airlock.conf STATE=$mnt/s$mib/state APPDIR=$mnt/s$mib/opt/$PG_APP
    mkdir -p "$SITE"
    cat >"$CONF" <<CONF
[app]
name = $PG_APP
install_root = $SITE/opt
[state]
dir = $STATE
[docker]
timeout = 300
[backup]
level = 1
CONF
    "$AIRLOCK" init --config "$CONF" --trusted-root "$R/metadata/1.root.json" >/dev/null
    import_json install "$B100"
    [ "$RC" = 0 ] || { cat "$SITE/import-install.err" >&2; die "install of 1.0.0 failed"; }
    wait_health "ok 1.0.0"
    pg_wait 60 || die "the database does not answer"

    t0=$(now)
    fill "$mib"
    fill_s=$(secs "$t0" "$(now)")
    db_bytes=$(pg_sql "SELECT pg_database_size(current_database())")
    settle
    ds_bytes=$(du -sb "$APPDIR/data" "$APPDIR/site" | awk '{ s += $1 } END { printf "%.0f\n", s }')
    before=$(rows_sum)
    echo "filled in $fill_s s: pg_database_size $db_bytes bytes; data set (data/ + site/) $ds_bytes bytes; rows/sum $before"

    import_json upgrade "$B101"
    [ "$RC" = 0 ] || { tail -20 "$SITE/import-upgrade.err" >&2; die "the patch upgrade to 1.0.1 failed"; }
    dt=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["downtime_ms"])' "$RES")
    # shellcheck disable=SC2086
    up_steps=$(step_ms "$UPG" $STEPS)
    echo "  downtime $dt ms; steps ($STEPS): $up_steps"
    for s in pre-copy snapshot; do echo "  journal $s:"; journal "$UPG" "$s"; done
    wait_health "ok 1.0.1"
    after=$(rows_sum)
    [ "$after" = "$before" ] || die "rows/sum after the upgrade: $after, before: $before"

    settle
    import_json rollback "$B102"
    [ "$RC" = 7 ] || { tail -20 "$SITE/import-rollback.err" >&2; die "the failing 1.0.2 import should exit 7 (rolled back)"; }
    rb_dt=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["downtime_ms"])' "$RES")
    rb_up=$(step_ms "$UPG" pre-copy stop snapshot switch start health)
    # shellcheck disable=SC2086
    rb_steps=$(step_ms "$UPG" $RB_STEPS)
    echo "  downtime $rb_dt ms; steps (pre-copy stop snapshot switch start health): $rb_up ('!': failed, timed from the log)"
    echo "  rollback steps ($RB_STEPS): $rb_steps"
    echo "  journal rb-restore:"; journal "$UPG" rb-restore
    wait_health "ok 1.0.1"
    after=$(rows_sum)
    [ "$after" = "$before" ] || die "rows/sum after the rollback: $after, before: $before"

    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$fs" "$mib" "$db_bytes" "$ds_bytes" "$fill_s" "$dt" \
      "$(tr ' ' '\t' <<<"$up_steps")" "$rb_dt" "$(tr ' ' '\t' <<<"$rb_up")" "$(tr ' ' '\t' <<<"$rb_steps")" \
      >>"$BENCH_DIR/results.tsv"
    pg_cleanup
    mkdir -p "$BENCH_DIR/logs/$fs-$mib"
    cp "$SITE"/import-* "$STATE/airlock.jsonl" "$BENCH_DIR/logs/$fs-$mib/"
    sqlite3 "$STATE/state.db" "select upgrade_id, step, status, started_at, ended_at, detail from journal order by id" \
      >"$BENCH_DIR/logs/$fs-$mib/journal.txt"
    rm -rf "$SITE"
  done
  cmd umount "$mnt"
  rmdir "$mnt"; CUR_MNT=''
  rm -f "$img"; CUR_IMG=''
done

# --------------------------------------------------------------------------------------------------- results
say "results (ms; data set = du -sb of data/ + site/ before the upgrade; '!' = a failed step, timed from the log)"
print_table "$BENCH_DIR/results.tsv"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at end"
echo "runtime:  $(secs "$T_START" "$(now)") s"
