#!/usr/bin/env bash
# A release whose service damages its data and then fails its health check (testsvc SVC_MODE=damage-data
# overwrites data/log, then answers /health with 500) is rolled back: exit 7, the old release answers again, and
# data/ is byte-identical to what it was before the import (files, modes, symlinks, empty directories), except
# for the one line the old service appends to data/log when it starts again. The audit row says rolled-back
# with the backup ID and the reason; the journal shows the failed health step and the rollback steps.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2edamage$$ E2E_PORT=18360
. "$(dirname "$0")/../fixtures/e2e/site.sh"
defer e2e_cleanup
e2e_release 1.0.0
E2E_HEALTH_TIMEOUT=8 e2e_release 1.1.0 damage-data
e2e_init
CF=(--config "$E2E_CONF")
run "$AIRLOCK" import "$(e2e_bundle 1.0.0)" "${CF[@]}"
assert_eq "$rc" 0 "install of 1.0.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.0.0" "1.0.0 answers"
# Operator data of every kind: binary, nested, a symlink, an empty directory, an odd mode.
mkdir -p "$E2E_SITE/data/db/empty" "$E2E_SITE/data/uploads/2026"
head -c 2000000 /dev/urandom > "$E2E_SITE/data/db/main.db"
echo "invoice 7" > "$E2E_SITE/data/uploads/2026/inv7.txt"
chmod 0640 "$E2E_SITE/data/uploads/2026/inv7.txt"
ln -s db/main.db "$E2E_SITE/data/current.db"
cp -a "$E2E_SITE/data" "$T/before"
assert_eq "$(cat "$E2E_SITE/data/log")" "1.0.0 started" "data/log before"

bundle=$(e2e_bundle 1.1.0)
# --json: the result is one JSON object on stdout, every line on stderr is a JSON event.
set +e
"$AIRLOCK" import "$bundle" --json "${CF[@]}" >"$T/result.json" 2>"$T/events.jsonl"
rc=$?
set -e
assert_eq "$rc" 7 "import of the damaging 1.1.0 ($(cat "$T/result.json" "$T/events.jsonl"))"
assert_eq "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["outcome"], r["from"], r["to"])' "$T/result.json")" \
  "rolled-back 1.0.0 1.1.0" "the --json result"
python3 - "$T/events.jsonl" <<'PY' || fail "stderr is not JSON lines: $(head -5 "$T/events.jsonl")"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
steps = [e.get("step") for e in events if e.get("event") == "step-done"]
assert "rb-health" in steps, steps
assert any("status 500 (expected 200)" in e.get("message", "") for e in events), "no failing health check logged"
PY
assert_eq "$(e2e_body)" "ok 1.0.0" "1.0.0 answers after the rollback"
assert_eq "$(readlink "$E2E_SITE/current")" "releases/1.0.0" "current after the rollback"

# data/ as before, plus the start line of 1.0.0 (the damage wrote "DAMAGED by 1.1.0" over data/log).
echo "1.0.0 started" >> "$T/before/log"
diff -r --no-dereference "$T/before" "$E2E_SITE/data" || fail "data/ differs from before the import"
fp() { (cd "$1" && find . -printf '%y %m %p %l\n' | LC_ALL=C sort); }
assert_eq "$(fp "$E2E_SITE/data")" "$(fp "$T/before")" "types, modes and links of data/"

# The audit row and the journal.
row=$("$AIRLOCK" history --json "${CF[@]}" | python3 -c '
import json, sys
r = json.load(sys.stdin)[0]
print(r["action"], r["from"], r["to"], r["outcome"], "backup" if r["backup_id"] else "no-backup", r["downtime_ms"] > 0)')
# No tar.gz for a rolled-back upgrade: its data set came back from the snapshot, swapped in by rename.
assert_eq "$row" "import 1.0.0 1.1.0 rolled-back no-backup True" "the audit row of the import"
[ -z "$(ls -A "$E2E_SITE" | grep -E '^\.airlock-' || true)" ] || fail "snapshots left in the app dir: $(ls -A "$E2E_SITE")"
steps=$(sqlite3 "$E2E/site/state/state.db" "SELECT step || ':' || status FROM journal WHERE upgrade_id = (SELECT upgrade_id FROM journal ORDER BY id DESC LIMIT 1) ORDER BY id" | tr '\n' ' ')
assert_eq "$steps" "begin:done fetch:done stage:done load:done pre-copy:done stop:done snapshot:done switch:done start:done health:failed rb-stop:done rb-switch:done rb-restore:done rb-start:done rb-health:done rollback:done " "journal of the import"
# The damaged release stays staged but is never current; a second try is refused the same way.
[ -d "$E2E_SITE/releases/1.1.0" ] || fail "releases/1.1.0 was removed"
echo "ok: rolled back, data/ byte-identical"
