#!/usr/bin/env bash
# The online transport's mirror fallback, proxies and endless-data defence, against the test nginx and
# faultserver.py (tests/fixtures/faultserver), with a repository whose release ships no docker image (release add
# allows that), so no docker engine is needed. Each part uses a fresh site, so that every metadata file and every
# target is fetched again.
#  a. urls = a closed port, then nginx: `check` exits 10 and `upgrade --download-only` exits 0; the payload in
#     downloads/ has the signed SHA-256 and nginx sent it whole.
#  b. urls = a faultserver mirror answering 503 to everything (/__f/status=503/...), then nginx: exit 0; the
#     faultserver saw only 503s, exactly `retries` (2) in a row for each fetch of a file (timestamp.json and the
#     payload: `retries` in all; release.json is fetched twice per run, see upgrade.cpp), and nginx served the files.
#  c. proxies (an http:// proxy on loopback is not bypassed: proxy_for() only skips hosts listed in NO_PROXY):
#     HTTP_PROXY=faultserver with NO_PROXY naming other hosts: the faultserver log holds the absolute-form GETs
#     ("GET http://127.0.0.1:18080/...") of the metadata and the targets, and nginx saw none of them directly;
#     NO_PROXY=127.0.0.1: direct, the proxy sees nothing; HTTPS_PROXY=faultserver (HTTP_PROXY dead) with the https
#     URL and ca_file: one CONNECT localhost:18443 per request; [repository] proxy = faultserver with a dead
#     HTTP_PROXY in the environment: the config wins.
#  d. a timestamp.json bigger than allowed (16 KiB): with a Content-Length (faultserver pad) and without one
#     (endless): exit 3 with the endless-data message, no other mirror asked, the trusted metadata unchanged
#     (while a newer release is published, so a refresh would change it), the endless reply cut short; with the
#     rules cleared the same site sees the new release (exit 10) and its trusted metadata moves.
. "$(dirname "$0")/lib.sh"
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}" "${AIRLOCK_TEST_WWW:?testenv is not started}"
: "${AIRLOCK_TEST_HTTP:?}" "${AIRLOCK_TEST_HTTPS:?}" "${AIRLOCK_TEST_CA:?}"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY no_proxy NO_PROXY
# shellcheck disable=SC2034 # E2E_PORT: site.sh wants it; no service runs here
E2E=$T/e2e E2E_APP=e2enet$$ E2E_PORT=18482
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/faultserver/start.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh" # make_image_archive
NGINX_LOG=$TESTENV/nginx-access.log
[ -f "$NGINX_LOG" ] || fail "no nginx access log at $NGINX_LOG"
SUB=net-$$                 # the repository's path on nginx and on the faultserver
WWW=$AIRLOCK_TEST_WWW/$SUB
FSROOT=$T/fsroot
defer rm -rf "$WWW" "$WWW.new"
RETRIES=2

# A release without images: a compose file and the release description only.
release() {
  local v=$1 src=$E2E/src/$1
  _e2e_keys
  mkdir -p "$src/config"
  printf 'services:\n  web:\n    image: %s-web:%s\n    network_mode: host\n' "$E2E_APP" "$v" > "$src/docker-compose.yml"
  printf 'release=%s\n' "$v" > "$src/config/app.conf"
  printf '{"app": "%s", "version": "%s"}\n' "$E2E_APP" "$v" > "$src/airlock-release.json"
  # shellcheck disable=SC2046
  make_image_archive "$src.image.tar" "$E2E_APP-web:$v" # a one-layer image: what the compose file runs is shipped
  "$AIRLOCK_BUNDLE" release add "$E2E/repo" "$src" --arch "$(uname -m)" $(src_image "$src") $(_e2e_online_keys) \
    >/dev/null \
    || fail "release add $v failed"
}
# Publishes the repository on nginx ($WWW) and in the faultserver's root ($FSROOT/$SUB), at the same path.
publish() {
  rm -rf "$WWW.new"; cp -r "$E2E/repo" "$WWW.new"; chmod -R a+rX "$WWW.new"; rm -rf "$WWW"; mv "$WWW.new" "$WWW"
  rm -rf "${FSROOT:?}/$SUB"; mkdir -p "$FSROOT"; cp -r "$E2E/repo" "$FSROOT/$SUB"
}
# The signed payload target of the newest targets.json: "name length sha256".
payload_target() {
  python3 - "$E2E/repo/metadata" <<'PY'
import glob, json, sys
newest = max(glob.glob(sys.argv[1] + "/*.targets.json"), key=lambda p: int(p.rsplit("/", 1)[1].split(".")[0]))
for name, t in sorted(json.load(open(newest))["signed"]["targets"].items()):
    if t.get("custom", {}).get("role") == "payload":
        print(name, t["length"], t["hashes"]["sha256"])
PY
}
# new_site NAME URLS [CONF_LINES]: a fresh site trusting only 1.root.json, with its own state directory.
new_site() {
  local name=$1 urls=$2 extra=${3:-}
  SITE_CONF=$T/$name.conf SITE_STATE=$T/$name/state
  cat > "$SITE_CONF" <<CONF
[app]
name = $E2E_APP
install_root = $T/$name/opt
[state]
dir = $SITE_STATE
[repository]
urls = $urls
retries = $RETRIES
connect_timeout = 2
stall_timeout = 10
$extra
CONF
  "$AIRLOCK" init --config "$SITE_CONF" --trusted-root "$E2E/repo/metadata/1.root.json" >/dev/null \
    || fail "airlock init of site $name failed"
}
trust_sum() {
  (cd "$1/trust" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum | sha256sum | cut -d' ' -f1)
}
# The payload is in downloads/ under its signed hash, with that content.
assert_payload_downloaded() {
  local f=$SITE_STATE/downloads/$PAYLOAD_SHA
  [ -f "$f" ] || fail "$1: $f is missing after --download-only"
  assert_eq "$(sha256sum < "$f" | cut -d' ' -f1)" "$PAYLOAD_SHA" "$1: SHA-256 of the downloaded payload"
  [ ! -e "$f.partial" ] || fail "$1: $f.partial is left over"
}

# The faultserver, on a free port, serving $FSROOT.
faultserver_start "$FSROOT"
# The faultserver's log since the last call (and forgets it): JSON lines.
fs_log() { fs "__log?clear=1"; }
# Python over the JSON lines of stdin: `log` is the list of entries; prints EXPR.
log_py() { python3 -c 'import json, sys; log = [json.loads(l) for l in sys.stdin if l.strip()]; print(eval(sys.argv[1]))' "$1"; }
# The faultserver log on stdin as "method path status" lines.
log_lines() { log_py '"\n".join("%s %s %s" % (e["method"], e["path"], e["status"]) for e in log)'; }
# nginx's access log lines for the repository written since mark_nginx, as "method path status bytes".
mark_nginx() { NGINX_MARK=$(wc -l < "$NGINX_LOG"); }
nginx_since() {
  tail -n +"$((NGINX_MARK + 1))" "$NGINX_LOG" | python3 -c '
import re, sys
for line in sys.stdin:
    m = re.search(r"\"(\S+) (\S+) HTTP/[0-9.]+\" (\d+) (\d+)", line)
    if m and m.group(2).startswith("/" + sys.argv[1] + "/"):
        print(*m.groups())' "$SUB"
}

release 1.0.0
publish
read -r _ PAYLOAD_LEN PAYLOAD_SHA <<<"$(payload_target)"
[ -n "$PAYLOAD_SHA" ] || fail "no payload target in the signed targets"
PAYLOAD_PATH=$(cd "$E2E/repo" && find targets -name "$PAYLOAD_SHA.*")
fs_log >/dev/null

# a. A dead first mirror (nothing listens on port 9), then nginx.
new_site a "http://127.0.0.1:9/dead-mirror $AIRLOCK_TEST_HTTP/$SUB"
SITE_A_CONF=$SITE_CONF SITE_A_STATE=$SITE_STATE
run "$AIRLOCK" check --config "$SITE_CONF"
assert_eq "$rc" 10 "a: check with a dead first mirror ($out)"
assert_contains "$out" "update available: $E2E_APP (nothing installed) -> 1.0.0 (full)"
mark_nginx
run "$AIRLOCK" upgrade --download-only --yes --config "$SITE_CONF"
assert_eq "$rc" 0 "a: upgrade --download-only with a dead first mirror ($out)"
assert_contains "$out" "downloaded (nothing) -> 1.0.0 (full)"
assert_payload_downloaded a
assert_contains "$(nginx_since)" "GET /$SUB/$PAYLOAD_PATH 200 $PAYLOAD_LEN" "a: nginx's log of the payload download"

# No repository configured, and a bad --max-delay: usage errors (exit 2) that say what to set.
new_site none ""
run "$AIRLOCK" check --config "$SITE_CONF"
assert_eq "$rc" 2 "check without [repository] urls ($out)"
assert_contains "$out" "no repository URL is configured: set [repository] urls in the configuration"
run "$AIRLOCK" upgrade --cron --max-delay soon --config "$SITE_CONF"
assert_eq "$rc" 2 "upgrade --cron --max-delay soon ($out)"
assert_contains "$out" "--max-delay takes a number of seconds (0 or more)"

# b. A first mirror answering 503 to every request, then nginx.
new_site b "$FS/__f/status=503/$SUB $AIRLOCK_TEST_HTTP/$SUB"
mark_nginx
run "$AIRLOCK" upgrade --download-only --yes --config "$SITE_CONF"
assert_eq "$rc" 0 "b: upgrade --download-only behind a 503 mirror ($out)"
assert_payload_downloaded b
log=$(fs_log)
assert_eq "$(log_py 'sorted({e["status"] for e in log})' <<<"$log")" "[503]" "b: statuses the 503 mirror sent"
# Each fetch of a file asks the 503 mirror exactly `retries` times in a row before it moves on to nginx.
runs=$(log_py '[len(list(g)) for _, g in __import__("itertools").groupby(e["path"] for e in log)]' <<<"$log")
assert_eq "$(log_py "sorted(set($runs))" <<<"")" "[$RETRIES]" "b: requests per fetch on the 503 mirror (retries = $RETRIES): $runs"
for p in metadata/timestamp.json "$PAYLOAD_PATH"; do
  assert_eq "$(log_py "sum(e['path'] == '/__f/status=503/$SUB/$p' for e in log)" <<<"$log")" "$RETRIES" \
    "b: 503s for $p (retries = $RETRIES)"
done
ngx=$(nginx_since)
assert_contains "$ngx" "GET /$SUB/metadata/timestamp.json 200" "b: nginx's log"
assert_contains "$ngx" "GET /$SUB/$PAYLOAD_PATH 200 $PAYLOAD_LEN" "b: nginx's log"

# c1. HTTP_PROXY: the plain-http URL on loopback goes through the proxy as absolute-form GETs.
new_site c1 "$AIRLOCK_TEST_HTTP/$SUB"
mark_nginx
run env HTTP_PROXY="$FS" NO_PROXY=example.invalid,.corp.invalid "$AIRLOCK" upgrade --download-only --yes \
  --config "$SITE_CONF"
assert_eq "$rc" 0 "c1: upgrade --download-only through HTTP_PROXY ($out)"
assert_payload_downloaded c1
log=$(fs_log)
got=$(log_lines <<<"$log")
for p in metadata/timestamp.json "$PAYLOAD_PATH"; do
  assert_contains "$got" "GET $AIRLOCK_TEST_HTTP/$SUB/$p 200" "c1: the proxy's log"
done
for p in .snapshot.json .targets.json .release.json; do assert_contains "$got" "$p 200" "c1: the proxy's log"; done
assert_eq "$(grep -vc "^GET $AIRLOCK_TEST_HTTP/$SUB/" <<<"$got")" 0 "c1: proxy requests not in absolute form ($got)"
assert_eq "$(nginx_since)" "" "c1: requests that reached nginx directly"

# c2. NO_PROXY names the host: direct to nginx, the proxy sees nothing.
new_site c2 "$AIRLOCK_TEST_HTTP/$SUB"
mark_nginx
run env HTTP_PROXY="$FS" NO_PROXY=example.invalid,127.0.0.1 "$AIRLOCK" upgrade --download-only --yes \
  --config "$SITE_CONF"
assert_eq "$rc" 0 "c2: upgrade --download-only with the host in NO_PROXY ($out)"
assert_payload_downloaded c2
assert_eq "$(fs_log)" "" "c2: the proxy's log with the host in NO_PROXY"
assert_contains "$(nginx_since)" "GET /$SUB/$PAYLOAD_PATH 200 $PAYLOAD_LEN" "c2: nginx's log"

# c3. HTTPS_PROXY: the https URL goes through a CONNECT tunnel (HTTP_PROXY, dead, is not used for it).
new_site c3 "$AIRLOCK_TEST_HTTPS/$SUB" "ca_file = $AIRLOCK_TEST_CA"
mark_nginx
run env HTTPS_PROXY="$FS" HTTP_PROXY=http://127.0.0.1:9 "$AIRLOCK" upgrade --download-only --yes --config "$SITE_CONF"
assert_eq "$rc" 0 "c3: upgrade --download-only through HTTPS_PROXY ($out)"
assert_payload_downloaded c3
log=$(fs_log)
hostport=${AIRLOCK_TEST_HTTPS#https://}
assert_eq "$(log_py 'sorted({(e["method"], e["path"], e["status"]) for e in log})' <<<"$log")" \
  "[('CONNECT', '$hostport', 200)]" "c3: what the proxy saw"
ngx=$(nginx_since)
assert_contains "$ngx" "GET /$SUB/metadata/timestamp.json 200" "c3: nginx's log (through the tunnel)"
assert_contains "$ngx" "GET /$SUB/$PAYLOAD_PATH 200 $PAYLOAD_LEN" "c3: nginx's log (through the tunnel)"
assert_eq "$(log_py 'len(log)' <<<"$log")" "$(wc -l <<<"$ngx")" "c3: CONNECT tunnels vs requests nginx served"

# c4. [repository] proxy in the configuration replaces the environment's (dead) HTTP_PROXY.
new_site c4 "$AIRLOCK_TEST_HTTP/$SUB" "proxy = $FS"
mark_nginx
run env HTTP_PROXY=http://127.0.0.1:9 "$AIRLOCK" upgrade --download-only --yes --config "$SITE_CONF"
assert_eq "$rc" 0 "c4: upgrade --download-only with [repository] proxy ($out)"
assert_payload_downloaded c4
got=$(fs_log | log_lines)
assert_contains "$got" "GET $AIRLOCK_TEST_HTTP/$SUB/metadata/timestamp.json 200" "c4: the configured proxy's log"
assert_contains "$got" "GET $AIRLOCK_TEST_HTTP/$SUB/$PAYLOAD_PATH 200" "c4: the configured proxy's log"
assert_eq "$(nginx_since)" "" "c4: requests that reached nginx directly"

# d. An oversized timestamp.json from the first mirror, on site a (which trusts 1.0.0's metadata) while 1.1.0 is
#    published: refused at once, no other mirror asked, nothing trusted.
release 1.1.0
publish
sed -i "s|^urls = .*|urls = $FS/$SUB $AIRLOCK_TEST_HTTP/$SUB|" "$SITE_A_CONF"
trust=$(trust_sum "$SITE_A_STATE")
dl=$(ls -l "$SITE_A_STATE/downloads")
fs "__fault?mode=pad&n=1048576&path=/$SUB/metadata/timestamp.json" >/dev/null
mark_nginx
run "$AIRLOCK" check --config "$SITE_A_CONF"
assert_eq "$rc" 3 "d: check with a padded timestamp.json ($out)"
assert_contains "$out" "more than the 16384 allowed for this file (endless-data defence)"
assert_eq "$(trust_sum "$SITE_A_STATE")" "$trust" "d: the trusted metadata after a padded timestamp.json"
fs "__fault?clear=1" >/dev/null
fs "__fault?mode=endless&path=/$SUB/metadata/timestamp.json" >/dev/null
run "$AIRLOCK" upgrade --download-only --yes --config "$SITE_A_CONF"
assert_eq "$rc" 3 "d: upgrade --download-only with an endless timestamp.json ($out)"
assert_contains "$out" "sent more than the 16384 bytes allowed for this file (endless data)"
assert_eq "$(trust_sum "$SITE_A_STATE")" "$trust" "d: the trusted metadata after an endless timestamp.json"
assert_eq "$(ls -l "$SITE_A_STATE/downloads")" "$dl" "d: downloads/ after the refused metadata"
assert_eq "$(nginx_since | grep -c timestamp.json)" 0 "d: timestamp.json requests to the second mirror after the first sent an oversized one"
log=$(fs_log | grep '/metadata/timestamp.json"')
assert_eq "$(log_py '[(e["fault"].split(",")[0], e["status"]) for e in log]' <<<"$log")" \
  "[('pad=1048576', 200), ('endless', 200)]" "d: the faultserver's log of timestamp.json"
# The endless reply was cut short by the client (its log entry is there, so the request ended): the bytes the
# kernel took before the agent hung up fit in the server's send buffer plus the agent's receive buffer (the
# kernel's maxima, tcp_wmem[2] + tcp_rmem[2]; about 4 MiB here), not an unbounded stream.
sent=$(log_py 'log[1]["bytes_sent"]' <<<"$log")
buffers=$(( $(cut -f3 /proc/sys/net/ipv4/tcp_wmem) + $(cut -f3 /proc/sys/net/ipv4/tcp_rmem) ))
[ "$sent" -le "$buffers" ] || fail "d: the endless reply ran to $sent bytes (> $buffers) before the agent hung up"
assert_contains "$(log_py 'log[1]["error"]' <<<"$log")" "client gone" "d: how the endless reply ended"
# Without the fault the same site sees 1.1.0: the refusals above really kept newer metadata out.
fs "__fault?clear=1" >/dev/null
run "$AIRLOCK" check --config "$SITE_A_CONF"
assert_eq "$rc" 10 "d: check once the server behaves ($out)"
assert_contains "$out" "update available: $E2E_APP (nothing installed) -> 1.1.0 (full)"
assert_eq "$(trust_sum "$SITE_A_STATE")" "$trust" "d: the trusted metadata after check (check saves nothing)"
run "$AIRLOCK" upgrade --download-only --yes --config "$SITE_A_CONF"
assert_eq "$rc" 0 "d: upgrade --download-only once the server behaves ($out)"
[ "$(trust_sum "$SITE_A_STATE")" != "$trust" ] || fail "d: the trusted metadata did not move to 1.1.0's"
echo ok
