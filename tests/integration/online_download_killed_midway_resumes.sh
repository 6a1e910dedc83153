#!/usr/bin/env bash
# A download killed midway resumes where it stopped, and a file that changed on the server in between is never
# spliced onto the old bytes. The repository (a release whose image's base layer holds 40 MiB of random bytes) is served
# by faultserver.py (tests/fixtures/faultserver), throttled on /targets/ so that the download takes seconds.
#  1. `upgrade --download-only` is SIGKILLed once the base layer blob's .partial passes 40%: the partial is there with its
#     `downloads` row (URL, path, expected length, ETag). With the throttle removed the rerun exits 0, the file in
#     downloads/ has the signed SHA-256, the only request for it asked "Range: bytes=<partial size>-" with If-Range
#     = the row's ETag and got 206, and the server sent at most the target's length plus one window of
#     in-flight bytes over both runs (see WINDOW).
#  2. Killed midway again, then the served file is replaced by one of the same length whose first MiB differs
#     (a new ETag): the rerun's Range request carries the old ETag in If-Range, the server answers 200 with the
#     whole new file, the agent starts again at byte 0 (a splice of the old prefix and the new suffix would be
#     the signed file, and would pass), the hash check refuses the new file twice: exit 3 naming the mismatch,
#     and downloads/ holds no file named by the target's hash, no partial and no row. With the right file back the
#     next run downloads it from byte 0 and exits 0.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY no_proxy NO_PROXY
E2E=$T/e2e E2E_APP=e2edl$$ E2E_PORT=18483
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
. "$(dirname "$0")/../fixtures/faultserver/start.sh"
CF=(--config "$E2E_CONF")
DL=$E2E_STATE/downloads
RATE_KIB=4096 # the throttle: a 40 MiB archive takes about 10 s
# In-flight allowance for a killed run: bytes_sent counts the bytes the server's kernel accepted, so at the kill
# some of them sit in the server's send buffer, the agent's receive buffer or its 256 KiB read buffer and never
# reach the partial file. At RATE_KIB the server hands over 400 KiB per 100 ms and the agent drains its socket
# continuously, so a few hundred KiB is typical; 4 MiB (one second of transfer, and tcp_wmem's maximum here)
# is the bound.
WINDOW=$((4 << 20))

export IMAGE_PAD_MIB=40
e2e_release 1.0.0
unset IMAGE_PAD_MIB
# So that --download-only needs the layers: the image, and the base image (tests/fixtures/testsvc/make-image.sh)
# that holds the padded layer (its tag is this pad size's own; no other scenario uses 40 MiB).
base_layer=$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$E2E_APP-web:1.0.0")
e2e_forget_images 1.0.0
for b in $(docker images --format '{{.Repository}}:{{.Tag}}' airlock-testsvc-base); do
  [ "$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$b")" != "$base_layer" ] || docker rmi "$b" >/dev/null
done
read -r IMG_LEN IMG_SHA <<<"$(python3 - "$E2E/repo/metadata" <<'PY'
import glob, json, sys
newest = max(glob.glob(sys.argv[1] + "/*.targets.json"), key=lambda p: int(p.rsplit("/", 1)[1].split(".")[0]))
layers = [t for t in json.load(open(newest))["signed"]["targets"].values() if t.get("custom", {}).get("role") == "layer"]
big = max(layers, key=lambda t: t["length"])
print(big["length"], big["hashes"]["sha256"])
PY
)"
[ -n "$IMG_SHA" ] || fail "no layer target in the signed targets"
[ "$IMG_LEN" -ge $((40 << 20)) ] || fail "the largest layer blob is only $IMG_LEN bytes (IMAGE_PAD_MIB not honoured?)"
IMG_PATH=$(cd "$E2E/repo" && find targets -name "$IMG_SHA.*")
PART=$DL/$IMG_SHA.partial

# The faultserver serves a copy of the repository at /repo.
mkdir -p "$T/fsroot"
cp -r "$E2E/repo" "$T/fsroot/repo"
SERVED=$T/fsroot/repo/$IMG_PATH
faultserver_start "$T/fsroot"
# The faultserver's entries for the image archive since the last call, as JSON lines (the log is then cleared).
img_log() { fs "__log?clear=1" | grep -F "\"path\": \"/repo/$IMG_PATH\"" || true; }
# Python over the JSON lines of stdin: `log` is the list of entries; prints EXPR.
log_py() { python3 -c 'import json, sys; log = [json.loads(l) for l in sys.stdin if l.strip()]; print(eval(sys.argv[1]))' "$1"; }
row() { sqlite3 -separator '|' "$E2E_STATE/state.db" "SELECT $1 FROM downloads WHERE sha256 = '$IMG_SHA'"; }
assert_between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ] && return 0; fail "$4: $1 is not in $2..$3"; }
sha_of() { sha256sum < "$1" | cut -d' ' -f1; }
# Every complete file in downloads/ named by a hash holds exactly that hash's bytes.
assert_no_spliced_file() {
  local f
  for f in "$DL"/*; do
    case $(basename "$f") in *.partial | *.tmp-*) continue ;; esac
    assert_eq "$(sha_of "$f")" "$(basename "$f")" "$1: content of $f"
  done
}

e2e_init
cat >> "$E2E_CONF" <<CONF
[repository]
urls = $FS/repo
retries = 3
connect_timeout = 2
stall_timeout = 10
CONF

# Starts `upgrade --download-only` with /targets/ throttled and SIGKILLs it once the image's partial passes 40%.
# Sets KILLED_AT to the partial's size after the kill.
download_and_kill() {
  local label=$1 pid size=0 rc_wait
  fs "__fault?mode=slow&n=$RATE_KIB&path=/repo/targets/" >/dev/null
  "$AIRLOCK" upgrade --download-only --yes "${CF[@]}" >"$T/$label.out" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    size=$(stat -c %s "$PART" 2>/dev/null || echo 0)
    [ "$size" -lt $((IMG_LEN * 2 / 5)) ] || break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  set +e; wait "$pid"; rc_wait=$?; set -e
  assert_eq "$rc_wait" 137 "$label: exit status of the killed download (it should still run at 40%): $(cat "$T/$label.out")"
  fs "__fault?clear=1" >/dev/null
  KILLED_AT=$(stat -c %s "$PART")
  assert_between "$KILLED_AT" $((IMG_LEN * 2 / 5)) $((IMG_LEN - 1)) "$label: bytes in the partial after the kill"
  [ ! -e "$DL/$IMG_SHA" ] || fail "$label: $DL/$IMG_SHA exists after a killed download"
  assert_eq "$(row "url || '|' || path || '|' || expected_length")" "$FS/repo/$IMG_PATH|$PART|$IMG_LEN" \
    "$label: the downloads row of the partial"
  ROW_ETAG=$(row etag)
  [ -n "$ROW_ETAG" ] || fail "$label: the downloads row has no ETag"
  local done_
  done_=$(row bytes_done)
  assert_between "$done_" 1 "$KILLED_AT" "$label: the row's bytes_done ($KILLED_AT bytes in the partial)"
}

# 1. Killed at 40%, resumed.
download_and_kill run1
P1=$KILLED_AT
log=$(img_log)
assert_eq "$(log_py '[(e["status"], e["range"]) for e in log]' <<<"$log")" "[(200, '')]" "run1: requests for the image"
sent1=$(log_py 'log[0]["bytes_sent"]' <<<"$log")
inflight=$((sent1 - P1))
assert_between "$inflight" 0 "$WINDOW" "run1: bytes in flight at the kill (the server sent $sent1, the partial holds $P1)"

run "$AIRLOCK" upgrade --download-only --yes "${CF[@]}"
assert_eq "$rc" 0 "run2: the resumed download ($out)"
assert_contains "$out" "downloaded (nothing) -> 1.0.0 (full)"
assert_contains "$out" "resuming at"
assert_eq "$(sha_of "$DL/$IMG_SHA")" "$IMG_SHA" "run2: SHA-256 of the downloaded layer blob"
[ ! -e "$PART" ] || fail "run2: the partial is left over"
assert_eq "$(row "count(*)")" 0 "run2: downloads rows left for the image"
log=$(img_log)
assert_eq "$(log_py '[(e["status"], e["range"], e["if_range"]) for e in log]' <<<"$log")" \
  "[(206, 'bytes=$P1-', '$ROW_ETAG')]" "run2: requests for the image"
sent2=$(log_py 'log[0]["bytes_sent"]' <<<"$log")
assert_eq "$sent2" $((IMG_LEN - P1)) "run2: body bytes of the resumed request"
[ $((sent1 + sent2)) -le $((IMG_LEN + WINDOW)) ] \
  || fail "the server sent $((sent1 + sent2)) bytes for a $IMG_LEN-byte target over both runs (allowed + $WINDOW)"
assert_no_spliced_file run2
echo "run1 killed at $P1 of $IMG_LEN bytes, $inflight in flight; run2 resumed; $((sent1 + sent2)) bytes sent in all" >&2

# 2. Killed again, and the served file changes before the rerun.
rm "$DL/$IMG_SHA"
download_and_kill run3
P3=$KILLED_AT
img_log >/dev/null
# Same length, the first MiB inverted, a new inode (so a new ETag); the original is kept aside.
mv "$SERVED" "$T/image.orig"
python3 - "$T/image.orig" "$SERVED.new" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[:1 << 20] = bytes(b ^ 0xFF for b in data[:1 << 20])
open(sys.argv[2], "wb").write(data)
PY
mv "$SERVED.new" "$SERVED"
run "$AIRLOCK" upgrade --download-only --yes "${CF[@]}"
assert_eq "$rc" 3 "run4: download of a file that changed on the server ($out)"
assert_contains "$out" "the downloaded file does not match the signed metadata"
assert_contains "$out" "starting again at byte 0"
log=$(img_log)
assert_eq "$(log_py '[(e["status"], e["range"], e["if_range"], e["bytes_sent"]) for e in log]' <<<"$log")" \
  "[(200, 'bytes=$P3-', '$ROW_ETAG', $IMG_LEN), (200, '', '', $IMG_LEN)]" "run4: requests for the image"
[ ! -e "$DL/$IMG_SHA" ] || fail "run4: $DL/$IMG_SHA exists after the hash check refused the file"
[ ! -e "$PART" ] || fail "run4: the refused partial is left in downloads/"
assert_eq "$(row "count(*)")" 0 "run4: downloads rows left after the refusal"
assert_no_spliced_file run4

# The right file back (a new inode again): a clean download from byte 0.
cp "$T/image.orig" "$SERVED.new"
mv "$SERVED.new" "$SERVED"
run "$AIRLOCK" upgrade --download-only --yes "${CF[@]}"
assert_eq "$rc" 0 "run5: download once the server has the signed file again ($out)"
assert_eq "$(sha_of "$DL/$IMG_SHA")" "$IMG_SHA" "run5: SHA-256 of the downloaded layer blob"
assert_eq "$(img_log | log_py '[(e["status"], e["range"], e["bytes_sent"]) for e in log]')" "[(200, '', $IMG_LEN)]" \
  "run5: requests for the image"
assert_no_spliced_file run5
echo ok
