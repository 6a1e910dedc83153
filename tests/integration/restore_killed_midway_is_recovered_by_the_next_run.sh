#!/usr/bin/env bash
# Proves that `airlock backup restore` killed with SIGKILL at any point (while verifying, while extracting into
# .restore-<pid>, during the swap, while removing the old trees) never leaves a mixed site: the next airlock
# run that recovers (`backup create`, or the restore run again) leaves data/ and site/ exactly as before the
# restore or exactly as in the backup (always the backup once the swap had begun, and always after the
# restore is run again), with no .restore-* or *.old-* left in the app dir and `current` still a symlink.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_keys "$T/keys"
"$AIRLOCK_BUNDLE" repo init "$T/repo" --app demo --root-key "$T/keys/root.pem" --targets-key "$T/keys/targets.pem" \
  --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem" >/dev/null
mkdir -p "$T/running"
printf 'services:\n  web:\n    image: demo/web:0\n' > "$T/running/docker-compose.yml"
C=(--config "$T/airlock.conf")
APP="$T/opt/demo"

run "$AIRLOCK" init --app demo --install-root "$T/opt" --state-dir "$T/state" --trusted-root "$T/repo/metadata/1.root.json" \
  --adopt "$T/running" "${C[@]}"
assert_eq "$rc" 0 "init exit code ($out)"

# About 300 MB: two big random files, thousands of small files in many directories, a symlink, a hard link.
mkdir -p "$APP/data/db"
head -c 40000000 /dev/urandom > "$APP/data/db/big1"
head -c 30000000 /dev/urandom > "$APP/data/db/big2"
python3 - "$APP/data/small" <<'EOF'
import os, random, sys
root = sys.argv[1]
r = random.Random(1)
for d in range(60):
    os.makedirs(f"{root}/d{d:02}", exist_ok=True)
    for f in range(70):
        with open(f"{root}/d{d:02}/f{f:03}", "wb") as fh:
            fh.write(r.randbytes(r.randint(1, 20000)))
EOF
ln -s db/big2 "$APP/data/link"
ln "$APP/data/small/d00/f000" "$APP/data/hard"
mkdir -p "$APP/data/empty"
echo "secret=1" > "$APP/site/.env"

# One fingerprint of data/ and site/ (types, modes, paths, link targets, file contents) and current.
state() {
  (cd "$APP" && {
    find data site -printf '%y %m %p %l\n' | LC_ALL=C sort
    find data site -type f -print0 | xargs -0 sha256sum | LC_ALL=C sort
    echo "current -> $(readlink current)"
  } | sha256sum | cut -d' ' -f1)
}
# Deterministic change: from the backup state it always gives the same "changed" state.
change() {
  python3 - "$APP" <<'EOF'
import os, random, shutil, sys
app = sys.argv[1]
r = random.Random(2)
with open(f"{app}/data/db/big2", "r+b") as fh:
    for _ in range(50):
        fh.seek(r.randrange(30000000 - 4096)); fh.write(r.randbytes(4096))
shutil.rmtree(f"{app}/data/small/d07")
for f in range(0, 70, 3):
    with open(f"{app}/data/small/d11/f{f:03}", "wb") as fh: fh.write(r.randbytes(777))
os.makedirs(f"{app}/data/new", exist_ok=True)
for f in range(200):
    with open(f"{app}/data/new/n{f:03}", "wb") as fh: fh.write(r.randbytes(3000))
os.chmod(f"{app}/data/small/d12/f000", 0o600)
with open(f"{app}/site/.env", "w") as fh: fh.write("secret=2\n")
EOF
}
# Lists what a restore or its recovery must never leave behind.
leftovers() { (cd "$APP" && ls -A | grep -E '^\.restore-|\.old-' || true); }
check_clean() {
  local l
  l=$(leftovers)
  [ -z "$l" ] || fail "$1: leftovers in the app dir: $l"
  [ -L "$APP/current" ] || fail "$1: current is not a symlink"
  assert_eq "$(readlink "$APP/current")" "releases/0" "$1: current"
  [ -d "$APP/data" ] && [ ! -L "$APP/data" ] || fail "$1: data/ is not a directory"
  [ -d "$APP/site" ] && [ ! -L "$APP/site" ] || fail "$1: site/ is not a directory"
}

sum_backup=$(state)
run "$AIRLOCK" backup create --level 1 --note "before change" "${C[@]}"
assert_eq "$rc" 0 "backup create ($out)"
id=$("$AIRLOCK" backup list --json "${C[@]}" | python3 -c 'import json,sys; b=json.load(sys.stdin)[0]; print(b["id"] if b["status"]=="complete" else "")')
[ -n "$id" ] || fail "no complete backup listed"
change
sum_changed=$(state)
[ "$sum_backup" != "$sum_changed" ] || fail "the change did not change the fingerprint"

# A clean restore first: the baseline works, and tells how long a restore takes.
start=$(date +%s.%N)
run "$AIRLOCK" backup restore "$id" --yes "${C[@]}"
assert_eq "$rc" 0 "uninterrupted restore ($out)"
echo "an uninterrupted restore took $(echo "$(date +%s.%N) - $start" | bc) s" >&2
assert_eq "$(state)" "$sum_backup" "state after the uninterrupted restore"
check_clean "uninterrupted restore"

# Kill points: seconds after .restore-* appears; "old" = as soon as a data.old-*/site.old-* appears (the swap
# has begun); "marker" = as soon as .restore-*/.complete appears (extraction durable, swap about to begin).
points=(0 0.3 1 marker old)
killed=0 dirty=0 late=0
for i in "${!points[@]}"; do
  p=${points[$i]}
  [ "$(state)" = "$sum_changed" ] || { change; assert_eq "$(state)" "$sum_changed" "attempt $i: changed state"; }
  "$AIRLOCK" backup restore "$id" --yes "${C[@]}" >"$T/restore.$i.log" 2>&1 &
  pid=$!
  seen=""
  for _ in $(seq 1 3000); do
    kill -0 "$pid" 2>/dev/null || break
    case $p in
      old) if compgen -G "$APP/data.old-*" >/dev/null || compgen -G "$APP/site.old-*" >/dev/null; then seen=old; break; fi ;;
      marker) if compgen -G "$APP/.restore-*/.complete" >/dev/null; then seen=marker; break; fi ;;
      *) if compgen -G "$APP/.restore-*" >/dev/null; then seen=restore; break; fi ;;
    esac
    sleep 0.005
  done
  case $p in old | marker) ;; *) [ -z "$seen" ] || sleep "$p" ;; esac
  kill -9 "$pid" 2>/dev/null || true
  set +e; wait "$pid"; st=$?; set -e
  if [ "$st" = 137 ]; then
    killed=$((killed + 1))
  else
    # Not killed: it finished first, which is only fine when it succeeded.
    assert_eq "$st" 0 "attempt $i ($p): restore that was not killed ($(cat "$T/restore.$i.log"))"
  fi
  before=$(leftovers)
  [ -z "$before" ] || dirty=$((dirty + 1))
  echo "attempt $i: kill point $p, seen '${seen}', exit $st, left before recovery: $(echo $before)" >&2

  if [ $((i % 2)) = 0 ]; then
    # Recovery by another command: the site is wholly one of the two states.
    run "$AIRLOCK" backup create --level 0 --note "after kill $i" "${C[@]}"
    assert_eq "$rc" 0 "attempt $i: backup create after the kill ($out)"
    check_clean "attempt $i: after backup create"
    now=$(state)
    if [ "$now" = "$sum_backup" ]; then
      echo "attempt $i: recovered to the backup state" >&2
    elif [ "$now" = "$sum_changed" ]; then
      echo "attempt $i: recovered to the state before the restore" >&2
      # Once a tree was swapped (an .old-* existed) or the marker was written, only rolling forward is right.
      case $seen in old | marker) fail "attempt $i: killed after '$seen' but rolled back instead of forward" ;; esac
    else
      fail "attempt $i: after the kill and recovery, data/site match neither the backup nor the earlier state"
    fi
    [ "$seen" = old ] && late=$((late + 1))
  else
    [ "$seen" = old ] && late=$((late + 1))
  fi
  # Running the restore again always gives the backup.
  run "$AIRLOCK" backup restore "$id" --yes "${C[@]}"
  assert_eq "$rc" 0 "attempt $i: restore run again ($out)"
  check_clean "attempt $i: after the restore run again"
  assert_eq "$(state)" "$sum_backup" "attempt $i: state after the restore run again"
done

echo "killed $killed of ${#points[@]} restores; $dirty left something to recover; $late killed mid-swap" >&2
[ "$killed" -ge 3 ] || fail "only $killed restores were actually killed: the test did not exercise recovery"
[ "$dirty" -ge 2 ] || fail "only $dirty kills left something to recover: the test did not exercise recovery"

# History: every finished restore was recorded ok; the killed ones were never recorded as ok twice over.
run "$AIRLOCK" history --json "${C[@]}"
assert_eq "$rc" 0 "history ($out)"
run "$AIRLOCK" backup verify "$id" "${C[@]}"
assert_eq "$rc" 0 "the backup still verifies ($out)"
echo ok
