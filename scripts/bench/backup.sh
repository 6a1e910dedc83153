#!/usr/bin/env bash
# Backup and restore against GNU tar, gzip and pigz (issue 16, items 2 and 3).
#   scripts/bench/backup.sh
#
# For each size in BENCH_SIZES_MIB, a site (`airlock init`, no docker) whose data/ holds a deterministic mixed tree
# (half incompressible AES-CTR blobs, a quarter small log-like files in nested directories, a quarter 1-4 MiB CSV
# files), site/ a small env file, current a symlink. Every file is read once to warm the page cache; caches are never
# dropped, and `sync` (untimed) runs before every timed run. Then BENCH_RUNS rounds, each in a rotating order:
#   create   `airlock backup create --level 6` (threads: [backup] threads, default one per CPU),
#            `airlock backup create --level 6 --threads 1` (one gzip stream: the size reference),
#            `tar -czf OUT data site current` (gzip -6 in a second process) and `tar -I 'pigz -6' -cf OUT ...`;
#   restore  `airlock backup restore ID --yes` (of the last backup; durable before it returns) against
#            `tar -xzf BACKUP -C fresh/ && sync` (the goal's contender: durable too) and plain `tar -xzf` (reference).
# Medians of wall time (whole process, as the operator waits), CPU user+sys, peak RSS (/usr/bin/time %M, maximum of
# the runs). Ratios: other / airlock wall time (>= 1.0: airlock is as fast or faster). Checks: every airlock backup
# passes `gzip -t`; airlock's restored tree and tar's extraction of the airlock backup are identical to the original
# (`diff -r --no-dereference`). Prints every command it times (as it can be pasted), a table per size, the goals:
#   create:  airlock >= BENCH_GOAL_TAR x `tar -czf` and >= BENCH_GOAL_PIGZ x `tar -I pigz`, output within 1% of the
#            one-stream size, peak RSS <= BENCH_RSS_LIMIT_MIB;
#   restore: airlock >= BENCH_GOAL_RESTORE x `tar -xzf && sync` at every size.
# A missed goal prints MISSED; the exit status is non-zero only when a command or a check fails, or the RSS limit
# is exceeded (a hard limit: the code must stream).
#
# Environment:
#   AIRLOCK_BUILD_DIR   binaries (agent/airlock, bundle-tool/airlock-bundle; default build/x86_64); copied to
#                       BENCH_DIR/bin first so that a rebuild during the run does not change them
#   BENCH_DIR           scratch directory (default /var/tmp/airlock-bench-backup; about 4x the largest tree);
#                       removed at the end unless BENCH_KEEP=1
#   BENCH_SIZES_MIB     tree sizes (default "16 64 1024")
#   BENCH_RUNS          rounds (default 3)
#   BENCH_RSS_LIMIT_MIB (default 64), BENCH_GOAL_TAR (1.8), BENCH_GOAL_PIGZ (0.95), BENCH_GOAL_RESTORE (1.0)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

BUILD_DIR=${AIRLOCK_BUILD_DIR:-build/x86_64}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$root/$BUILD_DIR ;; esac
BENCH_DIR=${BENCH_DIR:-/var/tmp/airlock-bench-backup}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_SIZES_MIB=${BENCH_SIZES_MIB:-16 64 1024}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_RSS_LIMIT_MIB=${BENCH_RSS_LIMIT_MIB:-64}
BENCH_GOAL_TAR=${BENCH_GOAL_TAR:-1.8}
BENCH_GOAL_PIGZ=${BENCH_GOAL_PIGZ:-0.95}
BENCH_GOAL_RESTORE=${BENCH_GOAL_RESTORE:-1.0}
TIME=/usr/bin/time

die() { echo "backup bench: $*" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maximum() { printf '%s\n' "$@" | sort -g | tail -1; }
mib() { calc "$1 / 1048576"; }
below() { awk "BEGIN { exit !($1 < $2) }"; }

for t in tar gzip pigz python3 openssl diff awk; do command -v "$t" >/dev/null || die "'$t' is required"; done
[ -x "$TIME" ] || die "$TIME is required (Debian package 'time')"
[ -x "$BUILD_DIR/agent/airlock" ] || die "$BUILD_DIR/agent/airlock not found: build it or set AIRLOCK_BUILD_DIR"

if [ -d "$BENCH_DIR" ] && [ ! -e "$BENCH_DIR/.airlock-bench" ] && [ -n "$(ls -A "$BENCH_DIR")" ]; then
  die "$BENCH_DIR exists, is not empty and was not made by this script; set BENCH_DIR elsewhere"
fi
mkdir -p "$BENCH_DIR/bin"
touch "$BENCH_DIR/.airlock-bench"
cleanup() {
  if [ "$BENCH_KEEP" = 1 ]; then echo "backup bench: kept $BENCH_DIR" >&2; else rm -rf "$BENCH_DIR"; fi
}
trap cleanup EXIT
cp "$BUILD_DIR/agent/airlock" "$BUILD_DIR/bundle-tool/airlock-bundle" "$BENCH_DIR/bin/"
AIRLOCK=$BENCH_DIR/bin/airlock
BUNDLE_TOOL=$BENCH_DIR/bin/airlock-bundle

# Writes the deterministic mixed tree of about TOTAL_MIB into DIR (the same generator as scripts/bench.sh had).
make_tree() {
  local dir=$1 total_mib=$2
  local big_mib=$((total_mib / 2)) each=64 n i size left
  mkdir -p "$dir/blobs"
  ((big_mib < each)) && each=$((big_mib > 0 ? big_mib : 1))
  n=$(((big_mib + each - 1) / each))
  left=$big_mib
  for ((i = 0; i < n && left > 0; i++)); do
    size=$((left < each ? left : each))
    left=$((left - size))
    head -c $((size * 1048576)) /dev/zero |
      openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$i")" -iv 0 -out "$dir/blobs/blob-$i.bin" 2>/dev/null
  done
  python3 - "$dir" "$((total_mib * 1048576 / 4))" "$((total_mib * 1048576 - total_mib * 1048576 / 4 - big_mib * 1048576))" <<'PY'
import os, random, sys
root, small_budget, medium_budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(20261129)
written, n = 0, 0
while written < small_budget:
    d = os.path.join(root, "logs", "d%02d" % (n // 1000 % 40), "s%02d" % (n // 50 % 20))
    os.makedirs(d, exist_ok=True)
    target = min(rng.randint(4096, 16384), small_budget - written)
    lines, size, k = [], 0, 0
    while size < target:
        line = "2026-11-29T12:%02d:%02dZ INFO worker-%d request %d handled in %d ms path=/api/v1/items/%d\n" % (
            k // 60 % 60, k % 60, n % 8, n * 1000 + k, (k * 7) % 250, (n + k) % 997)
        lines.append(line); size += len(line); k += 1
    data = "".join(lines).encode()[:target]
    with open(os.path.join(d, "app-%06d.log" % n), "wb") as f:
        f.write(data)
    written += len(data); n += 1
written, m = 0, 0
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
while written < medium_budget:
    d = os.path.join(root, "db", "g%d" % (m % 5))
    os.makedirs(d, exist_ok=True)
    target = min(rng.randint(1 << 20, 4 << 20), medium_budget - written)
    parts, size, r = [], 0, 0
    while size < target:
        row = "%d,%s,%s,%08x,%d.%02d,%s\n" % (r, words[rng.randrange(10)], words[rng.randrange(10)],
            rng.getrandbits(32), rng.randrange(100000), rng.randrange(100), "ok" if rng.random() < 0.9 else "retry")
        parts.append(row); size += len(row); r += 1
    data = "".join(parts).encode()[:target]
    with open(os.path.join(d, "table-%04d.csv" % m), "wb") as f:
        f.write(data)
    written += len(data); m += 1
print("small files: %d, medium files: %d" % (n, m))
PY
}

# timed NAME CMD...: runs CMD (output to $W/logs/NAME.log) under /usr/bin/time; appends wall, CPU and RSS to the
# arrays wall_NAME, cpu_NAME, rss_NAME (NAME: a shell word). Dies with the log when CMD fails.
timed() {
  local name=$1 t0 t1 u s r; shift
  sync
  t0=$(now)
  "$TIME" -f '%U %S %M' -o "$W/logs/$name.time" "$@" >"$W/logs/$name.log" 2>&1 ||
    { cat "$W/logs/$name.log" >&2; die "failed: $*"; }
  t1=$(now)
  read -r u s r < <(tail -1 "$W/logs/$name.time")
  eval "wall_$name+=($(calc "$t1 - $t0")) cpu_$name+=($(calc "$u + $s")) rss_$name+=($r)"
}
show() { printf '$'; printf ' %q' "$@"; printf '\n'; }
newest_backup() {
  "$AIRLOCK" backup list --json --config "$CONF" | python3 -c '
import json, sys
b = [x for x in json.load(sys.stdin) if x.get("status") == "complete"]
print(max(b, key=lambda x: (x["created_at"], x["id"]))["id"] if b else "")'
}

say "machine"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:      $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), nproc $(nproc)"
echo "memory:   $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "kernel:   $(uname -r); filesystem of $BENCH_DIR: $(df -T "$BENCH_DIR" | awk 'NR == 2 { print $2 }')"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
echo "airlock:  $("$AIRLOCK" --version | head -1)"
echo "tools:    $(tar --version | head -1), $(gzip --version | head -1), $(pigz --version 2>&1 | head -1)"
started=$(now)
status=0
summary=()

"$BUNDLE_TOOL" key generate --out "$BENCH_DIR/key.pem" >/dev/null 2>&1
"$BUNDLE_TOOL" repo init "$BENCH_DIR/repo" --app bench --root-key "$BENCH_DIR/key.pem" --targets-key "$BENCH_DIR/key.pem" \
  --snapshot-key "$BENCH_DIR/key.pem" --timestamp-key "$BENCH_DIR/key.pem" >/dev/null

for size_mib in $BENCH_SIZES_MIB; do
  W=$BENCH_DIR/$size_mib
  SITE=$W/opt/bench CONF=$W/airlock.conf
  rm -rf "$W"
  mkdir -p "$W/logs"
  say "$size_mib MiB: site and tree"
  "$AIRLOCK" init --app bench --install-root "$W/opt" --state-dir "$W/state" \
    --trusted-root "$BENCH_DIR/repo/metadata/1.root.json" --config "$CONF" >/dev/null
  mkdir -p "$SITE/releases/1.0.0"
  printf 'services:\n  bench:\n    image: bench:1\n' >"$SITE/releases/1.0.0/docker-compose.yml"
  printf 'BENCH=1\nLOG_LEVEL=info\n' >"$SITE/site/site.env"
  ln -sfn releases/1.0.0 "$SITE/current"
  make_tree "$SITE/data" "$size_mib"
  tree_bytes=$(du -sb "$SITE/data" "$SITE/site" | awk '{ s += $1 } END { print s }')
  printf 'tree: %s bytes (%.1f MiB) in %d files\n' "$tree_bytes" "$(mib "$tree_bytes")" \
    "$(find "$SITE/data" "$SITE/site" -type f | wc -l)"
  ref=$W/reference
  mkdir -p "$ref"
  tar -C "$SITE" -cf - data site current | tar -C "$ref" -xf -
  find "$SITE" -type f -print0 | xargs -0 cat >/dev/null

  unset wall_apar wall_aone wall_tgz wall_pigz wall_arst wall_tsync wall_tar
  wall_apar=() cpu_apar=() rss_apar=() wall_aone=() cpu_aone=() rss_aone=() wall_tgz=() cpu_tgz=() rss_tgz=()
  wall_pigz=() cpu_pigz=() rss_pigz=() wall_arst=() cpu_arst=() rss_arst=() wall_tsync=() cpu_tsync=() rss_tsync=()
  wall_tar=() cpu_tar=() rss_tar=()
  out_tgz=$W/tar.tar.gz out_pigz=$W/pigz.tar.gz fresh=$W/fresh

  say "$size_mib MiB: create, $BENCH_RUNS rounds (commands as run, in $SITE)"
  show "$AIRLOCK" backup create --level 6 --config "$CONF"
  show "$AIRLOCK" backup create --level 6 --threads 1 --config "$CONF"
  show tar -czf "$out_tgz" -C "$SITE" data site current
  show tar -I 'pigz -6' -cf "$out_pigz" -C "$SITE" data site current
  order=(apar aone tgz pigz)
  for ((i = 1; i <= BENCH_RUNS; i++)); do
    for c in "${order[@]}"; do
      case $c in
        apar) "$AIRLOCK" backup prune --keep 0 --config "$CONF" >/dev/null
              timed apar "$AIRLOCK" backup create --level 6 --config "$CONF"
              size_apar=$(stat -c %s "$W/state/backups/$(newest_backup).tar.gz") ;;
        aone) "$AIRLOCK" backup prune --keep 0 --config "$CONF" >/dev/null
              timed aone "$AIRLOCK" backup create --level 6 --threads 1 --config "$CONF"
              size_aone=$(stat -c %s "$W/state/backups/$(newest_backup).tar.gz")
              gzip -t "$W/state/backups/$(newest_backup).tar.gz" || die "gzip -t fails on the one-thread backup" ;;
        tgz) rm -f "$out_tgz"; timed tgz tar -czf "$out_tgz" -C "$SITE" data site current ;;
        pigz) rm -f "$out_pigz"; timed pigz tar -I 'pigz -6' -cf "$out_pigz" -C "$SITE" data site current ;;
      esac
    done
    order=("${order[@]:1}" "${order[0]}")
    printf 'round %d: airlock %s s, airlock --threads 1 %s s, tar -czf %s s, tar -I pigz %s s\n' "$i" \
      "${wall_apar[-1]}" "${wall_aone[-1]}" "${wall_tgz[-1]}" "${wall_pigz[-1]}"
  done
  # The restores below use a backup from the default (parallel) path.
  "$AIRLOCK" backup prune --keep 0 --config "$CONF" >/dev/null
  "$AIRLOCK" backup create --level 6 --config "$CONF" >/dev/null
  id=$(newest_backup)
  backup_file=$W/state/backups/$id.tar.gz
  gzip -t "$backup_file" || die "gzip -t fails on $backup_file"
  echo "gzip -t: ok ($backup_file)"

  say "$size_mib MiB: restore of $id, $BENCH_RUNS rounds"
  show "$AIRLOCK" backup restore "$id" --yes --config "$CONF"
  show sh -c "tar -xzf $backup_file -C $fresh && sync"
  show tar -xzf "$backup_file" -C "$fresh"
  order=(arst tsync tar)
  for ((i = 1; i <= BENCH_RUNS; i++)); do
    for c in "${order[@]}"; do
      case $c in
        arst) timed arst "$AIRLOCK" backup restore "$id" --yes --config "$CONF" ;;
        tsync) rm -rf "$fresh"; mkdir -p "$fresh"; sync
               timed tsync sh -c 'tar -xzf "$1" -C "$2" && sync' sh "$backup_file" "$fresh" ;;
        tar) rm -rf "$fresh"; mkdir -p "$fresh"; sync; timed tar tar -xzf "$backup_file" -C "$fresh" ;;
      esac
    done
    order=("${order[@]:1}" "${order[0]}")
    printf 'round %d: airlock restore %s s, tar -xzf && sync %s s, tar -xzf %s s\n' "$i" "${wall_arst[-1]}" \
      "${wall_tsync[-1]}" "${wall_tar[-1]}"
  done
  diff -r --no-dereference "$ref" "$fresh" >/dev/null || die "tar -xzf of $backup_file differs from the tree"
  for p in data site current; do
    diff -r --no-dereference "$ref/$p" "$SITE/$p" >/dev/null || die "airlock backup restore: $p differs from the tree"
  done
  echo "restored trees identical to the original (diff -r): airlock's restore, and tar -xzf of airlock's backup"

  say "$size_mib MiB: results (median of $BENCH_RUNS; tree $tree_bytes bytes)"
  printf '| %-44s | %9s | %8s | %9s | %10s | %13s |\n' contender "wall (s)" "MiB/s" "CPU (s)" "RSS (KiB)" "output (B)"
  printf '| %-44s | %9s | %8s | %9s | %10s | %13s |\n' -------------------------------------------- --------- \
    -------- --------- ---------- -------------
  row() { # row LABEL NAME OUTPUT
    local w c r
    eval "w=\$(median \"\${wall_$2[@]}\") c=\$(median \"\${cpu_$2[@]}\") r=\$(maximum \"\${rss_$2[@]}\")"
    printf '| %-44s | %9.3f | %8.1f | %9.2f | %10s | %13s |\n' "$1" "$w" "$(calc "$tree_bytes / $w / 1048576")" "$c" "$r" "$3"
    printf -v "med_$2" '%s' "$w"
  }
  row "airlock backup create --level 6 ($(nproc) CPUs)" apar "$size_apar"
  row "airlock backup create --level 6 --threads 1" aone "$size_aone"
  row "tar -czf" tgz "$(stat -c %s "$out_tgz")"
  row "tar -I 'pigz -6' -cf" pigz "$(stat -c %s "$out_pigz")"
  row "airlock backup restore ID --yes" arst ""
  row "tar -xzf BACKUP -C fresh && sync" tsync ""
  row "tar -xzf BACKUP -C fresh" tar ""
  r_tgz=$(calc "$med_tgz / $med_apar") r_pigz=$(calc "$med_pigz / $med_apar") r_one=$(calc "$med_aone / $med_apar")
  r_size=$(calc "$size_apar / $size_aone") r_rst=$(calc "$med_tsync / $med_arst") r_tar=$(calc "$med_tar / $med_arst")
  rss=$(maximum "${rss_apar[@]}" "${rss_aone[@]}" "${rss_arst[@]}")
  printf 'create:  tar -czf / airlock %.3f (goal >= %s), tar -I pigz / airlock %.3f (goal >= %s), --threads 1 / default %.3f\n' \
    "$r_tgz" "$BENCH_GOAL_TAR" "$r_pigz" "$BENCH_GOAL_PIGZ" "$r_one"
  printf 'size:    parallel / one stream %.5f (goal <= 1.01); tar -czf %s, pigz %s bytes\n' "$r_size" \
    "$(stat -c %s "$out_tgz")" "$(stat -c %s "$out_pigz")"
  printf 'restore: (tar -xzf && sync) / airlock %.3f (goal >= %s); plain tar -xzf / airlock %.3f\n' "$r_rst" \
    "$BENCH_GOAL_RESTORE" "$r_tar"
  printf 'airlock peak RSS: %s KiB (limit %s MiB)\n' "$rss" "$BENCH_RSS_LIMIT_MIB"
  echo "runs (wall s): create ${wall_apar[*]} | --threads 1 ${wall_aone[*]} | tar -czf ${wall_tgz[*]} | pigz ${wall_pigz[*]}"
  echo "               restore ${wall_arst[*]} | tar+sync ${wall_tsync[*]} | tar ${wall_tar[*]}"
  verdict() { if below "$1" "$2"; then echo MISSED; else echo met; fi; }
  summary+=("$(printf '%5s MiB: create %.2fx tar -czf (%s), %.2fx pigz (%s), size %.4f (%s); restore %.2fx tar+sync (%s); RSS %s KiB' \
    "$size_mib" "$r_tgz" "$(verdict "$r_tgz" "$BENCH_GOAL_TAR")" "$r_pigz" "$(verdict "$r_pigz" "$BENCH_GOAL_PIGZ")" \
    "$r_size" "$(verdict 1.01 "$r_size")" "$r_rst" "$(verdict "$r_rst" "$BENCH_GOAL_RESTORE")" "$rss")")
  if ((rss > BENCH_RSS_LIMIT_MIB * 1024)); then
    echo "FAIL: airlock peak RSS $rss KiB is above $BENCH_RSS_LIMIT_MIB MiB" >&2
    status=1
  fi
  echo "load now: $(cut -d' ' -f1-3 /proc/loadavg)"
  rm -rf "$ref" "$fresh" "$out_tgz" "$out_pigz" "$SITE/data" "$W/state/backups"/*.tar.gz
done

say "summary (goals: create >= $BENCH_GOAL_TAR x tar -czf and >= $BENCH_GOAL_PIGZ x pigz, size <= 1.01 x one stream; restore >= $BENCH_GOAL_RESTORE x tar -xzf && sync)"
printf '%s\n' "${summary[@]}"
printf 'runtime: %.0f s; load at end: %s\n' "$(calc "$(now) - $started")" "$(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
