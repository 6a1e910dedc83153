#!/usr/bin/env bash
# Bundle verification on every core (issue 16, item 1):
#   scripts/bench/verify.sh
# `airlock verify` of a signed bundle against one `openssl dgst -sha256` over the same target bytes (extracted), in
# the same run: median wall time of BENCH_RUNS alternating runs, throughput, ratio and airlock's peak RSS, for
#   several  BENCH_BUNDLE_MIB (default 2048) in images of BENCH_IMAGE_MIB (default 512): one layer target each;
#            goal at least BENCH_MIN_RATIO (default 1.8) of openssl's throughput (airlock hashes on every core);
#   single   one image of BENCH_SINGLE_MIB (default 1024): one large target, which SHA-256 can only hash on one
#            core; goal at least BENCH_SINGLE_MIN_RATIO (default 0.95).
# Exits non-zero when a peak RSS is above BENCH_RSS_LIMIT_MIB (default 64; the bundle reader must stream); a missed
# ratio is reported, not fatal. With BENCH_KEEP=1 a later run of the same sizes reuses the bundles.
# Common environment (AIRLOCK_BUILD_DIR, BENCH_DIR, BENCH_KEEP, BENCH_RUNS, BENCH_RSS_LIMIT_MIB): scripts/bench/lib.sh.
BENCH_BUNDLE_MIB=${BENCH_BUNDLE_MIB:-2048}
BENCH_IMAGE_MIB=${BENCH_IMAGE_MIB:-512}
BENCH_SINGLE_MIB=${BENCH_SINGLE_MIB:-1024}
BENCH_MIN_RATIO=${BENCH_MIN_RATIO:-1.8}
BENCH_SINGLE_MIN_RATIO=${BENCH_SINGLE_MIN_RATIO:-0.95}
BENCH_DIR=${BENCH_DIR:-/var/tmp/airlock-bench-verify}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# One `docker save` archive (legacy layout, uncompressed, as release add reads it) of image bench:INDEX: a config
# and one layer holding SIZE_MIB of incompressible bytes. release add splits it into a config and a layer blob.
make_image_archive() {
  local dir=$1 index=$2 size_mib=$3 out=$4
  local d="$dir/img-$index" diff cid
  rm -rf "$d"
  mkdir -p "$d/root" "$d/out"
  openssl rand -out "$d/root/payload-$index" $((size_mib * 1048576))
  tar -C "$d/root" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$d/layer.tar" "payload-$index"
  diff=$(sha256sum "$d/layer.tar" | cut -c1-64)
  mkdir -p "$d/out/$diff"
  mv "$d/layer.tar" "$d/out/$diff/layer.tar"
  printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$diff" >"$d/config.json"
  cid=$(sha256sum "$d/config.json" | cut -c1-64)
  mv "$d/config.json" "$d/out/$cid.json"
  printf '[{"Config":"%s.json","RepoTags":["bench:%d"],"Layers":["%s/layer.tar"]}]\n' "$cid" "$index" "$diff" \
    >"$d/out/manifest.json"
  tar -C "$d/out" --owner=0 --group=0 --numeric-owner -cf "$out.part" manifest.json "$cid.json" "$diff"
  mv "$out.part" "$out"
  rm -rf "$d"
}

make_verify_fixture() {
  local w=$1 total_mib=$2 image_mib=$3
  local stamp
  stamp="mib=$total_mib image_mib=$image_mib tool=$(stat -c %s "$BUNDLE_TOOL")"
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
  {
    echo 'services:'
    for ((i = 0; i < (total_mib + image_mib - 1) / image_mib; i++)); do printf '  bench%d:\n    image: bench:%d\n' "$i" "$i"; done
  } >"$w/src/docker-compose.yml"
  printf '{"version": "1.0.0"}\n' >"$w/src/airlock-release.json"

  # Split the payload into image archives; gzip them in parallel, one per core.
  local n=$(((total_mib + image_mib - 1) / image_mib)) i left size jobs t0 t1
  jobs=$(nproc)
  local args=()
  t0=$(now)
  left=$total_mib
  for ((i = 0; i < n; i++)); do
    size=$((left < image_mib ? left : image_mib))
    left=$((left - size))
    make_image_archive "$w/images" "$i" "$size" "$w/images/image-$i.tar" &
    args+=(--image-archive "$w/images/image-$i.tar")
    if (((i + 1) % jobs == 0)); then wait; fi
  done
  wait
  for ((i = 0; i < n; i++)); do [ -f "$w/images/image-$i.tar" ] || die "image archive $i was not made"; done
  t1=$(now)
  printf 'made %d image archive(s), %.1f MiB in total, in %.1f s (openssl rand | tar; release add compresses each layer)\n' "$n" \
    "$(mib "$(du -cb "$w/images"/image-*.tar | tail -1 | cut -f1)")" "$(calc "$t1 - $t0")"

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

# bench_verify NAME TOTAL_MIB IMAGE_MIB MIN_RATIO: one bundle of TOTAL_MIB in images of IMAGE_MIB each.
bench_verify() {
  local name=$1 total_mib=$2 image_mib=$3 min_ratio=$4
  local w=$BENCH_DIR/verify-$name
  say "verify ($name): fixture (${total_mib} MiB payload in ${image_mib} MiB image layers)"
  make_verify_fixture "$w" "$total_mib" "$image_mib"
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

  say "verify ($name): warm the page cache (each file read once)"
  cat "$bundle" >/dev/null
  cat "${files[@]}" >/dev/null

  say "verify ($name): $BENCH_RUNS timed runs of each, alternating"
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

  say "verify ($name): results (median of $BENCH_RUNS; throughput = $payload_bytes payload bytes / median wall time)"
  printf '| %-48s | %12s | %12s | %15s | %14s |\n' contender "wall (s)" "MiB/s" "CPU u+s (s)" "peak RSS (KiB)"
  printf '| %-48s | %12s | %12s | %15s | %14s |\n' ------------------------------------------------ \
    ------------ ------------ --------------- --------------
  printf '| %-48s | %12.3f | %12.1f | %15.2f | %14s |\n' "airlock verify BUNDLE --trusted-root ROOT.json" "$aw" "$at" "$ac" "$arss"
  printf '| %-48s | %12.3f | %12.1f | %15.2f | %14s |\n' "openssl dgst -sha256 (${#files[@]} extracted target files)" "$ow" "$ot" "$oc" "$orss"
  printf 'ratio airlock/openssl: %.3f (throughput, wall time); %.3f (CPU time); airlock with AIRLOCK_THREADS=%s\n' \
    "$ratio" "$cratio" "${AIRLOCK_THREADS:-all cores}"
  printf 'airlock peak RSS: %s KiB = %.1f MiB (limit %s MiB)\n' "$arss" "$(calc "$arss / 1024")" "$BENCH_RSS_LIMIT_MIB"
  echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

  local status=0
  if awk "BEGIN { exit !($ratio < $min_ratio) }"; then
    printf 'GOAL MISSED (%s): airlock verify is below the %sx goal (%.3f of openssl'"'"'s throughput)\n' "$name" "$min_ratio" "$ratio"
  else
    printf 'goal met (%s): %.3f of openssl'"'"'s throughput, goal at least %s\n' "$name" "$ratio" "$min_ratio"
  fi
  if ((arss > BENCH_RSS_LIMIT_MIB * 1024)); then
    echo "FAIL: airlock verify peak RSS $arss KiB is above the hard limit of $BENCH_RSS_LIMIT_MIB MiB" >&2
    status=1
  fi
  return $status
}


need_tools
setup_dir
machine
status=0
bench_verify several "$BENCH_BUNDLE_MIB" "$BENCH_IMAGE_MIB" "$BENCH_MIN_RATIO" || status=1
bench_verify single "$BENCH_SINGLE_MIB" "$BENCH_SINGLE_MIB" "$BENCH_SINGLE_MIN_RATIO" || status=1
exit $status
