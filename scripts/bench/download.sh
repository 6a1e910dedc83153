#!/usr/bin/env bash
# Online download (issue 6; kept for issue 16's figures):
#   scripts/bench/download.sh
# The agent's online download (`airlock upgrade --download-only`) of one target of about BENCH_DOWNLOAD_MIB
# (default 1024) from our own nginx on 127.0.0.1:BENCH_HTTP_PORT (default 18090) against `curl -o` of the same URL,
# in the same run: median wall time and MiB/s of BENCH_RUNS alternating runs, the ratio agent/curl throughput (goal
# >= BENCH_DOWNLOAD_MIN_RATIO, default 0.9, reported, not fatal), curl + sha256sum and curl + sync as references
# (the agent hashes while streaming and fsyncs before the rename), and the agent's peak RSS (exits non-zero above
# BENCH_RSS_LIMIT_MIB). Then resume: SIGKILL the agent when the partial file holds 50%, run it again, and count from
# nginx's access log the body bytes the second run fetched (exits non-zero above BENCH_RESUME_MAX_PCT, default 51,
# of the file, or when the result's SHA-256 is wrong). Needs nginx, curl and python3; no docker engine (DOCKER_HOST
# points at a dead socket for the agent).
# Common environment (AIRLOCK_BUILD_DIR, BENCH_DIR, BENCH_KEEP, BENCH_RUNS, BENCH_RSS_LIMIT_MIB): scripts/bench/lib.sh.
BENCH_DOWNLOAD_MIB=${BENCH_DOWNLOAD_MIB:-1024}
BENCH_HTTP_PORT=${BENCH_HTTP_PORT:-18090}
BENCH_DOWNLOAD_MIN_RATIO=${BENCH_DOWNLOAD_MIN_RATIO:-0.9}
BENCH_RESUME_MAX_PCT=${BENCH_RESUME_MAX_PCT:-51}
BENCH_NGINX_PID_FILE=
BENCH_DIR=${BENCH_DIR:-/var/tmp/airlock-bench-download}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"


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
  printf 'version: "2.4"\nservices: {}\n' >"$w/src/docker-compose.yml"
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

need_tools
setup_dir
machine
bench_download
