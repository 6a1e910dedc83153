#!/usr/bin/env bash
# Proves a site can be initialised (adopting a running compose directory), backed up, listed, verified and restored
# from the CLI, that restore needs --yes without a terminal, that a busy lock is exit 5, that a backup killed with
# SIGKILL is never offered for restore and is cleaned up by the next run, and that history records who did what.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_keys "$T/keys"
"$AIRLOCK_BUNDLE" repo init "$T/repo" --app demo --root-key "$T/keys/root.pem" --targets-key "$T/keys/targets.pem" \
  --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem" >/dev/null
mkdir -p "$T/running"
printf 'services:\n  web:\n    image: demo/web:0\n' > "$T/running/docker-compose.yml"
C=(--config "$T/airlock.conf")

run "$AIRLOCK" init --app demo --install-root "$T/opt" --state-dir "$T/state" --trusted-root "$T/repo/metadata/1.root.json" \
  --adopt "$T/running" "${C[@]}"
assert_eq "$rc" 0 "init exit code ($out)"
assert_eq "$(readlink "$T/opt/demo/current")" "releases/0" "current after adopting"
cmp "$T/running/docker-compose.yml" "$T/opt/demo/releases/0/docker-compose.yml" || fail "adopted compose file differs"
assert_eq "$(stat -c %a "$T/state")" 700 "state dir mode"
run "$AIRLOCK" config check "${C[@]}"
assert_eq "$rc" 0 "config check of the written config ($out)"

# Data, a backup, a change, a restore: the bytes come back.
mkdir -p "$T/opt/demo/data/db"
head -c 300000 /dev/urandom > "$T/opt/demo/data/db/blob"
echo "secret=1" > "$T/opt/demo/site/.env"
sum_before=$(cd "$T/opt/demo" && find data site -type f -exec sha256sum {} + | sort)
run "$AIRLOCK" backup create --note "before change" "${C[@]}"
assert_eq "$rc" 0 "backup create ($out)"
id=$("$AIRLOCK" backup list --json "${C[@]}" | python3 -c 'import json,sys; b=json.load(sys.stdin)[0]; print(b["id"] if b["status"]=="complete" else "")')
[ -n "$id" ] || fail "no complete backup listed"
run "$AIRLOCK" backup verify "$id" "${C[@]}"
assert_eq "$rc" 0 "backup verify ($out)"
echo damaged > "$T/opt/demo/data/db/blob"
run "$AIRLOCK" backup restore "$id" "${C[@]}" < /dev/null
assert_eq "$rc" 2 "restore without --yes and without a terminal"
assert_contains "$out" "add --yes"
run "$AIRLOCK" backup restore "$id" --yes "${C[@]}"
assert_eq "$rc" 0 "restore ($out)"
assert_eq "$(cd "$T/opt/demo" && find data site -type f -exec sha256sum {} + | sort)" "$sum_before" "data and site after restore"

# The lock: a second airlock while one runs is exit 5.
flock "$T/state/airlock.lock" sleep 3 &
sleep 0.5
run "$AIRLOCK" backup create "${C[@]}"
assert_eq "$rc" 5 "backup create while the lock is held ($out)"
assert_contains "$out" "another airlock (PID"
wait

# A backup killed with SIGKILL: never offered for restore, cleaned up by the next run.
head -c 200000000 /dev/urandom > "$T/opt/demo/data/big"
"$AIRLOCK" backup create --level 9 "${C[@]}" >/dev/null 2>&1 &
pid=$!
# Kill it once its temp file is growing, i.e. mid-write.
for _ in $(seq 1 100); do ls "$T/state/backups" | grep -q 'tmp-' && break; sleep 0.05; done
sleep 0.3
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
killed=$("$AIRLOCK" backup list --json "${C[@]}" | python3 -c 'import json,sys; print(" ".join(b["id"]+":"+b["status"] for b in json.load(sys.stdin)))')
assert_contains "$killed" ":in-progress" "backup list after the kill"
kid=$(tr ' ' '\n' <<<"$killed" | grep ':in-progress' | cut -d: -f1)
run "$AIRLOCK" backup restore "$kid" --yes "${C[@]}"
assert_eq "$rc" 2 "restore of the killed backup ($out)"
assert_contains "$out" "never offered for restore"
rm "$T/opt/demo/data/big"
run "$AIRLOCK" backup create "${C[@]}"
assert_eq "$rc" 0 "backup after the kill ($out)"
run "$AIRLOCK" backup list --json "${C[@]}"
assert_contains "$out" "\"id\":\"$kid\"" "killed backup still listed"
python3 -c 'import json,sys; s={b["id"]:b["status"] for b in json.load(sys.stdin)}; sys.exit(0 if s[sys.argv[1]]=="failed" else 1)' "$kid" <<<"$out" \
  || fail "the killed backup was not marked failed: $out"
ls "$T/state/backups" | grep -q 'tmp-' && fail "a temp file of the killed backup is left: $(ls "$T/state/backups")"

run "$AIRLOCK" backup prune --keep 1 "${C[@]}"
assert_eq "$rc" 0 "prune ($out)"
assert_eq "$("$AIRLOCK" backup list --json "${C[@]}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 1 "backups after prune"

run "$AIRLOCK" history --json "${C[@]}"
actions=$(python3 -c 'import json,sys; print(" ".join(e["action"]+":"+e["outcome"] for e in json.load(sys.stdin)))' <<<"$out")
assert_contains "$actions" "restore:ok backup:ok init:ok" "history"
run "$AIRLOCK" status --json "${C[@]}"
assert_contains "$out" '"version":"0"' "status"
echo ok
