#!/usr/bin/env bash
# Hooks (issue 15 item 6, docs/fleet.md "Hooks"): the post-commit hooks of a first install and of an upgrade, and
# the post-rollback hooks of an upgrade that fails its health gate, each read the event as one JSON object on
# stdin, with the fields docs/fleet.md lists: the event, the site ID of <state>/site-id, the app, the upgrade ID
# of the journal, from/to, kind and action, and the outcome with its downtime, backup and reason as `history`
# records them. They run with a minimal environment (the agent's own variables do not reach them). A failing
# post-commit hook is recorded and changes nothing (exit 0); needs-attention hooks do not run when the rollback works.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2ehookpost$$ E2E_PORT=28661
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")
HOOKS=$T/hooks.d

e2e_release 1.0.0
e2e_release 1.1.0
e2e_release 1.2.0 fail-health
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
b12=$(e2e_bundle 1.2.0)
e2e_forget_images 1.0.0 1.1.0 1.2.0
e2e_init
printf '[hooks]\ndir = %s\n' "$HOOKS" >>"$E2E_CONF"
hook() { # hook EVENT NAME BODY
  mkdir -p "$HOOKS/$1"
  printf '#!/bin/sh\n%s\n' "$3" >"$HOOKS/$1/$2"
  chmod 0755 "$HOOKS/$1/$2"
}
hook post-commit 10-save "cat >> $T/post-commit.jsonl; env > $T/post-commit.env"
hook post-commit 20-fails "echo 'the monitoring is down' >&2; exit 1"
hook post-rollback 10-save "cat >> $T/post-rollback.jsonl"
hook needs-attention 10-save "cat >> $T/needs-attention.jsonl"
site_id=$(cat "$E2E_STATE/site-id")
last_upgrade() { sqlite3 "$E2E_STATE/state.db" "SELECT upgrade_id FROM journal ORDER BY id DESC LIMIT 1"; }
# check FILE LINE EXPR WANT: the python expression EXPR of JSON line LINE of FILE (d is the object)
check() { assert_eq "$(sed -n "$2p" "$T/$1" | e2e_py "$3")" "$4" "$1 line $2: $3"; }

AIRLOCK_TEST_SECRET=leak run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install with a failing post-commit hook ($out)"
assert_contains "$out" "post-commit hook $HOOKS/post-commit/20-fails exited with code 1: the monitoring is down" "the warning"
check post-commit.jsonl 1 'sorted(d)' "['action', 'app', 'backup_id', 'downtime_ms', 'event', 'from', 'kind', 'outcome', 'reason', 'site_id', 'to', 'upgrade_id']"
check post-commit.jsonl 1 '(d["event"], d["app"], d["from"], d["to"], d["kind"], d["action"], d["outcome"])' \
  "('post-commit', '$E2E_APP', '', '1.0.0', 'full', 'import', 'updated')"
check post-commit.jsonl 1 'd["site_id"]' "$site_id"
check post-commit.jsonl 1 'd["upgrade_id"]' "$(last_upgrade)"
grep -q AIRLOCK_TEST_SECRET "$T/post-commit.env" && fail "the agent's environment reached the hook: $(cat "$T/post-commit.env")"
grep -qx "AIRLOCK_EVENT=post-commit" "$T/post-commit.env" || fail "no AIRLOCK_EVENT in the hook's environment"
assert_eq "$(sqlite3 "$E2E_STATE/state.db" "SELECT outcome || ':' || exit_code FROM hook_runs WHERE upgrade_id = '$(last_upgrade)' ORDER BY id" | tr '\n' ' ')" \
  "ok:0 failed:1 " "hook_runs of the first install"

run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
assert_eq "$rc" 0 "upgrade to 1.1.0 ($out)"
assert_eq "$(wc -l <"$T/post-commit.jsonl")" 2 "post-commit notices"
row=$(e2e_history | e2e_py 'json.dumps(d[0])')
check post-commit.jsonl 2 '(d["from"], d["to"], d["outcome"])' "('1.0.0', '1.1.0', 'updated')"
check post-commit.jsonl 2 'd["upgrade_id"]' "$(last_upgrade)"
check post-commit.jsonl 2 'd["backup_id"]' "$(e2e_py 'd["backup_id"]' <<<"$row")"
check post-commit.jsonl 2 'd["downtime_ms"]' "$(e2e_py 'd["downtime_ms"]' <<<"$row")"
[ "$(sed -n 2p "$T/post-commit.jsonl" | e2e_py 'd["backup_id"] != "" and d["downtime_ms"] > 0')" = True ] \
  || fail "the upgrade's notice lacks its backup or downtime: $(sed -n 2p "$T/post-commit.jsonl")"
[ ! -e "$T/post-rollback.jsonl" ] || fail "post-rollback hooks ran after a commit"

run "$AIRLOCK" import "$b12" --yes "${CF[@]}"
assert_eq "$rc" 7 "upgrade to 1.2.0 that fails its health gate ($out)"
row=$(e2e_history | e2e_py 'json.dumps(d[0])')
check post-rollback.jsonl 1 '(d["event"], d["from"], d["to"], d["outcome"], d["action"])' \
  "('post-rollback', '1.1.0', '1.2.0', 'rolled-back', 'import')"
check post-rollback.jsonl 1 'd["reason"]' "$(e2e_py 'd["detail"]' <<<"$row")"
check post-rollback.jsonl 1 'd["downtime_ms"]' "$(e2e_py 'd["downtime_ms"]' <<<"$row")"
check post-rollback.jsonl 1 'd["upgrade_id"]' "$(last_upgrade)"
check post-rollback.jsonl 1 '"backup_id" in d' False
assert_eq "$(wc -l <"$T/post-commit.jsonl")" 2 "post-commit notices after the rollback"
[ ! -e "$T/needs-attention.jsonl" ] || fail "needs-attention hooks ran although the rollback worked"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after the rollback"
echo "ok: post-commit and post-rollback hooks got the outcome as JSON; a failing one changed nothing"
