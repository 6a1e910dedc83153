#!/usr/bin/env bash
# Retention after a commit, and `airlock rollback` by hand:
#  - with [app] keep_releases = 2 and [backup] keep = 1, after 1.0.0 -> 1.1.0 -> 1.2.0 the release tree of
#    1.0.0, its release.json and its image are gone from the engine, 1.1.0 and 1.2.0 stay, and one pre-upgrade
#    backup is left (manual backups are never pruned by an upgrade); nothing is pruned by a failed upgrade;
#  - `airlock rollback --restore-data --yes` goes back to 1.1.0 and puts data/ back as it was before 1.2.0 was
#    installed (the pre-upgrade backup of that upgrade), health-gated, recorded in history as a rollback.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2eprune$$ E2E_PORT=18380
. "$(dirname "$0")/../fixtures/e2e/site.sh"
defer e2e_cleanup
for v in 1.0.0 1.1.0 1.2.0; do e2e_release $v; done
e2e_init
sed -i 's/^\[app\]$/[app]\nkeep_releases = 2/; s/^\[backup\]$/[backup]\nkeep = 1/' "$E2E_CONF"
CF=(--config "$E2E_CONF")
run "$AIRLOCK" config check "${CF[@]}"
assert_eq "$rc" 0 "config check ($out)"
id100=$(docker image inspect -f '{{.Id}}' "$E2E_APP-web:1.0.0")
for v in 1.0.0 1.1.0; do
  run "$AIRLOCK" import "$(e2e_bundle $v)" "${CF[@]}"
  assert_eq "$rc" 0 "import of $v ($out)"
done
run "$AIRLOCK" backup create --note manual "${CF[@]}"
assert_eq "$rc" 0 "manual backup ($out)"
echo "state before 1.2.0" > "$E2E_SITE/data/ledger.txt"
cp -a "$E2E_SITE/data" "$T/data-before-1.2.0"
run "$AIRLOCK" import "$(e2e_bundle 1.2.0)" "${CF[@]}"
assert_eq "$rc" 0 "import of 1.2.0 ($out)"
assert_contains "$out" "pruned release 1.0.0"

assert_eq "$(ls "$E2E_SITE/releases" | tr '\n' ' ')" "1.1.0 1.2.0 " "releases/ after the third install"
[ ! -e "$E2E/site/state/releases/1.0.0.json" ] || fail "release.json of 1.0.0 was kept"
if docker image inspect "$id100" >/dev/null 2>&1; then fail "the image of 1.0.0 is still in the engine"; fi
docker image inspect "$E2E_APP-web:1.1.0" >/dev/null 2>&1 || fail "the image of 1.1.0 was pruned"
kinds=$("$AIRLOCK" backup list --json "${CF[@]}" | python3 -c '
import json, sys
print(" ".join(sorted(b["kind"] + ":" + b["status"] for b in json.load(sys.stdin))))')
assert_eq "$kinds" "manual:complete pre-upgrade:complete" "backups after the third install"

# The operator changes data under 1.2.0, then rolls back by hand restoring the data of before 1.2.0.
echo "written under 1.2.0" >> "$E2E_SITE/data/ledger.txt"
run "$AIRLOCK" rollback --restore-data --yes "${CF[@]}"
assert_eq "$rc" 0 "rollback --restore-data ($out)"
assert_eq "$(readlink "$E2E_SITE/current")" "releases/1.1.0" "current after the rollback"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the rollback"
assert_eq "$(cat "$E2E_SITE/data/ledger.txt")" "state before 1.2.0" "data/ledger.txt after the rollback"
# data/ is the pre-1.2.0 copy plus the start line of 1.1.0.
echo "1.1.0 started" >> "$T/data-before-1.2.0/log"
diff -r --no-dereference "$T/data-before-1.2.0" "$E2E_SITE/data" || fail "data/ differs from before 1.2.0"
row=$("$AIRLOCK" history --json "${CF[@]}" | python3 -c '
import json, sys
r = json.load(sys.stdin)[0]
print(r["action"], r["from"], r["to"], r["outcome"])')
assert_eq "$row" "rollback 1.2.0 1.1.0 ok" "history of the rollback"
echo ok
