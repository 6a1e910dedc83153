#!/usr/bin/env bash
# Downloads always end, and a slow mirror cannot hold a run (issue 14, items 1 and 2). The repository (a release
# without images, so no docker engine is needed) is served by faultserver.py (tests/fixtures/faultserver); every
# run is wrapped in `timeout 90`, so that this test itself cannot hang.
#  a. The payload's connection drops once, then every request for it is answered 416 (retries = 3, deadline = 20):
#     `upgrade --download-only` used to restart at once, forever, writing a state row and a log line per pass.
#     Now it exits 1 within 60 s with a message naming HTTP 416 and "gave up", the faultserver saw at most
#     `retries` + 1 requests for the payload, the agent logged at most `retries` restarts, and the state holds at
#     most the one downloads row of the payload.
#  b. A mirror that cannot resume: 416 to every Range request, every other reply cut at the same byte (bytes
#     fetched again after a restart used to count as progress): exit 1 within 60 s, "gave up after 3 attempt(s)".
#  c. timestamp.json served at 1 byte/s (min_rate = 1024, min_rate_window = 4, retries = 1): exit 1 within the
#     window plus 10 s of slack, with a message naming timestamp.json and the rate floor; the trusted metadata is
#     unchanged.
#  d. The payload served at 1 byte/s with the floor off (min_rate = 0, deadline = 5): the deadline cuts the running
#     transfer: exit 1 within 5 + 10 s, "cut at the [repository] deadline", and the partial is kept for the next
#     run, which (faults cleared) resumes it and exits 0.
# ctest: alone (it bounds the time downloads take)
. "$(dirname "$0")/lib.sh"
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY no_proxy NO_PROXY
# shellcheck disable=SC2034 # E2E_PORT: site.sh wants it; no service runs here
E2E=$T/e2e E2E_APP=e2ebound$$ E2E_PORT=18484
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/faultserver/start.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh" # make_image_archive
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
FSROOT=$T/fsroot SUB=repo

release() {
  local v=$1 src=$E2E/src/$1
  _e2e_keys
  mkdir -p "$src/config"
  printf 'services:\n  web:\n    image: %s-web:%s\n    network_mode: host\n' "$E2E_APP" "$v" > "$src/docker-compose.yml"
  printf 'release=%s\n' "$v" > "$src/config/app.conf"
  # Padding, so that the payload is long enough to be cut midway.
  head -c 200000 /dev/urandom > "$src/config/pad.bin"
  printf '{"app": "%s", "version": "%s"}\n' "$E2E_APP" "$v" > "$src/airlock-release.json"
  # shellcheck disable=SC2046
  make_image_archive "$src.image.tar" "$E2E_APP-web:$v"
  "$AIRLOCK_BUNDLE" release add "$E2E/repo" "$src" --arch "$(uname -m)" $(src_image "$src") $(_e2e_online_keys) \
    >/dev/null \
    || fail "release add $v failed"
}
# new_site NAME [CONF_LINES]: a fresh site on the faultserver, trusting only 1.root.json.
new_site() {
  SITE_CONF=$T/$1.conf SITE_STATE=$T/$1/state
  cat > "$SITE_CONF" <<CONF
[app]
name = $E2E_APP
install_root = $T/$1/opt
[state]
dir = $SITE_STATE
[repository]
urls = $FS/$SUB
connect_timeout = 2
stall_timeout = 10
$2
CONF
  "$AIRLOCK" init --config "$SITE_CONF" --trusted-root "$E2E/repo/metadata/1.root.json" >/dev/null \
    || fail "airlock init of site $1 failed"
}
# bounded_run: `upgrade --download-only` of the current site under timeout 90; sets rc, out and secs.
bounded_run() {
  local t0
  t0=$(date +%s%N)
  run timeout 90 "$AIRLOCK" upgrade --download-only --yes --config "$SITE_CONF"
  secs=$((($(date +%s%N) - t0) / 1000000000))
  [ "$rc" != 124 ] || fail "$1: still running after 90 s: $out"
}
assert_below() { [ "$1" -lt "$2" ] || fail "$3: $1 is not below $2"; }
# The faultserver log since the last call (and forgets it), as JSON lines.
fs_log() { fs "__log?clear=1"; }
count_path() { grep -cF "\"path\": \"$1\"" || true; }
trust_sum() {
  (cd "$1/trust" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum | sha256sum | cut -d' ' -f1)
}

release 1.0.0
mkdir -p "$FSROOT" && cp -r "$E2E/repo" "$FSROOT/$SUB"
read -r PAYLOAD_LEN PAYLOAD_SHA <<<"$(python3 - "$E2E/repo/metadata" <<'PY'
import glob, json, sys
newest = max(glob.glob(sys.argv[1] + "/*.targets.json"), key=lambda p: int(p.rsplit("/", 1)[1].split(".")[0]))
for t in json.load(open(newest))["signed"]["targets"].values():
    if t.get("custom", {}).get("role") == "payload":
        print(t["length"], t["hashes"]["sha256"])
PY
)"
[ -n "$PAYLOAD_SHA" ] || fail "no payload target in the signed targets"
[ "$PAYLOAD_LEN" -gt 100000 ] || fail "the payload is only $PAYLOAD_LEN bytes"
PAYLOAD=/$SUB/$(cd "$E2E/repo" && find targets -name "$PAYLOAD_SHA.*")
CUT=$((PAYLOAD_LEN / 2))
faultserver_start "$FSROOT"

# a. A drop, then 416 to every request for the payload.
new_site a "retries = 3
deadline = 20"
fs "__fault?mode=drop-at&n=$CUT&count=1&path=$PAYLOAD" >/dev/null
fs "__fault?mode=status&n=416&path=$PAYLOAD" >/dev/null
fs_log >/dev/null
bounded_run a
assert_eq "$rc" 1 "a: exit code with a mirror answering 416 ($out)"
assert_below "$secs" 60 "a: seconds until the run ended"
assert_contains "$out" "HTTP 416" "a: the error"
assert_contains "$out" "gave up after" "a: the error"
requests=$(fs_log | count_path "$PAYLOAD")
[ "$requests" -ge 2 ] && [ "$requests" -le 4 ] || fail "a: $requests requests for the payload, expected 2..4"
restarts=$(grep -c "starting again at byte 0" <<<"$out" || true)
[ "$restarts" -le 3 ] || fail "a: $restarts restarts logged, at most retries = 3 expected: $out"
rows=$(sqlite3 "$SITE_STATE/state.db" "SELECT count(*) FROM downloads")
[ "$rows" -le 1 ] || fail "a: $rows downloads rows"
fs "__fault?clear=1" >/dev/null

# b. A mirror that never lets a resume succeed.
new_site b "retries = 3
deadline = 20"
fs "__fault?mode=no-resume&n=$CUT&path=$PAYLOAD" >/dev/null
fs_log >/dev/null
bounded_run b
assert_eq "$rc" 1 "b: exit code with a mirror that cannot resume ($out)"
assert_below "$secs" 60 "b: seconds until the run ended"
assert_contains "$out" "gave up after 3 attempt(s)" "b: the error"
requests=$(fs_log | count_path "$PAYLOAD")
assert_eq "$requests" 3 "b: requests for the payload"
fs "__fault?clear=1" >/dev/null

# c. timestamp.json at 1 byte/s.
new_site c "retries = 1
min_rate = 1024
min_rate_window = 4"
before=$(trust_sum "$SITE_STATE")
fs "__fault?mode=trickle&n=1&path=/$SUB/metadata/timestamp.json" >/dev/null
bounded_run c
assert_eq "$rc" 1 "c: exit code with timestamp.json at 1 byte/s ($out)"
assert_below "$secs" 14 "c: seconds until the run ended (min_rate_window 4 + slack)"
assert_contains "$out" "timestamp.json: too slow" "c: the error"
assert_contains "$out" "below the floor of 1024 bytes/s ([repository] min_rate, min_rate_window = 4 s)" "c: the error"
assert_eq "$(trust_sum "$SITE_STATE")" "$before" "c: the trusted metadata"
fs "__fault?clear=1" >/dev/null

# d. The payload at 1 byte/s, no rate floor: the deadline cuts the running transfer; the next run resumes.
new_site d "retries = 3
min_rate = 0
deadline = 5"
fs "__fault?mode=trickle&n=1&path=$PAYLOAD" >/dev/null
bounded_run d
assert_eq "$rc" 1 "d: exit code with the payload at 1 byte/s ($out)"
assert_below "$secs" 15 "d: seconds until the run ended (deadline 5 + slack)"
assert_contains "$out" "cut at the [repository] deadline" "d: the error"
assert_contains "$out" "the partial download is kept and the next run resumes it" "d: the error"
kept=$(stat -c %s "$SITE_STATE/downloads/$PAYLOAD_SHA.partial")
[ "$kept" -gt 0 ] || fail "d: nothing kept in the partial"
fs "__fault?clear=1" >/dev/null
fs_log >/dev/null
bounded_run d2
assert_eq "$rc" 0 "d: the next run ($out)"
[ -f "$SITE_STATE/downloads/$PAYLOAD_SHA" ] || fail "d: the payload is not in downloads/"
fs_log | grep -F "\"path\": \"$PAYLOAD\"" | grep -qF "\"range\": \"bytes=$kept-\"" \
  || fail "d: the next run did not resume at byte $kept"
echo "ok"
