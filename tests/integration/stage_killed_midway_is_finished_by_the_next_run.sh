#!/usr/bin/env bash
# Proves that `airlock stage BUNDLE` killed with SIGKILL at any point (while the payload is being verified into
# <state>/downloads, as soon as releases/<v>.partial appears, mid-extraction, while the big files are written,
# once every entry is written and the tree is being verified, right after the rename) never leaves a half tree
# under releases/<v> (only <v>.partial, or a <v> identical to the release), never moves current and never touches
# data/ or site/; that the state database still opens (`status`, `history --json`); and that the next
# `airlock stage` finishes the job: releases/<v> then matches the release source byte for byte, mode for mode,
# link for link, and no .partial is left. At least four of the runs must really die mid-way (exit 137).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_keys "$T/keys"
"$AIRLOCK_BUNDLE" repo init "$T/repo" --app demo --root-key "$T/keys/root.pem" --targets-key "$T/keys/targets.pem" \
  --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem" >/dev/null

# The release: 36 MiB of incompressible files between hundreds of small ones (tar order is path order:
# a-small/ first, then blobs/, then z-small/ and z-last), a symlink and an empty directory.
SRC=$T/src
make_src "$SRC" 1.0.0
python3 - "$SRC" <<'EOF'
import os, random, sys
root = sys.argv[1]
r = random.Random(7)
for top in ("a-small", "z-small"):
    for d in range(8):
        os.makedirs(f"{root}/{top}/d{d:02}", exist_ok=True)
        for f in range(20):
            with open(f"{root}/{top}/d{d:02}/f{f:02}", "wb") as fh:
                fh.write(r.randbytes(r.randint(1, 12000)))
os.makedirs(f"{root}/blobs", exist_ok=True)
for b in range(6):
    with open(f"{root}/blobs/b{b}", "wb") as fh:
        fh.write(os.urandom(6 << 20))
os.chmod(f"{root}/blobs/b3", 0o600)
os.makedirs(f"{root}/empty", exist_ok=True)
os.symlink("blobs/b0", f"{root}/link-to-b0")
with open(f"{root}/z-last", "w") as fh:
    fh.write("the last entry\n")
EOF
# shellcheck disable=SC2046
"$AIRLOCK_BUNDLE" release add "$T/repo" "$SRC" --arch x86_64 $(src_image "$SRC") $(online_keys "$T/keys") >/dev/null || fail "release add"
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.0.0 --arch x86_64 --out "$T/v1.airlock" >/dev/null

mkdir -p "$T/running"
printf 'services:\n  web:\n    image: demo/web:0\n' > "$T/running/docker-compose.yml"
C=(--config "$T/airlock.conf")
run "$AIRLOCK" init --app demo --install-root "$T/opt" --state-dir "$T/state" --trusted-root "$T/repo/metadata/1.root.json" \
  --adopt "$T/running" "${C[@]}"
assert_eq "$rc" 0 "init ($out)"
APP=$T/opt/demo
V=$APP/releases/1.0.0
mkdir -p "$APP/data/db"
head -c 2000000 /dev/urandom > "$APP/data/db/blob"
ln -s db/blob "$APP/data/link"
echo "SECRET=1" > "$APP/site/.env"

# Fingerprint of a tree: types, modes, paths, link targets and file contents (the root itself left out).
tree_sum() {
  (cd "$1" && {
    find . -mindepth 1 ! -path ./airlock-release.json -printf '%y %m %p %l\n' | LC_ALL=C sort
    find . -type f ! -path ./airlock-release.json -print0 | xargs -0 sha256sum | LC_ALL=C sort
  } | sha256sum | cut -d' ' -f1)
}
site_sum() {
  (cd "$APP" && {
    find data site -printf '%y %m %p %l\n' | LC_ALL=C sort
    find data site -type f -print0 | xargs -0 sha256sum | LC_ALL=C sort
    echo "current -> $(readlink current)"
  } | sha256sum | cut -d' ' -f1)
}
src_sum=$(tree_sum "$SRC")
site_before=$(site_sum)

# stage_and_kill POINT LOG: runs `airlock stage` on the bundle (output to LOG), waits for the condition POINT names
# and SIGKILLs it at once. The watcher starts the process itself, so it polls from the first instant with no shell
# round trip. Prints what it saw (the point, or "exited" when the stage ended first) and the exit status as a
# shell reports it (137 for SIGKILL).
stage_and_kill() {
  python3 - "$1" "$2" "$T/state/downloads" "$V" "$AIRLOCK" stage "$T/v1.airlock" "${C[@]}" <<'EOF'
import glob, os, signal, subprocess, sys, time
point, log, downloads, v, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
partial = v + ".partial"
def big_download():
    for p in glob.glob(downloads + "/*.tmp-*"):
        try:
            if os.path.getsize(p) > (4 << 20):
                return True
        except OSError:
            pass
    return False
delay = 0.0
if point.startswith("partial+"):
    point, delay = "partial", float(point.split("+")[1])
cond = {
    "download": big_download,                                   # the payload is being verified into downloads/
    "partial": lambda: os.path.isdir(partial),                  # extraction begins
    "blobs": lambda: os.path.exists(partial + "/blobs/b4"),     # the big files are being written
    "last": lambda: os.path.exists(partial + "/z-last"),        # every entry written: modes, fsync, verification
    "renamed": lambda: os.path.isdir(v),                        # renamed; not yet cleaned up or recorded
}[point]
seen = "exited"
with open(log, "wb") as out:
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if cond():
            if delay:
                time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            seen = point + (f"+{delay}" if delay else "")
            break
        time.sleep(0.0003)
    rc = proc.wait()
print(seen, 128 - rc if rc < 0 else rc)
EOF
}

# A clean run first: the baseline, and how long a stage takes here.
start=$(date +%s.%N)
run "$AIRLOCK" stage "$T/v1.airlock" "${C[@]}"
assert_eq "$rc" 0 "uninterrupted stage ($out)"
echo "an uninterrupted stage took $(echo "$(date +%s.%N) - $start" | bc) s" >&2
assert_eq "$(tree_sum "$V")" "$src_sum" "the uninterrupted stage"
rm -rf "$V"

points=(download partial partial+0.15 blobs last renamed)
killed=0 dirty=0
for i in "${!points[@]}"; do
  p=${points[$i]}
  tmps_before=$(cd "$T/state/downloads" && ls -A | grep -c 'tmp-' || true)
  read -r seen st < <(stage_and_kill "$p" "$T/stage.$i.log")
  if [ "$st" = 137 ]; then
    killed=$((killed + 1))
  else
    assert_eq "$st" 0 "attempt $i ($p): a stage that was not killed ($(cat "$T/stage.$i.log"))"
  fi
  left=$(cd "$APP/releases" && ls -A | LC_ALL=C sort | tr '\n' ' ')
  tmps=$(cd "$T/state/downloads" && ls -A | grep -c 'tmp-' || true)
  case $left in *1.0.0.partial* | *1.0.0\ *) dirty=$((dirty + 1)) ;; *) [ "$tmps" = "$tmps_before" ] || dirty=$((dirty + 1)) ;; esac
  echo "attempt $i: kill point $p, saw '$seen', exit $st; releases/: $left; temp files in downloads/: $tmps" >&2

  # Never a half tree under the final name: either no releases/1.0.0, or one identical to the release.
  case " $left" in
    *" 0 1.0.0 "*) # also with a 1.0.0.partial next to it
      assert_eq "$(tree_sum "$V")" "$src_sum" "attempt $i ($p): releases/1.0.0 right after the kill" ;;
    " 0 " | " 0 1.0.0.partial ") ;;
    *) fail "attempt $i ($p): unexpected entries in releases/: $left" ;;
  esac
  assert_eq "$(readlink "$APP/current")" "releases/0" "attempt $i ($p): current after the kill"
  assert_eq "$(site_sum)" "$site_before" "attempt $i ($p): data/ and site/ after the kill"
  run "$AIRLOCK" status --json "${C[@]}"
  assert_eq "$rc" 0 "attempt $i ($p): status after the kill ($out)"
  assert_contains "$out" '"version":"0"' "attempt $i ($p): status"
  run "$AIRLOCK" history --json "${C[@]}"
  assert_eq "$rc" 0 "attempt $i ($p): history after the kill ($out)"

  # The next run finishes the job.
  run "$AIRLOCK" stage "$T/v1.airlock" "${C[@]}"
  assert_eq "$rc" 0 "attempt $i ($p): the stage after the kill ($out)"
  assert_contains "$out" "staged demo 1.0.0 (full)" "attempt $i ($p): the stage after the kill"
  assert_eq "$(tree_sum "$V")" "$src_sum" "attempt $i ($p): releases/1.0.0 after the next run"
  [ ! -e "$V.partial" ] || fail "attempt $i ($p): a .partial is left after the next run"
  assert_eq "$(readlink "$APP/current")" "releases/0" "attempt $i ($p): current after the next run"
  assert_eq "$(site_sum)" "$site_before" "attempt $i ($p): data/ and site/ after the next run"
  # The verified payload and release.json are removed once staged. (Temp files of killed runs: see below.)
  done_files=$(cd "$T/state/downloads" && ls -A | grep -v 'tmp-' || true)
  [ -z "$done_files" ] || fail "attempt $i ($p): files left in state/downloads after the next run: $done_files"
  rm -rf "$V" # the operator removes the staged tree, so the next attempt stages it again
done

echo "killed $killed of ${#points[@]} stages; $dirty left something for the next run" >&2
# Known gap, reported rather than asserted: a stage killed while it copies a payload into state/downloads leaves
# <sha256>.tmp-<pid> there, and no later run removes it (AtomicFile names temp files by PID; stage cleans up
# only its own finished files).
stale=("$T"/state/downloads/*.tmp-*)
[ ! -e "${stale[0]}" ] || echo "NOTE: ${#stale[@]} temp file(s) of killed stages left in state/downloads: $(du -ch "${stale[@]}" | tail -1)" >&2
[ "$killed" -ge 4 ] || fail "only $killed stages were actually killed: the test did not exercise recovery"
[ "$dirty" -ge 3 ] || fail "only $dirty kills left a .partial or temp file: the test did not exercise recovery"

run "$AIRLOCK" history --json "${C[@]}"
oks=$(python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["action"]=="stage" and e["outcome"]=="ok"))' <<<"$out")
# One for the clean run, one per next run, and at most one more per kill after the tree was complete.
[ "$oks" -ge $((1 + ${#points[@]})) ] || fail "only $oks successful stages in history"
echo ok
