#!/usr/bin/env bash
# The kill matrix (issue 5 item 6): the agent is SIGKILLed at every step of the upgrade path and of the rollback
# path, through the test-only fault hook AIRLOCK_TEST_KILL_AT (the kill lands right after the step's work is done
# and before its journal row is closed, the worst moment; "<step>:begin" lands right after the row is opened).
# After each kill, `airlock recover` (or another command that changes the site) must leave the site fully on the
# old release A or fully on the new release B: `current` names it, its service answers, the health gate passed,
# the operator's data in data/ is byte-identical and never damaged, and history records the recovery.
# Expected: a kill before the commit undoes the upgrade (A); a kill during the commit finishes it (B); a kill
# anywhere in the rollback path finishes the rollback (A, with data/ restored from the pre-upgrade backup).
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2ekill$$ E2E_PORT=18350
. "$(dirname "$0")/../fixtures/e2e/site.sh"
defer e2e_cleanup
A=1.0.0 B=1.1.0 C=1.2.0
e2e_release $A
e2e_release $B
E2E_HEALTH_TIMEOUT=6 e2e_release $C damage-data
e2e_init
bA=$(e2e_bundle $A) bB=$(e2e_bundle $B) bC=$(e2e_bundle $C)
CF=(--config "$E2E_CONF")
run "$AIRLOCK" import "$bA" "${CF[@]}"
assert_eq "$rc" 0 "first install of $A ($out)"
mkdir -p "$E2E_SITE/data/operator"
head -c 300000 /dev/urandom > "$E2E_SITE/data/operator/db.bin"
echo "precious" > "$E2E_SITE/data/operator/notes.txt"
operator_sum() { (cd "$E2E_SITE/data/operator" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum); }
want_operator=$(operator_sum)

# The site is wholly on version $1: current, the answering service, a healthy container, intact operator data.
check_on() {
  local v=$1 what=$2 body
  assert_eq "$(readlink "$E2E_SITE/current")" "releases/$v" "$what: current"
  body=$(e2e_body)
  assert_eq "$body" "ok $v" "$what: the service's answer"
  assert_eq "$(operator_sum)" "$want_operator" "$what: operator data in data/"
  if grep -q DAMAGED "$E2E_SITE/data/log" 2>/dev/null; then fail "$what: data/log is damaged: $(cat "$E2E_SITE/data/log")"; fi
  [ -z "$(ls -A "$E2E_SITE" | grep -E '^\.restore-|\.old-|\.partial' || true)" ] || fail "$what: leftovers in the app dir"
  [ -z "$(ls "$E2E_SITE/releases" | grep -E 'partial' || true)" ] || fail "$what: a .partial release is left"
  [ -z "$(docker ps -q --filter "label=com.docker.compose.project=$E2E_APP" --filter status=restarting)" ] \
    || fail "$what: a container is restarting"
}
# Back to A after a case that ended on B, by hand (this also exercises `airlock rollback`).
back_to_a() {
  [ "$(readlink "$E2E_SITE/current")" = "releases/$A" ] && return 0
  run "$AIRLOCK" rollback --yes "${CF[@]}"
  assert_eq "$rc" 0 "manual rollback to $A ($out)"
  check_on $A "after the manual rollback"
}
unfinished() { sqlite3 "$E2E/site/state/state.db" "SELECT count(*) FROM journal j WHERE j.id = (SELECT max(k.id) FROM journal k WHERE k.upgrade_id = j.upgrade_id) AND NOT (j.step IN ('commit','rollback','staged') AND j.status = 'done')"; }

check_on $A "after the first install"
# point bundle expected-version recovery-command
cases=(
  "fetch $bB $A recover" "stage $bB $A recover" "load $bB $A recover" "stop:begin $bB $A recover"
  "stop $bB $A backup" "backup $bB $A recover" "switch:begin $bB $A recover" "switch $bB $A recover"
  "start $bB $A recover" "health $bB $A recover" "commit:begin $bB $B recover" "commit $bB $B backup"
  "rb-stop $bC $A recover" "rb-switch $bC $A recover" "rb-restore:begin $bC $A recover" "rb-restore $bC $A backup"
  "rb-start $bC $A recover" "rb-health $bC $A recover"
)
n=0
for c in "${cases[@]}"; do
  read -r point bundle expect how <<<"$c"
  back_to_a
  set +e
  AIRLOCK_TEST_KILL_AT=$point "$AIRLOCK" import "$bundle" "${CF[@]}" >"$T/kill.$n.log" 2>&1
  st=$?
  set -e
  assert_eq "$st" 137 "import killed at '$point' (log: $(tail -3 "$T/kill.$n.log"))"
  grep -q "AIRLOCK_TEST_KILL_AT=$point" "$T/kill.$n.log" || fail "the kill at '$point' was not the fault hook's"
  assert_eq "$(unfinished)" 1 "journal after the kill at '$point': one unfinished upgrade"
  if [ "$how" = recover ]; then
    run "$AIRLOCK" recover "${CF[@]}"
  else # any command that changes the site recovers first
    run "$AIRLOCK" backup create --level 0 --note "after kill at $point" "${CF[@]}"
  fi
  assert_eq "$rc" 0 "recovery after the kill at '$point' via $how ($out)"
  check_on "$expect" "after the kill at '$point' and $how"
  assert_eq "$(unfinished)" 0 "journal after recovering from '$point'"
  last=$("$AIRLOCK" history --json "${CF[@]}" | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["action"] == "recover"]
print(rows[0]["outcome"] if rows else "none")')
  case $point in # before the services stopped there is nothing to undo: the upgrade is closed as abandoned
    fetch | stage | load) assert_eq "$last" abandoned "history after '$point': recover outcome" ;;
    commit*) assert_eq "$last" ok "history after '$point': recover outcome" ;;
    *) assert_eq "$last" rolled-back "history after '$point': recover outcome" ;;
  esac
  echo "kill at $point: recovered by $how to $expect" >&2
  n=$((n + 1))
done
# A second recover has nothing to do.
run "$AIRLOCK" recover "${CF[@]}"
assert_eq "$rc" 0 "recover with nothing to do ($out)"
assert_contains "$out" "nothing to recover"
echo "ok: $n kill points, each recovered to the expected release"
