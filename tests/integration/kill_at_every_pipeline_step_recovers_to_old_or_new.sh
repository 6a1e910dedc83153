#!/usr/bin/env bash
# The kill matrix (issue 5 item 6, issue 11 item 2): the agent is SIGKILLed at every step of the pipeline's step
# table, which it prints with the hidden `airlock debug steps` (name, phase, what a crash there means, the path
# that reaches it), so a step added to the table is covered here without editing this file. The kill goes through
# the one step hook of the shipped binary, AIRLOCK_TEST_KILL_AT: "<step>" lands right after the step's work is
# done and before its journal row is closed (the worst moment), "<step>:begin" right after the row is opened;
# every step is killed at its end, the steps after the stop at their begin too.
# After each kill, `airlock recover` (or another command that changes the site) must leave the site fully on the
# old or fully on the new release, as the table says: abandon and roll-back* -> old, roll-forward -> new; `current`
# names it, its service answers, the health gate passed, the operator's data in data/ is byte-identical and never
# damaged, and history records the recovery.
# 35 real upgrades, each killed and recovered: about 350 s on an idle machine.
# ctest timeout: 1200
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
# Upgrades whose last journal row is not a terminal step (from `debug steps --json`) done.
unfinished() {
  local terminal
  terminal=$("$AIRLOCK" debug steps --json | python3 -c 'import json,sys; print(",".join("'"'"'%s'"'"'" % s["name"] for s in json.load(sys.stdin) if s["terminal"]))')
  sqlite3 "$E2E/site/state/state.db" "SELECT count(*) FROM journal j WHERE j.id = (SELECT max(k.id) FROM journal k WHERE k.upgrade_id = j.upgrade_id) AND NOT (j.step IN ($terminal) AND j.status = 'done')"
}

check_on $A "after the first install"
run "$AIRLOCK" debug steps
assert_eq "$rc" 0 "airlock debug steps ($out)"
steps=$out
[ "$(wc -l <<<"$steps")" -ge 19 ] || fail "debug steps lists too few steps: $steps"

# Brings the site to where path $1 starts; sets old/new and the killed command (cmd).
prepare() {
  back_to_a
  case $1 in
    upgrade) old=$A new=$B cmd=(import "$bB") ;;
    rollback) old=$A new=$C cmd=(import "$bC") ;;
    stage-only) old=$A new=$B cmd=(import --stage-only "$bB") ;;
    apply)
      run "$AIRLOCK" import --stage-only "$bB" "${CF[@]}"
      assert_eq "$rc" 0 "stage-only before apply ($out)"
      old=$A new=$B cmd=(apply --yes) ;;
    manual-restore)
      run "$AIRLOCK" import "$bB" "${CF[@]}"
      assert_eq "$rc" 0 "upgrade to $B before the manual rollback ($out)"
      old=$B new=$A cmd=(rollback --restore-data --yes) ;;
    *) fail "the step table names path '$1', which this test does not know how to reach: add it to prepare()" ;;
  esac
}

n=0
while read -r name phase on_crash path; do
  points=("$name")
  [ "$phase" = before-stop ] || points+=("$name:begin")
  for point in "${points[@]}"; do
    prepare "$path"
    case $on_crash in
      # A step on the rollback path runs after the stop, whatever its own row says: the rollback is run again.
      abandon) expect=$old outcome=abandoned; [ "$path" != rollback ] || outcome=rolled-back ;;
      roll-back | roll-back-with-data) expect=$old outcome=rolled-back ;;
      roll-forward) expect=$new outcome=ok ;;
      *) fail "unknown crash meaning '$on_crash' of step $name" ;;
    esac
    how=recover
    [ $((n % 3)) -ne 2 ] || how=backup # any command that changes the site recovers first
    set +e
    AIRLOCK_TEST_KILL_AT=$point "$AIRLOCK" "${cmd[@]}" "${CF[@]}" >"$T/kill.$n.log" 2>&1
    st=$?
    set -e
    assert_eq "$st" 137 "'${cmd[*]}' killed at '$point' (log: $(tail -3 "$T/kill.$n.log"))"
    grep -q "AIRLOCK_TEST_KILL_AT=$point" "$T/kill.$n.log" || fail "the kill at '$point' was not the fault hook's"
    assert_eq "$(unfinished)" 1 "journal after the kill at '$point': one unfinished upgrade"
    if [ "$how" = recover ]; then
      run "$AIRLOCK" recover "${CF[@]}"
    else
      run "$AIRLOCK" backup create --level 0 --note "after kill at $point" "${CF[@]}"
    fi
    assert_eq "$rc" 0 "recovery after the kill at '$point' via $how ($out)"
    check_on "$expect" "after the kill at '$point' ($path) and $how"
    assert_eq "$(unfinished)" 0 "journal after recovering from '$point'"
    last=$("$AIRLOCK" history --json "${CF[@]}" | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["action"] == "recover"]
print(rows[0]["outcome"] if rows else "none")')
    assert_eq "$last" "$outcome" "history after '$point': recover outcome"
    echo "kill at $point ($path, $on_crash): recovered by $how to $expect" >&2
    n=$((n + 1))
  done
done <<<"$steps"
# A second recover has nothing to do.
run "$AIRLOCK" recover "${CF[@]}"
assert_eq "$rc" 0 "recover with nothing to do ($out)"
assert_contains "$out" "nothing to recover"
echo "ok: $n kill points, each recovered to the expected release"
