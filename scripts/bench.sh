#!/usr/bin/env bash
# Benchmarks of the built binaries. Results go to stdout; docs/benchmarks.md records measured runs.
#   scripts/bench.sh [all|verify|backup|download|load|sizes] (default: all)
#
#   verify  `airlock verify` of a large signed bundle against `openssl dgst -sha256` over the same payload
#           bytes, in the same run: median wall time of BENCH_RUNS alternating runs, throughput, ratio, and
#           airlock's peak RSS. Exits non-zero when the peak RSS is above BENCH_RSS_LIMIT_MIB (a hard limit:
#           the bundle reader must stream); a ratio below BENCH_MIN_RATIO is reported, not fatal.
#   backup  `airlock backup create --level 6` of a generated mixed tree (data/, site/, current) against
#           `tar -I 'gzip -6' -cf` of the same tree, and `airlock backup restore` against `tar -xzf` of the same
#           backup file, in the same run: median wall/CPU of BENCH_RUNS alternating runs, ratios tar/airlock
#           (>= 1.0 means airlock is as fast or faster), output sizes and airlock's peak RSS. Exits non-zero when
#           the peak RSS is above BENCH_RSS_LIMIT_MIB; a ratio below BENCH_BACKUP_MIN_RATIO is reported, not fatal.
#   download  the agent's online download (`airlock upgrade --download-only`) of one target of about
#           BENCH_DOWNLOAD_MIB from our own nginx on 127.0.0.1:BENCH_HTTP_PORT against `curl -o` of the same URL, in
#           the same run: median wall time and MiB/s of BENCH_RUNS alternating runs, the ratio agent/curl
#           throughput (goal >= BENCH_DOWNLOAD_MIN_RATIO, reported, not fatal), curl + sha256sum and curl + sync
#           as references (the agent hashes while streaming and fsyncs before the rename), and the agent's peak
#           RSS (exits non-zero above BENCH_RSS_LIMIT_MIB). Then resume: SIGKILL the agent when the partial file
#           holds 50%, run it again, and count from nginx's access log the body bytes the second run fetched (exits
#           non-zero above BENCH_RESUME_MAX_PCT of the file, or when the result's SHA-256 is wrong). Needs nginx,
#           curl and python3; no docker engine (DOCKER_HOST points at a dead socket for the agent).
#   load    the agent's image load (the `load` step of `airlock import --stage-only`, timed by the agent's JSON log)
#           against `docker load -i` of the same archive, in the same run, alternating, each after `docker rmi`:
#           median wall time and the ratio agent/docker (goal <= BENCH_LOAD_MAX_RATIO); then the load step again
#           with the image already present (goal: no load, near zero time). Needs a docker engine (DOCKER_HOST)
#           and docker-compose; the image holds the static test service plus BENCH_LOAD_MIB of random bytes.
#   sizes   sizes of airlock and airlock-bundle in build/x86_64 and build/aarch64 (when present).
#
# Environment:
#   AIRLOCK_BUILD_DIR    binaries to measure (default build/x86_64, relative to the repository root)
#   BENCH_DIR            scratch directory (default /tmp/airlock-bench); removed at the end unless BENCH_KEEP=1.
#                        With BENCH_KEEP=1 a later run of the same size reuses the bundle (verify) and the
#                        repository (download) it made.
#   BENCH_BUNDLE_MIB     payload size of the verify bundle in MiB (default 2048)
#   BENCH_IMAGE_MIB      size of each image archive the payload is split into (default 512)
#   BENCH_RUNS           timed runs of each contender (default 3)
#   BENCH_RSS_LIMIT_MIB  hard limit on airlock's peak RSS (default 64)
#   BENCH_MIN_RATIO      throughput goal, airlock / openssl (default 0.9)
#   BENCH_BACKUP_MIB     size of the generated backup tree in MiB (default 1024; about half compressible)
#   BENCH_BACKUP_MIN_RATIO  backup/restore goal, tar time / airlock time (default 1.0)
#   BENCH_DOWNLOAD_MIB   random payload of the download benchmark's release in MiB (default 1024; the
#                        app.tar.gz target is about 0.03% larger: random bytes do not compress)
#   BENCH_HTTP_PORT      loopback port of the download benchmark's nginx (default 18090)
#   BENCH_DOWNLOAD_MIN_RATIO  download goal, agent throughput / curl throughput (default 0.9)
#   BENCH_RESUME_MAX_PCT hard limit on the share of the file a resumed download fetches again (default 51)
#   BENCH_LOAD_MIB       random payload of the load benchmark's image in MiB (default 256)
#   BENCH_LOAD_MAX_RATIO image-load goal, agent time / docker load time (default 1.05)
#
# The page cache is warmed equally for both contenders (every file read once beforehand); caches are never
# dropped, so this measures hashing and I/O-path overhead, not the disk (except where a contender makes its output
# durable: the agent's download fsyncs the file, so does curl + sync; backup restore fsyncs, so does tar + sync).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

BUILD_DIR=${AIRLOCK_BUILD_DIR:-build/x86_64}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$root/$BUILD_DIR ;; esac
BENCH_DIR=${BENCH_DIR:-/tmp/airlock-bench}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_BUNDLE_MIB=${BENCH_BUNDLE_MIB:-2048}
BENCH_IMAGE_MIB=${BENCH_IMAGE_MIB:-512}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_RSS_LIMIT_MIB=${BENCH_RSS_LIMIT_MIB:-64}
BENCH_MIN_RATIO=${BENCH_MIN_RATIO:-0.9}
BENCH_BACKUP_MIB=${BENCH_BACKUP_MIB:-1024}
BENCH_BACKUP_MIN_RATIO=${BENCH_BACKUP_MIN_RATIO:-1.0}
BENCH_DOWNLOAD_MIB=${BENCH_DOWNLOAD_MIB:-1024}
BENCH_HTTP_PORT=${BENCH_HTTP_PORT:-18090}
BENCH_DOWNLOAD_MIN_RATIO=${BENCH_DOWNLOAD_MIN_RATIO:-0.9}
BENCH_RESUME_MAX_PCT=${BENCH_RESUME_MAX_PCT:-51}
BENCH_NGINX_PID_FILE=

AIRLOCK=$BUILD_DIR/agent/airlock
BUNDLE_TOOL=$BUILD_DIR/bundle-tool/airlock-bundle
TIME=/usr/bin/time

die() { echo "bench: $*" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
# Floating-point arithmetic: calc 'EXPR' (awk syntax).
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
# Median of the numbers given as arguments (lower middle for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mib() { calc "$1 / 1048576"; }

# ---------------------------------------------------------------------------------------------------- common

need_tools() {
  if [ ! -x "$TIME" ]; then
    echo "bench: $TIME is missing; installing Debian package 'time'" >&2
    apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
  fi
  local t
  for t in openssl unzip gzip tar sha256sum awk; do
    command -v "$t" >/dev/null || die "'$t' is required"
  done
  [ -x "$AIRLOCK" ] || die "$AIRLOCK not found: build it (scripts/build.sh x86_64) or set AIRLOCK_BUILD_DIR"
  [ -x "$BUNDLE_TOOL" ] || die "$BUNDLE_TOOL not found: build it or set AIRLOCK_BUILD_DIR"
}

# The scratch directory carries a marker so that cleanup never removes a directory this script did not make.
setup_dir() {
  if [ -d "$BENCH_DIR" ] && [ ! -e "$BENCH_DIR/.airlock-bench" ] && [ -n "$(ls -A "$BENCH_DIR")" ]; then
    die "$BENCH_DIR exists, is not empty and was not made by this script; set BENCH_DIR elsewhere"
  fi
  mkdir -p "$BENCH_DIR"
  touch "$BENCH_DIR/.airlock-bench"
  trap cleanup EXIT
}

cleanup() {
  if [ "$BENCH_KEEP" = 1 ]; then
    echo "bench: kept $BENCH_DIR (BENCH_KEEP=1)" >&2
  elif [ -e "$BENCH_DIR/.airlock-bench" ]; then
    rm -rf "$BENCH_DIR"
  fi
}

machine() {
  say "machine"
  echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu:      $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), nproc $(nproc)"
  echo "sha_ni:   $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
  echo "memory:   $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel:   $(uname -r)"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
  echo "airlock:  $("$AIRLOCK" --version | head -1)"
  echo "openssl:  $(openssl version)"
}

# run_measured OUT_PREFIX CMD...: runs CMD with stdout/stderr to OUT_PREFIX.log; prints
# "WALL_SECONDS USER_SECONDS SYS_SECONDS PEAK_RSS_KIB". Fails (with the log) when CMD fails.
run_measured() {
  local out=$1; shift
  local t0 t1
  t0=$(now)
  if ! "$TIME" -f '%U %S %M' -o "$out.time" "$@" >"$out.log" 2>&1; then
    cat "$out.log" >&2
    die "failed: $*"
  fi
  t1=$(now)
  echo "$(calc "$t1 - $t0") $(tail -1 "$out.time")"
}

# ---------------------------------------------------------------------------------------------------- sizes

bench_sizes() {
  say "binary sizes (bytes, stat -c %s)"
  printf '| %-8s | %-14s | %12s |\n' arch binary bytes
  printf '| %-8s | %-14s | %12s |\n' -------- -------------- ------------
  local arch f
  for arch in x86_64 aarch64; do
    for f in agent/airlock bundle-tool/airlock-bundle; do
      if [ -f "$root/build/$arch/$f" ]; then
        printf '| %-8s | %-14s | %12s |\n' "$arch" "$(basename "$f")" "$(stat -c %s "$root/build/$arch/$f")"
      else
        printf '| %-8s | %-14s | %12s |\n' "$arch" "$(basename "$f")" "(not built)"
      fi
    done
  done
  case $BUILD_DIR in
    "$root/build/x86_64" | "$root/build/aarch64") ;;
    *) for f in agent/airlock bundle-tool/airlock-bundle; do
         [ -f "$BUILD_DIR/$f" ] && printf '| %-8s | %-14s | %12s |\n' "$(basename "$BUILD_DIR")" "$(basename "$f")" \
           "$(stat -c %s "$BUILD_DIR/$f")"
       done ;;
  esac
}

# ---------------------------------------------------------------------------------------------------- verify

# One "docker save"-like archive: manifest.json first (what release add reads), a config blob, and an
# incompressible blob of SIZE_MIB, gzipped with -1 (a .tar.gz is published as is).
make_image_archive() {
  local dir=$1 index=$2 size_mib=$3 out=$4
  local d="$dir/img-$index" h
  rm -rf "$d"
  mkdir -p "$d/blobs/sha256"
  printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]},"bench":%d}' \
    "$index" >"$d/config.json"
  h=$(sha256sum "$d/config.json" | cut -c1-64)
  mv "$d/config.json" "$d/blobs/sha256/$h"
  printf '[{"Config":"blobs/sha256/%s","RepoTags":["bench:%d"],"Layers":[]}]\n' "$h" "$index" >"$d/manifest.json"
  openssl rand -out "$d/blobs/sha256/payload" $((size_mib * 1048576))
  tar -C "$d" --owner=0 --group=0 --numeric-owner -cf - manifest.json blobs | gzip -1 >"$out.part"
  mv "$out.part" "$out"
  rm -rf "$d"
}

# Builds $w/bundle.airlock (repository, keys, one release whose images make up the payload) and extracts its
# target files into $w/payload for openssl. Reused when BENCH_KEEP=1 left one of the same size.
make_verify_fixture() {
  local w=$1
  local stamp
  stamp="mib=$BENCH_BUNDLE_MIB image_mib=$BENCH_IMAGE_MIB tool=$(stat -c %s "$BUNDLE_TOOL")"
  if [ -f "$w/fixture.ok" ] && [ "$(cat "$w/fixture.ok")" = "$stamp" ]; then
    echo "reusing the fixture in $w ($stamp)"
    return
  fi
  rm -rf "$w"
  mkdir -p "$w/src" "$w/images"
  local k
  for k in root targets snapshot timestamp; do
    "$BUNDLE_TOOL" key generate --out "$w/$k.pem" >/dev/null 2>&1
  done
  "$BUNDLE_TOOL" repo init "$w/repo" --app bench --root-key "$w/root.pem" --targets-key "$w/targets.pem" \
    --snapshot-key "$w/snapshot.pem" --timestamp-key "$w/timestamp.pem" >/dev/null
  printf 'services:\n  bench:\n    image: bench:0\n' >"$w/src/docker-compose.yml"
  printf '{"version": "1.0.0"}\n' >"$w/src/airlock-release.json"

  # Split the payload into image archives; gzip them in parallel, one per core.
  local n=$(((BENCH_BUNDLE_MIB + BENCH_IMAGE_MIB - 1) / BENCH_IMAGE_MIB)) i left size jobs t0 t1
  jobs=$(nproc)
  local args=()
  t0=$(now)
  left=$BENCH_BUNDLE_MIB
  for ((i = 0; i < n; i++)); do
    size=$((left < BENCH_IMAGE_MIB ? left : BENCH_IMAGE_MIB))
    left=$((left - size))
    make_image_archive "$w/images" "$i" "$size" "$w/images/image-$i.tar.gz" &
    args+=(--image-archive "$w/images/image-$i.tar.gz")
    if (((i + 1) % jobs == 0)); then wait; fi
  done
  wait
  for ((i = 0; i < n; i++)); do [ -f "$w/images/image-$i.tar.gz" ] || die "image archive $i was not made"; done
  t1=$(now)
  printf 'made %d image archive(s), %.1f MiB in total, in %.1f s (openssl rand | tar | gzip -1)\n' "$n" \
    "$(mib "$(du -cb "$w/images"/image-*.tar.gz | tail -1 | cut -f1)")" "$(calc "$t1 - $t0")"

  local m wall user sys rss
  m=$(run_measured "$w/release-add" "$BUNDLE_TOOL" release add "$w/repo" "$w/src" --arch x86_64 "${args[@]}" \
    --key "$w/targets.pem" --key "$w/snapshot.pem" --key "$w/timestamp.pem")
  read -r wall user sys rss <<<"$m"
  printf 'release add:   %6.1f s wall, %5.1f s user, %5.1f s sys, peak RSS %s KiB\n' "$wall" "$user" "$sys" "$rss"
  m=$(run_measured "$w/export" "$BUNDLE_TOOL" bundle export "$w/repo" --version 1.0.0 --arch x86_64 \
    --out "$w/bundle.airlock")
  read -r wall user sys rss <<<"$m"
  printf 'bundle export: %6.1f s wall, %5.1f s user, %5.1f s sys, peak RSS %s KiB\n' "$wall" "$user" "$sys" "$rss"
  rm -rf "$w/images" # the repository and the bundle hold copies

  # The same bytes for openssl: every target file of the bundle (not the TUF metadata, which is signed JSON).
  unzip -q "$w/bundle.airlock" 'targets/*' -d "$w/payload"
  echo "$stamp" >"$w/fixture.ok"
}

bench_verify() {
  local w=$BENCH_DIR/verify
  say "verify: fixture (${BENCH_BUNDLE_MIB} MiB payload in ${BENCH_IMAGE_MIB} MiB image archives)"
  make_verify_fixture "$w"
  local bundle=$w/bundle.airlock trusted=$w/repo/metadata/1.root.json
  mapfile -t files < <(find "$w/payload" -type f | sort)
  local bundle_bytes payload_bytes
  bundle_bytes=$(stat -c %s "$bundle")
  payload_bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)
  printf 'bundle: %s bytes (%.1f MiB), %d target files, %s payload bytes\n' "$bundle_bytes" \
    "$(mib "$bundle_bytes")" "${#files[@]}" "$payload_bytes"

  # Sanity: airlock verifies exactly these bytes, and openssl's digests are the signed ones (the target file
  # names carry their SHA-256), so both contenders hash identical data.
  "$AIRLOCK" verify "$bundle" --trusted-root "$trusted" --json >"$w/verify.json"
  local verified
  verified=$(grep -o '"verified_bytes":[0-9]*' "$w/verify.json" | cut -d: -f2)
  [ "$verified" = "$payload_bytes" ] || die "airlock verified $verified bytes but the bundle holds $payload_bytes target bytes"
  openssl dgst -sha256 -r "${files[@]}" | while read -r digest name; do
    case $(basename "${name#\*}") in "$digest".*) ;; *) die "openssl digest $digest does not match ${name#\*}" ;; esac
  done

  say "verify: warm the page cache (each file read once)"
  cat "$bundle" >/dev/null
  cat "${files[@]}" >/dev/null

  say "verify: $BENCH_RUNS timed runs of each, alternating"
  local i c m a_wall=() a_cpu=() a_rss=() o_wall=() o_cpu=() o_rss=() wall user sys rss order
  for ((i = 1; i <= BENCH_RUNS; i++)); do
    # Alternate which contender goes first, so neither always follows the other.
    if ((i % 2)); then order="airlock openssl"; else order="openssl airlock"; fi
    for c in $order; do
      if [ "$c" = airlock ]; then
        m=$(run_measured "$w/run-airlock-$i" "$AIRLOCK" verify "$bundle" --trusted-root "$trusted")
        read -r wall user sys rss <<<"$m"
        a_wall+=("$wall") a_cpu+=("$(calc "$user + $sys")") a_rss+=("$rss")
      else
        m=$(run_measured "$w/run-openssl-$i" openssl dgst -sha256 "${files[@]}")
        read -r wall user sys rss <<<"$m"
        o_wall+=("$wall") o_cpu+=("$(calc "$user + $sys")") o_rss+=("$rss")
      fi
      printf 'run %d %-8s %7.3f s wall  %6.2f s user  %5.2f s sys  %7s KiB peak RSS\n' "$i" "$c" "$wall" "$user" "$sys" "$rss"
    done
  done

  local aw ow ac oc arss orss at ot ratio cratio
  aw=$(median "${a_wall[@]}") ow=$(median "${o_wall[@]}")
  ac=$(median "${a_cpu[@]}") oc=$(median "${o_cpu[@]}")
  arss=$(printf '%s\n' "${a_rss[@]}" | sort -n | tail -1) orss=$(printf '%s\n' "${o_rss[@]}" | sort -n | tail -1)
  at=$(calc "$payload_bytes / $aw / 1048576") ot=$(calc "$payload_bytes / $ow / 1048576")
  ratio=$(calc "$ow / $aw") cratio=$(calc "$oc / $ac")

  say "verify: results (median of $BENCH_RUNS; throughput = $payload_bytes payload bytes / median wall time)"
  printf '| %-48s | %12s | %12s | %15s | %14s |\n' contender "wall (s)" "MiB/s" "CPU u+s (s)" "peak RSS (KiB)"
  printf '| %-48s | %12s | %12s | %15s | %14s |\n' ------------------------------------------------ \
    ------------ ------------ --------------- --------------
  printf '| %-48s | %12.3f | %12.1f | %15.2f | %14s |\n' "airlock verify BUNDLE --trusted-root ROOT.json" "$aw" "$at" "$ac" "$arss"
  printf '| %-48s | %12.3f | %12.1f | %15.2f | %14s |\n' "openssl dgst -sha256 (${#files[@]} extracted target files)" "$ow" "$ot" "$oc" "$orss"
  printf 'ratio airlock/openssl: %.3f (throughput, wall time); %.3f (CPU time)\n' "$ratio" "$cratio"
  printf 'airlock peak RSS: %s KiB = %.1f MiB (limit %s MiB)\n' "$arss" "$(calc "$arss / 1024")" "$BENCH_RSS_LIMIT_MIB"
  echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

  local status=0
  if awk "BEGIN { exit !($ratio < $BENCH_MIN_RATIO) }"; then
    printf 'NOTE: airlock verify is below the %sx goal (%.3f of openssl'"'"'s throughput)\n' "$BENCH_MIN_RATIO" "$ratio"
  fi
  if ((arss > BENCH_RSS_LIMIT_MIB * 1024)); then
    echo "FAIL: airlock verify peak RSS $arss KiB is above the hard limit of $BENCH_RSS_LIMIT_MIB MiB" >&2
    status=1
  fi
  return $status
}

# ---------------------------------------------------------------------------------------------------- backup

# Writes a deterministic mixed tree of about TOTAL_MIB into DIR: half incompressible (large files from AES-CTR
# over zeros with a fixed key, so the bytes are the same on every run), a quarter many small log-like text
# files (4-16 KiB, repeated lines with counters) in nested directories, a quarter medium text files (1-4 MiB,
# lines with pseudo-random fields from a seeded generator). One python3 process writes all the text files.
make_backup_tree() {
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
# Small files: logs/<a>/<b>/app-<n>.log, 4-16 KiB of repeated lines with counters.
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
# Medium files: db/<group>/table-<n>.csv, 1-4 MiB of rows with pseudo-random fields (compress about 3:1).
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

# backup_id CONF: ID of the newest backup (airlock backup list --json lists the newest first; take the maximum
# created_at, then id, to not depend on the order).
backup_id() {
  "$AIRLOCK" backup list --json --config "$1" | python3 -c '
import json, sys
b = [x for x in json.load(sys.stdin) if x.get("status") == "complete"]
print(max(b, key=lambda x: (x["created_at"], x["id"]))["id"] if b else "")'
}

bench_backup() {
  local w=$BENCH_DIR/backup
  local site=$w/opt/bench conf=$w/airlock.conf
  say "backup: site and a ${BENCH_BACKUP_MIB} MiB generated tree"
  rm -rf "$w"
  mkdir -p "$w"
  "$BUNDLE_TOOL" key generate --out "$w/key.pem" >/dev/null 2>&1
  "$BUNDLE_TOOL" repo init "$w/repo" --app bench --root-key "$w/key.pem" --targets-key "$w/key.pem" \
    --snapshot-key "$w/key.pem" --timestamp-key "$w/key.pem" >/dev/null
  "$AIRLOCK" init --app bench --install-root "$w/opt" --state-dir "$w/state" \
    --trusted-root "$w/repo/metadata/1.root.json" --config "$conf" >/dev/null
  # site/ and current as a deployed site has them: a small env file and the symlink to the release directory.
  mkdir -p "$site/releases/1.0.0"
  printf 'services:\n  bench:\n    image: bench:1\n' >"$site/releases/1.0.0/docker-compose.yml"
  printf 'BENCH=1\nLOG_LEVEL=info\n' >"$site/site/site.env"
  ln -sfn releases/1.0.0 "$site/current"
  local t0 t1
  t0=$(now)
  make_backup_tree "$site/data" "$BENCH_BACKUP_MIB"
  t1=$(now)
  local tree_bytes tree_files
  tree_bytes=$(du -sb "$site/data" "$site/site" | awk '{ s += $1 } END { print s }')
  tree_files=$(find "$site/data" "$site/site" -type f | wc -l)
  printf 'tree: %s bytes (%.1f MiB) in %d files, generated in %.1f s\n' "$tree_bytes" "$(mib "$tree_bytes")" \
    "$tree_files" "$(calc "$t1 - $t0")"
  # Compressibility of the tree as a whole, for the record: the share of bytes in the incompressible blobs.
  printf 'incompressible share: %.1f%% (data/blobs)\n' \
    "$(calc "$(du -sb "$site/data/blobs" | cut -f1) * 100 / $tree_bytes")"

  say "backup: warm the page cache (each file read once)"
  find "$site" -type f -print0 | xargs -0 cat >/dev/null

  say "backup: create, $BENCH_RUNS timed runs of each, alternating"
  local tar_out=$w/tar-backup.tar.gz
  local i c m wall user sys rss order id
  local ac_wall=() ac_cpu=() ac_rss=() tc_wall=() tc_cpu=() tc_rss=()
  for ((i = 1; i <= BENCH_RUNS; i++)); do
    if ((i % 2)); then order="airlock tar"; else order="tar airlock"; fi
    for c in $order; do
      if [ "$c" = airlock ]; then
        "$AIRLOCK" backup prune --keep 0 --config "$conf" >/dev/null
        sync
        m=$(run_measured "$w/create-airlock-$i" "$AIRLOCK" backup create --level 6 --config "$conf")
        read -r wall user sys rss <<<"$m"
        ac_wall+=("$wall") ac_cpu+=("$(calc "$user + $sys")") ac_rss+=("$rss")
      else
        rm -f "$tar_out"
        sync
        m=$(run_measured "$w/create-tar-$i" tar -I 'gzip -6' -cf "$tar_out" -C "$site" data site current)
        read -r wall user sys rss <<<"$m"
        tc_wall+=("$wall") tc_cpu+=("$(calc "$user + $sys")") tc_rss+=("$rss")
      fi
      printf 'run %d %-8s %7.3f s wall  %6.2f s user  %5.2f s sys  %7s KiB peak RSS\n' "$i" "$c" "$wall" "$user" "$sys" "$rss"
    done
  done
  id=$(backup_id "$conf")
  [ -n "$id" ] || die "no complete backup after backup create"
  local backup_file a_size t_size
  backup_file=$(ls "$w/state/backups/$id".* 2>/dev/null | head -1)
  [ -f "$backup_file" ] || die "backup $id has no file in $w/state/backups"
  a_size=$(stat -c %s "$backup_file") t_size=$(stat -c %s "$tar_out")
  printf 'backup %s: %s bytes; tar: %s bytes\n' "$id" "$a_size" "$t_size"

  # Reference copy of the tree for the correctness check after the restores.
  local ref=$w/reference
  mkdir -p "$ref"
  tar -C "$site" -cf - data site current | tar -C "$ref" -xf -

  say "backup: restore of $id, $BENCH_RUNS timed runs of each, alternating (tar -xzf of the same backup file)"
  local fresh=$w/fresh
  local ar_wall=() ar_cpu=() ar_rss=() tr_wall=() tr_cpu=() tr_rss=() ts_wall=()
  for ((i = 1; i <= BENCH_RUNS; i++)); do
    if ((i % 2)); then order="airlock tar tarsync"; else order="tarsync tar airlock"; fi
    for c in $order; do
      if [ "$c" = airlock ]; then
        sync
        m=$(run_measured "$w/restore-airlock-$i" "$AIRLOCK" backup restore "$id" --yes --config "$conf")
        read -r wall user sys rss <<<"$m"
        ar_wall+=("$wall") ar_cpu+=("$(calc "$user + $sys")") ar_rss+=("$rss")
      elif [ "$c" = tar ]; then
        rm -rf "$fresh"
        mkdir -p "$fresh"
        sync
        m=$(run_measured "$w/restore-tar-$i" tar -xzf "$backup_file" -C "$fresh")
        read -r wall user sys rss <<<"$m"
        tr_wall+=("$wall") tr_cpu+=("$(calc "$user + $sys")") tr_rss+=("$rss")
      else
        # For reference only (not the goal's contender): tar followed by sync, since airlock's restore makes
        # the restored files durable before it returns and plain tar does not.
        rm -rf "$fresh"
        mkdir -p "$fresh"
        sync
        m=$(run_measured "$w/restore-tarsync-$i" sh -c 'tar -xzf "$1" -C "$2" && sync' sh "$backup_file" "$fresh")
        read -r wall user sys rss <<<"$m"
        ts_wall+=("$wall")
      fi
      printf 'run %d %-8s %7.3f s wall  %6.2f s user  %5.2f s sys  %7s KiB peak RSS\n' "$i" "$c" "$wall" "$user" "$sys" "$rss"
    done
  done
  # Both restores must give back the tree that was backed up.
  diff -r --no-dereference "$ref" "$fresh" >/dev/null || die "tar -xzf of the backup differs from the tree"
  local p
  for p in data site current; do
    diff -r --no-dereference "$ref/$p" "$site/$p" >/dev/null || die "airlock backup restore: $p differs from the tree"
  done
  echo "restored trees checked: identical to the backed-up tree (diff -r)"
  "$AIRLOCK" backup prune --keep 0 --config "$conf" >/dev/null

  local acw tcw acc tcc arw trw arc trc arss tcrss trrss crss_a rrss_a cr rr ccr rcr
  acw=$(median "${ac_wall[@]}") tcw=$(median "${tc_wall[@]}")
  acc=$(median "${ac_cpu[@]}") tcc=$(median "${tc_cpu[@]}")
  arw=$(median "${ar_wall[@]}") trw=$(median "${tr_wall[@]}")
  arc=$(median "${ar_cpu[@]}") trc=$(median "${tr_cpu[@]}")
  crss_a=$(printf '%s\n' "${ac_rss[@]}" | sort -n | tail -1) rrss_a=$(printf '%s\n' "${ar_rss[@]}" | sort -n | tail -1)
  tcrss=$(printf '%s\n' "${tc_rss[@]}" | sort -n | tail -1) trrss=$(printf '%s\n' "${tr_rss[@]}" | sort -n | tail -1)
  arss=$((crss_a > rrss_a ? crss_a : rrss_a))
  cr=$(calc "$tcw / $acw") rr=$(calc "$trw / $arw") ccr=$(calc "$tcc / $acc") rcr=$(calc "$trc / $arc")

  say "backup: results (median of $BENCH_RUNS; tree $tree_bytes bytes; MiB/s = tree bytes / median wall)"
  printf '| %-52s | %10s | %9s | %12s | %14s | %14s |\n' contender "wall (s)" "MiB/s" "CPU u+s (s)" "peak RSS (KiB)" "output (bytes)"
  printf '| %-52s | %10s | %9s | %12s | %14s | %14s |\n' ---------------------------------------------------- \
    ---------- --------- ------------ -------------- --------------
  printf '| %-52s | %10.3f | %9.1f | %12.2f | %14s | %14s |\n' "airlock backup create --level 6" "$acw" \
    "$(calc "$tree_bytes / $acw / 1048576")" "$acc" "$crss_a" "$a_size"
  printf '| %-52s | %10.3f | %9.1f | %12.2f | %14s | %14s |\n' "tar -I 'gzip -6' -cf OUT data site current" "$tcw" \
    "$(calc "$tree_bytes / $tcw / 1048576")" "$tcc" "$tcrss" "$t_size"
  printf '| %-52s | %10.3f | %9.1f | %12.2f | %14s | %14s |\n' "airlock backup restore ID --yes" "$arw" \
    "$(calc "$tree_bytes / $arw / 1048576")" "$arc" "$rrss_a" ""
  printf '| %-52s | %10.3f | %9.1f | %12.2f | %14s | %14s |\n' "tar -xzf BACKUP -C fresh/ (the same backup file)" "$trw" \
    "$(calc "$tree_bytes / $trw / 1048576")" "$trc" "$trrss" ""
  printf 'ratio tar/airlock, create:  %.3f (wall), %.3f (CPU); output size airlock/tar %.4f\n' "$cr" "$ccr" \
    "$(calc "$a_size / $t_size")"
  printf 'ratio tar/airlock, restore: %.3f (wall), %.3f (CPU)\n' "$rr" "$rcr"
  printf 'for reference, tar -xzf followed by sync: median %.3f s wall, ratio %.3f\n' "$(median "${ts_wall[@]}")" \
    "$(calc "$(median "${ts_wall[@]}") / $arw")"
  printf 'airlock peak RSS: %s KiB = %.1f MiB (limit %s MiB)\n' "$arss" "$(calc "$arss / 1024")" "$BENCH_RSS_LIMIT_MIB"
  echo "runs (wall s): create airlock ${ac_wall[*]}; tar ${tc_wall[*]}"
  echo "               restore airlock ${ar_wall[*]}; tar ${tr_wall[*]}; tar+sync ${ts_wall[*]}"
  echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

  local status=0
  if awk "BEGIN { exit !($cr < $BENCH_BACKUP_MIN_RATIO) }"; then
    printf 'NOTE: airlock backup create is below the %sx goal (%.3f of tar'"'"'s speed)\n' "$BENCH_BACKUP_MIN_RATIO" "$cr"
  fi
  if awk "BEGIN { exit !($rr < $BENCH_BACKUP_MIN_RATIO) }"; then
    printf 'NOTE: airlock backup restore is below the %sx goal (%.3f of tar'"'"'s speed)\n' "$BENCH_BACKUP_MIN_RATIO" "$rr"
  fi
  if ((arss > BENCH_RSS_LIMIT_MIB * 1024)); then
    echo "FAIL: airlock backup peak RSS $arss KiB is above the hard limit of $BENCH_RSS_LIMIT_MIB MiB" >&2
    status=1
  fi
  rm -rf "$ref" "$fresh" "$tar_out"
  return $status
}

# ---------------------------------------------------------------------------------------------------- download

# Repository for the download benchmark: keys, `repo init`, one release (no image: `--image` is optional) whose
# source tree holds BENCH_DOWNLOAD_MIB of random bytes, so its app.tar.gz target is about that large. Reused when
# BENCH_KEEP=1 left one of the same size. The served tree ($w/www) is world-readable: nginx's workers run as nobody.
make_download_fixture() {
  local w=$1
  local stamp
  stamp="mib=$BENCH_DOWNLOAD_MIB tool=$(stat -c %s "$BUNDLE_TOOL")"
  if [ -f "$w/fixture.ok" ] && [ "$(cat "$w/fixture.ok")" = "$stamp" ]; then
    echo "reusing the repository in $w/www/repo ($stamp)"
    return
  fi
  rm -rf "$w"
  mkdir -p "$w/keys" "$w/src" "$w/www"
  local k
  for k in root targets snapshot timestamp; do
    "$BUNDLE_TOOL" key generate --out "$w/keys/$k.pem" >/dev/null 2>&1
  done
  "$BUNDLE_TOOL" repo init "$w/www/repo" --app bench --root-key "$w/keys/root.pem" \
    --targets-key "$w/keys/targets.pem" --snapshot-key "$w/keys/snapshot.pem" \
    --timestamp-key "$w/keys/timestamp.pem" >/dev/null
  printf 'services:\n  bench:\n    image: bench:0\n' >"$w/src/docker-compose.yml"
  printf '{"version": "1.0.0"}\n' >"$w/src/airlock-release.json"
  local t0 t1 m wall user sys rss
  t0=$(now)
  openssl rand -out "$w/src/payload.bin" $((BENCH_DOWNLOAD_MIB * 1048576))
  t1=$(now)
  printf 'payload: %s MiB from openssl rand in %.1f s\n' "$BENCH_DOWNLOAD_MIB" "$(calc "$t1 - $t0")"
  m=$(run_measured "$w/release-add" "$BUNDLE_TOOL" release add "$w/www/repo" "$w/src" --arch x86_64 \
    --key "$w/keys/targets.pem" --key "$w/keys/snapshot.pem" --key "$w/keys/timestamp.pem")
  read -r wall user sys rss <<<"$m"
  printf 'release add: %6.1f s wall, %5.1f s user, %5.1f s sys, peak RSS %s KiB\n' "$wall" "$user" "$sys" "$rss"
  rm -rf "$w/src" # the repository holds it (as app.tar.gz)
  echo "$stamp" >"$w/fixture.ok"
}

# Our own nginx on 127.0.0.1:BENCH_HTTP_PORT serving $w/www, with an access log of the bytes each request sent.
start_bench_nginx() {
  local w=$1 n=$1/nginx
  if (: </dev/tcp/127.0.0.1/"$BENCH_HTTP_PORT") 2>/dev/null; then
    die "127.0.0.1:$BENCH_HTTP_PORT is already in use; set BENCH_HTTP_PORT"
  fi
  rm -rf "$n"
  mkdir -p "$n/tmp"
  cat >"$n/nginx.conf" <<NGINX
daemon on;
pid $n/nginx.pid;
error_log $n/error.log;
worker_processes 1;
events { worker_connections 64; }
http {
  log_format bench '\$msec \$status \$body_bytes_sent "\$request" range="\$http_range"';
  access_log $n/access.log bench;
  client_body_temp_path $n/tmp; proxy_temp_path $n/tmp; fastcgi_temp_path $n/tmp;
  uwsgi_temp_path $n/tmp; scgi_temp_path $n/tmp;
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:$BENCH_HTTP_PORT;
    server_name localhost;
    root $w/www;
    location / { autoindex off; }
  }
}
NGINX
  nginx -c "$n/nginx.conf" -e "$n/error.log" || die "nginx did not start (see $n/error.log)"
  BENCH_NGINX_PID_FILE=$n/nginx.pid
  local i
  for ((i = 0; i < 50; i++)); do
    (: </dev/tcp/127.0.0.1/"$BENCH_HTTP_PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  die "nginx does not answer on 127.0.0.1:$BENCH_HTTP_PORT (see $n/error.log)"
}

# Stops the nginx this script started (by the PID in its pid file); safe to call twice.
stop_bench_nginx() {
  local f=${BENCH_NGINX_PID_FILE:-} pid i
  [ -n "$f" ] && [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill "$pid" 2>/dev/null; then
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$f"
  BENCH_NGINX_PID_FILE=
}

# body_bytes LOG FROM_LINE PATH: the sum of $body_bytes_sent of the requests for PATH logged after line FROM_LINE.
body_bytes() {
  awk -v from="$2" -v p="$3" 'NR > from && index($0, "\"GET " p " ") { s += $3 } END { printf "%d\n", s }' "$1"
}

bench_download() {
  local w=$BENCH_DIR/download
  say "download: repository with one ${BENCH_DOWNLOAD_MIB} MiB random file, served by nginx on 127.0.0.1:$BENCH_HTTP_PORT"
  local t
  for t in nginx curl python3; do command -v "$t" >/dev/null || die "'$t' is required for the download benchmark"; done
  make_download_fixture "$w"
  chmod a+rx "$BENCH_DIR" "$w"
  chmod -R a+rX "$w/www"
  echo "nginx:    $(nginx -v 2>&1 | sed 's/^nginx version: //')"
  echo "curl:     $(curl --version | head -1 | cut -d' ' -f1-2)"

  local target sha bytes rel url
  target=$(find "$w/www/repo/targets" -name '*.app.tar.gz' | head -1)
  [ -f "$target" ] || die "no app.tar.gz target in $w/www/repo/targets"
  sha=$(basename "$target" .app.tar.gz)
  bytes=$(stat -c %s "$target")
  rel=${target#"$w/www"}
  url=http://127.0.0.1:$BENCH_HTTP_PORT$rel
  printf 'target:   %s, %s bytes (%.1f MiB)\n' "$rel" "$bytes" "$(mib "$bytes")"

  start_bench_nginx "$w"
  trap 'stop_bench_nginx; cleanup' EXIT
  local log=$w/nginx/access.log

  # The site: no docker engine is needed for --download-only; DOCKER_HOST names a socket nobody listens on, so
  # any docker call would fail the run.
  local conf=$w/airlock.conf state=$w/site/state
  local dl=$state/downloads nodocker=unix://$w/no-docker.sock
  rm -rf "$w/site"
  cat >"$conf" <<CONF
[app]
name = bench
install_root = $w/site/opt
[state]
dir = $state
[repository]
urls = http://127.0.0.1:$BENCH_HTTP_PORT/repo
CONF
  "$AIRLOCK" init --config "$conf" --trusted-root "$w/www/repo/metadata/1.root.json" >/dev/null

  say "download: warm-up (untimed): the agent's first run, which also trusts the metadata, and the page cache"
  cat "$target" >/dev/null
  env DOCKER_HOST="$nodocker" "$AIRLOCK" upgrade --download-only --yes --config "$conf" >"$w/warmup.log" 2>&1 \
    || { cat "$w/warmup.log" >&2; die "airlock upgrade --download-only failed"; }
  cat "$w/warmup.log"
  [ "$(sha256sum "$dl/$sha" | cut -c1-64)" = "$sha" ] || die "the agent's download $dl/$sha has the wrong SHA-256"
  echo "checked: $dl/$sha has the signed SHA-256 (sha256sum)"

  say "download: $BENCH_RUNS timed runs of each, alternating (sync before each; downloads/ emptied for the agent)"
  local out=$w/curl.out
  local i c m wall user sys rss order
  local a_wall=() a_cpu=() a_rss=() c_wall=() c_cpu=() h_wall=() h_cpu=() s_wall=() s_cpu=()
  for ((i = 1; i <= BENCH_RUNS; i++)); do
    if ((i % 2)); then order="airlock curl curl+sha curl+sync"; else order="curl+sync curl+sha curl airlock"; fi
    for c in $order; do
      rm -f "$dl"/* "$out"
      sync
      case $c in
        airlock)
          m=$(run_measured "$w/run-airlock-$i" env DOCKER_HOST="$nodocker" "$AIRLOCK" upgrade --download-only --yes \
            --config "$conf")
          read -r wall user sys rss <<<"$m"
          [ -f "$dl/$sha" ] || die "run $i: the agent left no $dl/$sha"
          a_wall+=("$wall") a_cpu+=("$(calc "$user + $sys")") a_rss+=("$rss") ;;
        curl)
          m=$(run_measured "$w/run-curl-$i" curl -fsS -o "$out" "$url")
          read -r wall user sys rss <<<"$m"
          c_wall+=("$wall") c_cpu+=("$(calc "$user + $sys")") ;;
        curl+sha)
          # shellcheck disable=SC2016 # expanded by sh -c
          m=$(run_measured "$w/run-curlsha-$i" sh -c 'curl -fsS -o "$1" "$2" && sha256sum "$1"' sh "$out" "$url")
          read -r wall user sys rss <<<"$m"
          [ "$(cut -c1-64 "$w/run-curlsha-$i.log")" = "$sha" ] || die "run $i: curl's file has the wrong SHA-256"
          h_wall+=("$wall") h_cpu+=("$(calc "$user + $sys")") ;;
        curl+sync)
          # shellcheck disable=SC2016 # expanded by sh -c
          m=$(run_measured "$w/run-curlsync-$i" sh -c 'curl -fsS -o "$1" "$2" && sync "$1"' sh "$out" "$url")
          read -r wall user sys rss <<<"$m"
          s_wall+=("$wall") s_cpu+=("$(calc "$user + $sys")") ;;
      esac
      printf 'run %d %-9s %7.3f s wall  %6.2f s user  %5.2f s sys  %7s KiB peak RSS\n' "$i" "$c" "$wall" "$user" "$sys" "$rss"
    done
  done
  rm -f "$out"

  say "download: resume: SIGKILL the agent at 50% of the file, then run it again to completion"
  local partial=$dl/$sha.partial half=$((bytes / 2)) pid killed_at resumed_at from1 from2 sent1 sent2 pct
  rm -f "$dl"/*
  sync
  from1=$(wc -l <"$log")
  env DOCKER_HOST="$nodocker" "$AIRLOCK" upgrade --download-only --yes --config "$conf" >"$w/resume-1.log" 2>&1 &
  pid=$!
  # Poll the partial file's size every millisecond; kill the agent as soon as it holds half of the file.
  killed_at=$(python3 - "$pid" "$partial" "$half" "$dl/$sha" <<'PY'
import os, signal, sys, time
pid, partial, half, final = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    try:
        size = os.stat(partial).st_size
    except FileNotFoundError:
        size = 0
    if size >= half:
        os.kill(pid, signal.SIGKILL)
        print(size)
        sys.exit(0)
    if os.path.exists(final):
        print("finished")
        sys.exit(0)
    time.sleep(0.001)
print("timeout")
PY
)
  wait "$pid" 2>/dev/null || true
  case $killed_at in
    finished) die "the agent finished before the partial reached 50% (raise BENCH_DOWNLOAD_MIB)" ;;
    timeout | "") kill -9 "$pid" 2>/dev/null || true; die "the partial did not reach 50% within 600 s (see $w/resume-1.log)" ;;
  esac
  [ -f "$partial" ] || die "no $partial after the SIGKILL"
  resumed_at=$(stat -c %s "$partial")
  printf 'killed at: %s bytes seen (%.2f%%); partial after the kill: %s bytes (%.2f%%)\n' "$killed_at" \
    "$(calc "$killed_at * 100 / $bytes")" "$resumed_at" "$(calc "$resumed_at * 100 / $bytes")"
  from2=$(wc -l <"$log")
  m=$(run_measured "$w/resume-2" env DOCKER_HOST="$nodocker" "$AIRLOCK" upgrade --download-only --yes --config "$conf")
  read -r wall user sys rss <<<"$m"
  printf 'second run: %.3f s wall, %.2f s user, %.2f s sys, %s KiB peak RSS\n' "$wall" "$user" "$sys" "$rss"
  a_rss+=("$rss")
  grep -h '"event":"resume"' "$state/airlock.jsonl" | tail -1 || true
  [ -f "$dl/$sha" ] || die "the resumed download left no $dl/$sha"
  [ "$(sha256sum "$dl/$sha" | cut -c1-64)" = "$sha" ] || die "the resumed download has the wrong SHA-256"
  echo "checked: the resumed $dl/$sha has the signed SHA-256 (sha256sum)"
  sent1=$(body_bytes "$log" "$from1" "$rel")
  sent1=$((sent1 - $(body_bytes "$log" "$from2" "$rel")))
  sent2=$(body_bytes "$log" "$from2" "$rel")
  pct=$(calc "$sent2 * 100 / $bytes")
  echo "nginx access log, requests for the target:"
  awk -v from="$from1" -v p="$rel" 'NR > from && index($0, "\"GET " p " ") { print "  " $0 }' "$log"
  printf 'body bytes sent: killed run %s (%.2f%%), second run %s (%.2f%% of %s)\n' "$sent1" \
    "$(calc "$sent1 * 100 / $bytes")" "$sent2" "$pct" "$bytes"

  stop_bench_nginx
  trap cleanup EXIT

  local aw cw hw sw ac cc hc sc arss ratio hratio sratio
  aw=$(median "${a_wall[@]}") cw=$(median "${c_wall[@]}") hw=$(median "${h_wall[@]}") sw=$(median "${s_wall[@]}")
  ac=$(median "${a_cpu[@]}") cc=$(median "${c_cpu[@]}") hc=$(median "${h_cpu[@]}") sc=$(median "${s_cpu[@]}")
  arss=$(printf '%s\n' "${a_rss[@]}" | sort -n | tail -1)
  ratio=$(calc "$cw / $aw") hratio=$(calc "$hw / $aw") sratio=$(calc "$sw / $aw")

  say "download: results (median of $BENCH_RUNS; MiB/s = $bytes target bytes / median wall time)"
  printf '| %-52s | %10s | %9s | %12s |\n' contender "wall (s)" "MiB/s" "CPU u+s (s)"
  printf '| %-52s | %10s | %9s | %12s |\n' ---------------------------------------------------- ---------- --------- ------------
  printf '| %-52s | %10.3f | %9.1f | %12.2f |\n' "airlock upgrade --download-only --yes" "$aw" "$(calc "$bytes / $aw / 1048576")" "$ac"
  printf '| %-52s | %10.3f | %9.1f | %12.2f |\n' "curl -o FILE URL" "$cw" "$(calc "$bytes / $cw / 1048576")" "$cc"
  printf '| %-52s | %10.3f | %9.1f | %12.2f |\n' "curl -o FILE URL && sha256sum FILE" "$hw" "$(calc "$bytes / $hw / 1048576")" "$hc"
  printf '| %-52s | %10.3f | %9.1f | %12.2f |\n' "curl -o FILE URL && sync FILE (reference)" "$sw" "$(calc "$bytes / $sw / 1048576")" "$sc"
  printf 'ratio agent/curl (throughput): %.3f (goal >= %s); agent/(curl+sha256sum) %.3f; agent/(curl+sync) %.3f\n' \
    "$ratio" "$BENCH_DOWNLOAD_MIN_RATIO" "$hratio" "$sratio"
  printf 'airlock peak RSS: %s KiB = %.1f MiB (limit %s MiB)\n' "$arss" "$(calc "$arss / 1024")" "$BENCH_RSS_LIMIT_MIB"
  printf 'resume: second run fetched %.2f%% of the file (goal <= %s%%)\n' "$pct" "$BENCH_RESUME_MAX_PCT"
  echo "runs (wall s): airlock ${a_wall[*]}; curl ${c_wall[*]}; curl+sha256sum ${h_wall[*]}; curl+sync ${s_wall[*]}"
  echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

  local status=0
  if awk "BEGIN { exit !($ratio < $BENCH_DOWNLOAD_MIN_RATIO) }"; then
    printf 'NOTE: the agent'"'"'s download is below the %sx goal (%.3f of curl'"'"'s throughput)\n' \
      "$BENCH_DOWNLOAD_MIN_RATIO" "$ratio"
  fi
  if ((arss > BENCH_RSS_LIMIT_MIB * 1024)); then
    echo "FAIL: airlock download peak RSS $arss KiB is above the hard limit of $BENCH_RSS_LIMIT_MIB MiB" >&2
    status=1
  fi
  if awk "BEGIN { exit !($pct > $BENCH_RESUME_MAX_PCT) }"; then
    printf 'FAIL: the resumed download fetched %.2f%% of the file again (limit %s%%)\n' "$pct" "$BENCH_RESUME_MAX_PCT" >&2
    status=1
  fi
  rm -rf "$w/site"
  return $status
}

# ---------------------------------------------------------------------------------------------------- main

# ---------------------------------------------------------------------------------------------------- load

bench_load() {
  say "image load: airlock import --stage-only (load step) vs docker load, ${BENCH_LOAD_MIB:-256} MiB image"
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no docker engine at ${DOCKER_HOST:-the default socket}"
  local testsvc=$BUILD_DIR/tests/testsvc
  [ -x "$testsvc" ] || die "no $testsvc (build the x86_64 tree with tests)"
  fail() { die "$*"; }
  export AIRLOCK AIRLOCK_BUNDLE=$BUNDLE_TOOL TESTSVC=$testsvc E2E=$BENCH_DIR/load E2E_APP=benchload E2E_PORT=18290
  export IMAGE_PAD_MIB=${BENCH_LOAD_MIB:-256}
  rm -rf "$E2E"
  # shellcheck source=../tests/fixtures/e2e/site.sh
  . "$root/tests/fixtures/e2e/site.sh"
  trap 'e2e_cleanup; cleanup' EXIT
  e2e_release 1.0.0
  local bundle archive image=benchload-web:1.0.0 id
  bundle=$(e2e_bundle 1.0.0)
  e2e_init
  # The reference: the whole image as one gzip `docker save` archive (the repository holds it by layer).
  archive=$E2E/image.tar.gz
  docker save "$image" | gzip -1 >"$archive"
  id=$(docker image inspect -f '{{.Id}}' "$image")
  echo "archive:  $(basename "$archive"), $(mib "$(stat -c %s "$archive")") MiB compressed, image $id"
  # Removes the image and the base image holding its padded layer (tests/fixtures/testsvc/make-image.sh), so
  # that every load starts from an engine without any of its layers.
  local base_layer
  base_layer=$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$image")
  forget() {
    docker rmi -f "$image" >/dev/null 2>&1 || true
    local b
    for b in $(docker images --format '{{.Repository}}:{{.Tag}}' airlock-testsvc-base); do
      [ "$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$b")" != "$base_layer" ] || docker rmi -f "$b" >/dev/null
    done
  }
  local i t0 t1 d=() a=() ms
  for i in $(seq 1 "$BENCH_RUNS"); do
    forget
    t0=$(now); docker load -q -i "$archive" >/dev/null; t1=$(now)
    d+=("$(calc "$t1 - $t0")")
    forget
    "$AIRLOCK" import "$bundle" --stage-only --yes --config "$E2E_CONF" >"$E2E/import.$i.log" 2>&1 \
      || { cat "$E2E/import.$i.log" >&2; die "airlock import --stage-only failed"; }
    ms=$(python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
print([r["ms"] for r in rows if r.get("event")=="step-done" and r.get("step")=="load"][-1])' "$E2E/site/state/airlock.jsonl")
    a+=("$(calc "$ms / 1000")")
    echo "run $i: docker load $(calc "$t1 - $t0") s, airlock load step $(calc "$ms / 1000") s"
  done
  local md ma
  md=$(median "${d[@]}") ma=$(median "${a[@]}")
  "$AIRLOCK" import "$bundle" --stage-only --yes --config "$E2E_CONF" >"$E2E/present.log" 2>&1 || die "import with the image present failed"
  ms=$(python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
print([r["ms"] for r in rows if r.get("event")=="step-done" and r.get("step")=="load"][-1])' "$E2E/site/state/airlock.jsonl")
  grep -q "^0 loaded (.*), 1 already present" <(sqlite3 "$E2E/site/state/state.db" "select detail from journal where step='load' order by id desc limit 1") \
    || die "the load step with the image present did not skip it"
  echo "median:   docker load $md s, airlock load step $ma s, ratio airlock/docker $(calc "$ma / $md")" \
    "(goal <= ${BENCH_LOAD_MAX_RATIO:-1.05})"
  echo "present:  load step with the image already in the engine: $(calc "$ms / 1000") s (skipped, nothing loaded)"
}

what=${1:-all}
case $what in
  sizes)
    bench_sizes ;;
  verify)
    need_tools; setup_dir; machine; bench_verify ;;
  backup)
    need_tools; setup_dir; machine; bench_backup ;;
  download)
    need_tools; setup_dir; machine; bench_download ;;
  load)
    need_tools; setup_dir; machine; bench_load ;;
  all)
    need_tools; setup_dir; machine; bench_sizes
    status=0
    bench_verify || status=1
    bench_backup || status=1
    bench_download || status=1 # before load: load's EXIT trap replaces the one download sets while nginx runs
    bench_load || status=1
    exit $status ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *)
    echo "usage: scripts/bench.sh [all|verify|backup|download|load|sizes]" >&2; exit 2 ;;
esac
