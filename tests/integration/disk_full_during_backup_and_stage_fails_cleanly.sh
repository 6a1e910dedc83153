#!/usr/bin/env bash
# Proves that a filesystem that is or becomes full makes `airlock backup create` and `airlock stage` fail cleanly,
# on small tmpfs mounts (needs root):
#  - backups/ too small for the estimate (the uncompressed size of the tree): refused before writing, exit 1, the
#    message says how much space is needed and free;
#  - backups/ big enough for the file bytes but not for the pax headers of ~3000-byte paths (the archive is ~3x
#    the file bytes): the estimate counts those headers, so this is refused before writing as well;
#  - the whole state dir on a tmpfs that another process fills while the backup writes: the same, and the state
#    database, on the same full filesystem, still records the backup as failed;
#  in each case no .tar.gz and no temp file is left, the backup row is "failed" (never complete), data/ and site/
#  are untouched, and once there is room a backup succeeds and verifies.
#  - state/downloads/ too small for the payload, then releases/ too small for the tree: `airlock stage` exits 1
#    with "No space left on device", leaves neither releases/<v> nor <v>.partial (nor a temp file in downloads/),
#    current and data/ and site/ stay as they were; after the filesystem is enlarged the stage succeeds and the
#    tree matches the release source.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
[ "$(id -u)" = 0 ] || skip "needs root to mount tmpfs"
mkdir -p "$T/probe"
mount -t tmpfs -o size=1m tmpfs "$T/probe" 2>/dev/null || skip "cannot mount tmpfs here"
umount "$T/probe"
# mount_tmpfs DIR SIZE: a tmpfs on DIR, unmounted when the test ends.
mount_tmpfs() {
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" || fail "mount tmpfs on $1"
  defer "umount '$1' || umount -l '$1'"
}
resize() { mount -o "remount,size=$2" "$1" || fail "remount $1 with size $2"; }
used_kib() { df -k --output=used "$1" | tail -1 | tr -d ' '; }

make_keys "$T/keys"
"$AIRLOCK_BUNDLE" repo init "$T/repo" --app demo --root-key "$T/keys/root.pem" --targets-key "$T/keys/targets.pem" \
  --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem" >/dev/null
ROOT=$T/repo/metadata/1.root.json
mkdir -p "$T/running"
printf 'services:\n  web:\n    image: demo/web:0\n' > "$T/running/docker-compose.yml"

site_sum() {
  (cd "$1" && {
    find data site -printf '%y %m %p %l\n' | LC_ALL=C sort
    find data site -type f -print0 | xargs -0 sha256sum | LC_ALL=C sort
    echo "current -> $(readlink current)"
  } | sha256sum | cut -d' ' -f1)
}
# backup_statuses CONFIG: "status status ..." of every backup, newest first.
backup_statuses() {
  "$AIRLOCK" backup list --json --config "$1" | python3 -c 'import json,sys; print(" ".join(b["status"] for b in json.load(sys.stdin)))'
}

# ---- backups/ on a tmpfs ----
C=(--config "$T/a.conf")
run "$AIRLOCK" init --app demo --install-root "$T/opt" --state-dir "$T/state" --trusted-root "$ROOT" --adopt "$T/running" \
  "${C[@]}"
assert_eq "$rc" 0 "init ($out)"
SITE_A=$T/opt/demo
BK=$T/state/backups
# 1500 one-byte files at the end of 12 nested 243-character directory names, a secret and a symlink.
python3 - "$SITE_A/data" <<'EOF'
import os, sys
d = sys.argv[1] + "/" + "/".join(("n%02d" % i) + "x" * 240 for i in range(12))
os.makedirs(d)
for f in range(1500):
    with open(f"{d}/file-{f:04}-" + "y" * 40, "wb") as fh:
        fh.write(b"z")
EOF
echo "SECRET=1" > "$SITE_A/site/.env"
ln -s n00 "$SITE_A/data/link"
sum_a=$(site_sum "$SITE_A")
mount_tmpfs "$BK" 2m

# The estimate does not fit in 2 MiB: refused before anything is written.
run "$AIRLOCK" backup create --level 0 "${C[@]}"
assert_eq "$rc" 1 "backup create on a 2 MiB backups/ ($out)"
grep -qE "needs about [0-9]+ MiB in $BK, 2 MiB free; free space or lower retention" <<<"$out" || fail "early refusal: $out"
assert_eq "$(ls -A "$BK")" "" "backups/ after the early refusal"
assert_eq "$(backup_statuses "$T/a.conf")" "failed" "backup rows after the early refusal"

# 4 MiB holds the file bytes (1.5 KiB) several times over, but not the archive (about 6.6 MiB of pax headers for
# the long paths): the estimate counts the headers, so this is refused before writing too.
resize "$BK" 4m
run "$AIRLOCK" backup create --level 0 "${C[@]}"
assert_eq "$rc" 1 "backup create on a 4 MiB backups/ ($out)"
grep -qE "needs about [0-9]+ MiB in $BK, 4 MiB free" <<<"$out" || fail "refusal on 4 MiB: $out"
assert_eq "$(ls -A "$BK")" "" "backups/ after the second refusal"
assert_eq "$(used_kib "$BK")" 0 "KiB still used in backups/ after the second refusal"
assert_eq "$(backup_statuses "$T/a.conf")" "failed failed" "backup rows after the second refusal"
assert_eq "$(site_sum "$SITE_A")" "$sum_a" "data/ and site/ after the failed backups"

# With room, the same backup succeeds and verifies; the failed ones stay failed.
resize "$BK" 16m
run "$AIRLOCK" backup create --level 0 "${C[@]}"
assert_eq "$rc" 0 "backup create on a 16 MiB backups/ ($out)"
assert_eq "$(backup_statuses "$T/a.conf")" "complete failed failed" "backup rows after the successful backup"
id=$("$AIRLOCK" backup list --json "${C[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
run "$AIRLOCK" backup verify "$id" "${C[@]}"
assert_eq "$rc" 0 "backup verify ($out)"
assert_eq "$(ls -A "$BK")" "$id.tar.gz" "backups/ after the successful backup"
run "$AIRLOCK" history --json "${C[@]}"
assert_eq "$(python3 -c 'import json,sys; print(" ".join(e["outcome"] for e in json.load(sys.stdin) if e["action"]=="backup"))' <<<"$out")" \
  "ok failed failed" "backup outcomes in history"

# ---- the whole state dir on a tmpfs, filled by another process mid-backup ----
S=$T/state-b
mount_tmpfs "$S" 48m
CB=(--config "$T/b.conf")
run "$AIRLOCK" init --app demo --install-root "$T/opt-b" --state-dir "$S" --trusted-root "$ROOT" --adopt "$T/running" "${CB[@]}"
assert_eq "$rc" 0 "init of the second site ($out)"
SITE_B=$T/opt-b/demo
head -c 30000000 /dev/urandom > "$SITE_B/data/blob"
echo "SECRET=2" > "$SITE_B/site/.env"
sum_b=$(site_sum "$SITE_B")
# The estimate (about 29 MiB) fits in 48 MiB; as soon as the temp file appears, a filler takes all the rest.
# The agent's output goes to a file outside that filesystem: on it, the error message itself would find no
# space (with several compression threads the first member is written late, so the temp file that the failure
# removes may hold no block to free).
read -r filled st < <(python3 - "$S" "$T/backup-b.log" "$AIRLOCK" backup create --level 9 "${CB[@]}" <<'EOF'
import glob, os, subprocess, sys, time
state, logfile, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
filled = "no"
with open(logfile, "wb") as log:
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    while p.poll() is None:
        if glob.glob(state + "/backups/*.tmp-*"):
            with open(state + "/filler", "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * (1 << 20))
                        f.flush()
                except OSError:
                    filled = "yes"
            break
        time.sleep(0.0005)
    print(filled, p.wait())
EOF
)
out=$(cat "$T/backup-b.log")
assert_eq "$filled" yes "the filler filled the state filesystem"
assert_eq "$st" 1 "backup create while the state filesystem fills ($out)"
assert_contains "$out" "was not written: cannot write $S/backups/" "failure while the state filesystem fills"
assert_contains "$out" "No space left on device (the filesystem is full: free space there and run again)"
assert_eq "$(ls -A "$S/backups")" "" "backups/ after the failure on the full state filesystem"
# The database lives on the full filesystem too: it still opens and recorded the failure.
# Its row says failed, or, when the full filesystem had no room for that update either, still in-progress
# (the error printed is the write's own, not the database's); the next run marks it failed (below).
case $(backup_statuses "$T/b.conf") in failed|in-progress) ;; *) fail "backup rows on the full state filesystem: $(backup_statuses "$T/b.conf")";; esac
run "$AIRLOCK" status "${CB[@]}"
assert_eq "$rc" 0 "status on the full state filesystem ($out)"
assert_eq "$(site_sum "$SITE_B")" "$sum_b" "data/ and site/ of the second site"
rm "$S/filler"
run "$AIRLOCK" backup create --level 1 "${CB[@]}"
assert_eq "$rc" 0 "backup create once the filler is gone ($out)"
assert_eq "$(backup_statuses "$T/b.conf")" "complete failed" "backup rows of the second site"

# ---- stage: state/downloads/ and then releases/ too small ----
SRC=$T/src
make_src "$SRC" 1.0.0
mkdir -p "$SRC/blobs"
for b in 0 1 2; do head -c 4000000 /dev/urandom > "$SRC/blobs/b$b"; done
# shellcheck disable=SC2046
"$AIRLOCK_BUNDLE" release add "$T/repo" "$SRC" --arch x86_64 $(src_image "$SRC") $(online_keys "$T/keys") >/dev/null \
  || fail "release add"
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.0.0 --arch x86_64 --out "$T/v1.airlock" >/dev/null
C=(--config "$T/c.conf")
mkdir -p "$T/opt-c/demo/releases"
mount_tmpfs "$T/opt-c/demo/releases" 6m
run "$AIRLOCK" init --app demo --install-root "$T/opt-c" --state-dir "$T/state-c" --trusted-root "$ROOT" \
  --adopt "$T/running" "${C[@]}"
assert_eq "$rc" 0 "init of the third site ($out)"
SITE_C=$T/opt-c/demo
REL=$SITE_C/releases
echo "keep me" > "$SITE_C/data/file"
echo "SECRET=3" > "$SITE_C/site/.env"
sum_c=$(site_sum "$SITE_C")
used_before=$(used_kib "$REL")
mount_tmpfs "$T/state-c/downloads" 4m

run "$AIRLOCK" stage "$T/v1.airlock" "${C[@]}"
assert_eq "$rc" 1 "stage with a 4 MiB downloads/ ($out)"
assert_contains "$out" "cannot write $T/state-c/downloads/" "stage with a full downloads/"
assert_contains "$out" "No space left on device (the filesystem is full: free space there and run again)"
tmps=$(ls -A "$T/state-c/downloads" | grep 'tmp-' || true)
[ -z "$tmps" ] || fail "temp files left in downloads/: $tmps"
assert_eq "$(ls -A "$REL")" "0" "releases/ after the full downloads/"

resize "$T/state-c/downloads" 64m
run "$AIRLOCK" stage "$T/v1.airlock" "${C[@]}"
assert_eq "$rc" 1 "stage with a 6 MiB releases/ ($out)"
assert_contains "$out" "cannot write $REL/1.0.0.partial/" "stage with a full releases/"
assert_contains "$out" "No space left on device (the filesystem is full: free space there and run again)"
assert_eq "$(ls -A "$REL")" "0" "releases/ after the full releases/"
assert_eq "$(used_kib "$REL")" "$used_before" "KiB used in releases/ after the failed stage"
assert_eq "$(readlink "$SITE_C/current")" "releases/0" "current after the failed stages"
assert_eq "$(site_sum "$SITE_C")" "$sum_c" "data/ and site/ after the failed stages"
run "$AIRLOCK" status --json "${C[@]}"
assert_eq "$rc" 0 "status after the failed stages ($out)"

resize "$REL" 64m
run "$AIRLOCK" stage "$T/v1.airlock" "${C[@]}"
assert_eq "$rc" 0 "stage once releases/ has room ($out)"
assert_contains "$out" "staged demo 1.0.0 (full)"
tree() { (cd "$1" && find . -mindepth 1 ! -path ./airlock-release.json -printf '%y %m %p %l\n' | LC_ALL=C sort &&
  find . -type f ! -path ./airlock-release.json -print0 | xargs -0 sha256sum | LC_ALL=C sort); }
assert_eq "$(tree "$REL/1.0.0")" "$(tree "$SRC")" "the staged tree"
assert_eq "$(ls -A "$REL" | tr '\n' ' ')" "0 1.0.0 " "releases/ after the stage"
assert_eq "$(readlink "$SITE_C/current")" "releases/0" "current after the stage"
assert_eq "$(site_sum "$SITE_C")" "$sum_c" "data/ and site/ after the stage"
echo ok
