#!/usr/bin/env bash
# Proves the online mode end to end on the real dockerd, with the repository served by the test nginx over HTTPS
# (test CA) behind a dead first mirror:
#  1. `check` on an empty site: exit 10, "full", the version and the bytes to download (--json: the exact sum of
#     the signed target lengths); `upgrade --cron` installs 1.0.0 (the service answers "ok 1.0.0", the audit
#     row's action is "upgrade"); then `check` exits 0 and a second `upgrade --cron` prints nothing at all.
#  2. The lock held by another process: `upgrade --cron` exits 0 and prints nothing; without --cron it exits 5;
#     `check` (which changes nothing) still answers.
#  3. 1.1.0 and a patch 1.0.0 -> 1.1.0 are published: `check` says "patch"; `upgrade --download-only` puts the
#     targets in downloads/ and changes nothing in the running site; the repository is then taken offline and
#     `apply` installs 1.1.0 from the downloads alone; downloads/ is empty afterwards.
#     Then 1.2.0 with --download-only and a plain `upgrade`, which asks the server for metadata only (nginx's
#     access log), and a stale partial with its resume row is removed.
#  4. A rollback attack: the web server serves the repository as it was at step 1 (older, validly signed
#     metadata): `check` and `upgrade --cron` exit 3 naming the rollback, the site still runs 1.2.0, and the
#     trusted metadata is unchanged.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}" "${AIRLOCK_TEST_WWW:?testenv is not started}"
E2E=$T/e2e E2E_APP=e2eonline$$ E2E_PORT=18461
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")
WWW=$AIRLOCK_TEST_WWW/online-$$
defer rm -rf "$WWW" "$WWW.old" "$WWW.off"

# Publishes the repository as it is now (nginx's workers read it as nobody).
publish() { rm -rf "$WWW.new"; cp -r "$E2E/repo" "$WWW.new"; chmod -R a+rX "$WWW.new"; rm -rf "$WWW"; mv "$WWW.new" "$WWW"; }

e2e_release 1.0.0
publish
cp -r "$WWW" "$WWW.old" # the repository as it was at 1.0.0, for the rollback attack
e2e_forget_images 1.0.0
e2e_init
cat >> "$E2E_CONF" <<CONF
[repository]
urls = http://127.0.0.1:9/dead-mirror $AIRLOCK_TEST_HTTPS/online-$$
ca_file = $AIRLOCK_TEST_CA
retries = 2
connect_timeout = 2
stall_timeout = 10
CONF

# 1. First install from cron.
run "$AIRLOCK" check "${CF[@]}"
assert_eq "$rc" 10 "check on an empty site ($out)"
assert_contains "$out" "update available: $E2E_APP (nothing installed) -> 1.0.0 (full)"
run "$AIRLOCK" check --json "${CF[@]}"
assert_eq "$rc" 10 "check --json ($out)"
json=$(tail -1 <<<"$out")
assert_eq "$(e2e_py 'd["decision"], d["to"]' <<<"$json")" "('full', '1.0.0')" "check --json decision"
# What the site lacks: the payload, the image's config and the layers above the longest chain of its layers that an
# image in the engine starts with (the base, the testsvc binary, is there in the fixture's shared base image; another
# scenario's image of the same version may hold the top layer too), judged as the agent judges it.
want=$(python3 - "$WWW" "$E2E_APP" <<'PY'
import glob, json, subprocess, sys
www, app = sys.argv[1], sys.argv[2]
newest = max(glob.glob(www + "/metadata/*.targets.json"), key=lambda p: int(p.rsplit("/", 1)[1].split(".")[0]))
t = json.load(open(newest))["signed"]["targets"]
rel = next(n for n in t if n.startswith(app + "/1.0.0/") and n.endswith("/release.json"))
m = json.load(open(glob.glob(www + "/targets/" + rel.rsplit("/", 1)[0] + "/" + t[rel]["hashes"]["sha256"] + ".release.json")[0]))
ids = subprocess.run(["docker", "image", "ls", "-aq", "--no-trunc"], capture_output=True, text=True).stdout.split()
chains = [json.loads(subprocess.run(["docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}", i],
                                    capture_output=True, text=True).stdout or "[]") for i in set(ids)]
names = [m["payload"]]
for img in m["images"]:
    layers = [l["diff_id"] for l in img["layers"]]
    held = max([next((k for k in range(len(layers)) if k >= len(c) or c[k] != layers[k]), len(layers)) for c in chains] + [0])
    names += [img["config"]] + [l["blob"] for l in img["layers"][held:]]
print(sum(t[n]["length"] for n in names))
PY
)
assert_eq "$(e2e_py 'd["download_bytes"]' <<<"$json")" "$want" \
  "check --json download_bytes (signed payload, config and the layer the engine lacks)"

run "$AIRLOCK" upgrade --cron --max-delay 0 "${CF[@]}"
assert_eq "$rc" 0 "upgrade --cron to 1.0.0 ($out)"
assert_contains "$out" "updated (nothing) -> 1.0.0 (full"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the online install"
assert_eq "$(e2e_history | e2e_py '[(r["action"], r["outcome"], r["to"]) for r in d][0]')" "('upgrade', 'ok', '1.0.0')" \
  "the audit row of the online install"
run "$AIRLOCK" check "${CF[@]}"
assert_eq "$rc" 0 "check when up to date ($out)"
assert_contains "$out" "up to date: $E2E_APP 1.0.0"
cid=$(e2e_cid)
out=$("$AIRLOCK" upgrade --cron --max-delay 0 "${CF[@]}" 2>&1) || fail "upgrade --cron with nothing to do failed: $out"
assert_eq "$out" "" "upgrade --cron with nothing to do prints nothing"
assert_eq "$(e2e_cid)" "$cid" "the container after a cron run with nothing to do"
# The random delay: --max-delay 2 waits 0..2 s and says so in the JSON log (not on stderr).
out=$("$AIRLOCK" upgrade --cron --max-delay 2 "${CF[@]}" 2>&1) || fail "upgrade --cron --max-delay 2 failed: $out"
assert_eq "$out" "" "upgrade --cron --max-delay 2 output"
delay=$(grep '"module":"cron"' "$E2E_STATE/airlock.jsonl" | tail -1 | e2e_py 'd["event"], 0 <= d["seconds"] <= 2')
assert_eq "$delay" "('delay', True)" "the cron delay in the JSON log"

# 2. The lock is busy.
exec 9>"$E2E_STATE/airlock.lock"
flock 9
out=$("$AIRLOCK" upgrade --cron --max-delay 0 "${CF[@]}" 2>&1) || fail "upgrade --cron with the lock busy failed: $out"
assert_eq "$out" "" "upgrade --cron with the lock busy prints nothing"
run "$AIRLOCK" upgrade --yes "${CF[@]}"
assert_eq "$rc" 5 "upgrade with the lock busy ($out)"
run "$AIRLOCK" check "${CF[@]}"
assert_eq "$rc" 0 "check with the lock busy (check takes no lock) ($out)"
exec 9>&-

# 3. A patch, downloaded first and applied with the repository offline.
e2e_release 1.1.0
e2e_patch 1.0.0 1.1.0
publish
before=$(e2e_trust_sum)
run "$AIRLOCK" check "${CF[@]}"
assert_eq "$rc" 10 "check with 1.1.0 published ($out)"
assert_eq "$(e2e_trust_sum)" "$before" "the trusted metadata after check (it saves nothing)"
assert_contains "$out" "1.0.0 -> 1.1.0 (patch)"
e2e_forget_images 1.1.0
run "$AIRLOCK" upgrade --download-only --yes "${CF[@]}"
assert_eq "$rc" 0 "upgrade --download-only ($out)"
assert_contains "$out" "downloaded 1.0.0 -> 1.1.0 (patch)"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after --download-only"
assert_eq "$(e2e_cid)" "$cid" "the container after --download-only"
n=$(find "$E2E_STATE/downloads" -maxdepth 1 -type f | wc -l)
[ "$n" -ge 2 ] || fail "downloads/ holds $n files after --download-only (payload, image, release.json expected)"
run "$AIRLOCK" check "${CF[@]}"
assert_contains "$out" "0 B to download" "check after --download-only"
mv "$WWW" "$WWW.off" # the repository goes offline
run "$AIRLOCK" apply --yes "${CF[@]}"
assert_eq "$rc" 0 "apply of the downloaded patch with the repository offline ($out)"
assert_contains "$out" "updated 1.0.0 -> 1.1.0 (patch"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after apply"
assert_eq "$(find "$E2E_STATE/downloads" -maxdepth 1 -type f | wc -l)" 0 "files left in downloads/ after apply"
mv "$WWW.off" "$WWW"

# 3b. 1.2.0: --download-only, then `upgrade` uses the files without asking the server for them again; a stale
# partial that no signed target names (with its resume row) is cleaned up on the way.
e2e_release 1.2.0
publish
e2e_forget_images 1.2.0
stale=$(printf '0%.0s' $(seq 64))
head -c 1000 /dev/urandom > "$E2E_STATE/downloads/$stale.partial"
sqlite3 "$E2E_STATE/state.db" "INSERT INTO downloads (sha256, url, path, expected_length, bytes_done, updated_at)
  VALUES ('$stale', 'http://gone.example/x', '$E2E_STATE/downloads/$stale.partial', 5000, 1000, 'then')"
run "$AIRLOCK" upgrade --download-only --yes "${CF[@]}"
assert_eq "$rc" 0 "upgrade --download-only of 1.2.0 ($out)"
[ ! -e "$E2E_STATE/downloads/$stale.partial" ] || fail "the stale partial was not removed"
assert_eq "$(sqlite3 "$E2E_STATE/state.db" "SELECT count(*) FROM downloads")" 0 "resume rows after the download"
log=$TESTENV/nginx-access.log
before=$(wc -l <"$log")
run "$AIRLOCK" upgrade --yes "${CF[@]}"
assert_eq "$rc" 0 "upgrade to 1.2.0 after --download-only ($out)"
assert_contains "$out" "updated 1.1.0 -> 1.2.0 (full"
assert_eq "$(e2e_body)" "ok 1.2.0" "the service after the upgrade to 1.2.0"
requests=$(tail -n +"$((before + 1))" "$log" | grep -F "/online-$$/" || true)
assert_contains "$requests" "/metadata/timestamp.json" "requests of the upgrade after --download-only"
! grep -F "/targets/" <<<"$requests" | grep -v "release.json" | grep -q . \
  || fail "the upgrade after --download-only fetched targets again: $requests"

# 4. A rollback attack: the server now serves the older (validly signed) metadata of step 1.
trust=$(e2e_trust_sum)
rm -rf "$WWW"; cp -r "$WWW.old" "$WWW"
run "$AIRLOCK" check "${CF[@]}"
assert_eq "$rc" 3 "check against rolled-back metadata ($out)"
assert_contains "$out" "rollback"
run "$AIRLOCK" upgrade --cron --max-delay 0 "${CF[@]}"
assert_eq "$rc" 3 "upgrade --cron against rolled-back metadata ($out)"
assert_contains "$out" "rollback"
assert_eq "$(e2e_body)" "ok 1.2.0" "the service after the refused rollback"
assert_eq "$(e2e_trust_sum)" "$trust" "the trusted metadata after the refused rollback"
echo ok
