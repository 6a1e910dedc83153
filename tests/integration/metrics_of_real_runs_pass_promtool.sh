#!/usr/bin/env bash
# Proves `airlock metrics` and [metrics] textfile after real runs on the static binary, the real dockerd and the
# test nginx: an import of a bundle (1.0.0), a manual backup, an online check that finds 1.1.0, and an online
# upgrade to 1.1.0 whose health gate fails and is rolled back. After each run the textfile (rewritten by the run
# itself) passes `promtool check metrics` (Debian's prometheus package) and holds the real values: the installed
# version label, the downtime the audit recorded, the newest backup's size equal to its file's, the total of the
# kept backups' files, the last exit code of each command, the update found, the automatic rollback, the bytes of
# the repository's files nginx sent. `airlock metrics` prints the same, and no temp file is left next to the textfile.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}" "${AIRLOCK_TEST_WWW:?testenv is not started}"
command -v promtool >/dev/null || fail "promtool is missing (Debian package prometheus; scripts/bootstrap.sh installs it)"
E2E=$T/e2e E2E_APP=e2emetrics$$ E2E_PORT=18472
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")
WWW=$AIRLOCK_TEST_WWW/metrics-$$
defer rm -rf "$WWW"
PROM=$T/textfile/airlock.prom
mkdir -p "$T/textfile"

# The textfile passes promtool; value NAME{LABELS} prints the sample's value ("" when there is none).
checked() {
  local lint
  [ -f "$PROM" ] || fail "no textfile $PROM after $1"
  lint=$(promtool check metrics <"$PROM" 2>&1) || fail "promtool check metrics refuses the textfile after $1: $lint"
  [ -z "$(find "$T/textfile" -type f ! -name airlock.prom)" ] || fail "files left beside the textfile: $(ls -a "$T/textfile")"
  assert_eq "$(stat -c %a "$PROM")" 644 "the textfile's mode"
}
value() { awk -v s="$1" 'substr($0, 1, length(s) + 1) == s " " { print $NF }' "$PROM"; }

e2e_release 1.0.0
bundle=$(e2e_bundle 1.0.0)
e2e_forget_images 1.0.0
e2e_init
cat >> "$E2E_CONF" <<CONF
[repository]
urls = $AIRLOCK_TEST_HTTP/metrics-$$
retries = 1
[metrics]
textfile = $PROM
CONF
[ ! -e "$PROM" ] || fail "a textfile before [metrics] textfile was configured"

# 1. An import of the bundle.
run "$AIRLOCK" import "$bundle" --yes "${CF[@]}"
assert_eq "$rc" 0 "import of 1.0.0 ($out)"
checked "import"
assert_eq "$(value "airlock_installed_info{app=\"$E2E_APP\",version=\"1.0.0\"}")" 1 "installed_info after the import"
assert_eq "$(value 'airlock_last_run_exit_code{command="import"}')" 0 "import's exit code"
assert_eq "$(value 'airlock_last_run_exit_code{command="init"}')" 0 "init's exit code (recorded before the textfile)"
assert_eq "$(value 'airlock_last_run_success{command="import"}')" 1 "import's success"
downtime_ms=$(e2e_history | e2e_py '[r["downtime_ms"] for r in d if r["action"] == "import"][0]')
[ "$downtime_ms" -gt 0 ] || fail "the import recorded no downtime"
assert_eq "$(value airlock_last_upgrade_downtime_seconds)" \
  "$(python3 -c "import sys; v = $downtime_ms / 1000; print(int(v) if v == int(v) else v)")" "the downtime"
assert_eq "$(value 'airlock_rollbacks_total{kind="automatic"}')" 0 "automatic rollbacks after the import"
agent=$("$AIRLOCK" --version | head -1 | awk '{print $2}')
grep -q "^airlock_agent_info{version=\"$agent\",revision=\"[^\"]*\",arch=\"$(uname -m)\"} 1$" "$PROM" \
  || fail "no airlock_agent_info for $agent: $(grep agent_info "$PROM")"
grep -q "^airlock_disk_free_bytes{dir=\"state\",path=\"$E2E_STATE\"} [0-9][0-9]*$" "$PROM" || fail "no free space of the state dir"

# 2. A manual backup: its size is its file's, the total is the kept files'.
echo "some data" > "$E2E_SITE/data/note.txt"
run "$AIRLOCK" backup create "${CF[@]}"
assert_eq "$rc" 0 "backup create ($out)"
checked "backup create"
sizes=$("$AIRLOCK" backup list --json "${CF[@]}" | python3 -c '
import json, os, sys
b = [x for x in json.load(sys.stdin) if x["status"] == "complete"]
print(os.path.getsize(b[0]["path"]), sum(os.path.getsize(x["path"]) for x in b), len(b))')
read -r newest total count <<<"$sizes"
assert_eq "$(value airlock_last_backup_bytes)" "$newest" "the newest backup's size (its file's)"
assert_eq "$(value airlock_backups_bytes)" "$total" "the kept backups' total (their files')"
assert_eq "$(value airlock_backups)" "$count" "the number of kept backups"
assert_eq "$(value 'airlock_last_run_exit_code{command="backup create"}')" 0 "backup create's exit code"

# 3. An online check finds 1.1.0 (whose health check fails).
E2E_HEALTH_TIMEOUT=6 e2e_release 1.1.0 fail-health
cp -r "$E2E/repo" "$WWW"; chmod -R a+rX "$WWW"
e2e_forget_images 1.1.0
log=$TESTENV/nginx-access.log
before=$(wc -l <"$log")
run "$AIRLOCK" check "${CF[@]}"
assert_eq "$rc" 10 "check ($out)"
checked "check"
assert_eq "$(value "airlock_update_available{app=\"$E2E_APP\",version=\"1.1.0\"}")" 1 "update_available after check"
assert_eq "$(value 'airlock_last_run_exit_code{command="check"}')" 10 "check's exit code"
assert_eq "$(value 'airlock_last_run_success{command="check"}')" 1 "check's success (10 is success)"

# 4. The online upgrade is rolled back.
run "$AIRLOCK" upgrade --yes "${CF[@]}"
assert_eq "$rc" 7 "upgrade to the failing 1.1.0 ($out)"
checked "upgrade"
assert_eq "$(value "airlock_installed_info{app=\"$E2E_APP\",version=\"1.0.0\"}")" 1 "installed_info after the rollback"
assert_eq "$(value 'airlock_rollbacks_total{kind="automatic"}')" 1 "automatic rollbacks"
assert_eq "$(value 'airlock_last_run_exit_code{command="upgrade"}')" 7 "upgrade's exit code"
assert_eq "$(value 'airlock_last_run_success{command="upgrade"}')" 0 "upgrade's success"
assert_eq "$(value "airlock_update_available{app=\"$E2E_APP\",version=\"1.1.0\"}")" 1 "update_available after the rollback"
rolled_ms=$(e2e_history | e2e_py '[r["downtime_ms"] for r in d if r["outcome"] == "rolled-back"][0]')
assert_eq "$(value airlock_last_upgrade_downtime_seconds)" \
  "$(python3 -c "v = $rolled_ms / 1000; print(int(v) if v == int(v) else v)")" "the downtime of the rolled-back upgrade"
sent=$(tail -n +"$((before + 1))" "$log" | awk -v p="/metrics-$$/" 'index($7, p) == 1 && $9 ~ /^20[06]$/ { n += $10 } END { print n + 0 }')
[ "$sent" -gt 0 ] || fail "nginx logged no bytes for the repository"
assert_eq "$(value airlock_downloaded_bytes_total)" "$sent" "bytes downloaded (nginx's body bytes of the repository's files; 404 pages are not read)"

# 5. `airlock metrics` prints what the textfile holds (free space aside, which moves), and passes promtool.
run "$AIRLOCK" metrics "${CF[@]}"
assert_eq "$rc" 0 "airlock metrics ($out)"
promtool check metrics <<<"$out" >/dev/null 2>&1 || fail "promtool refuses airlock metrics: $(promtool check metrics <<<"$out" 2>&1)"
assert_eq "$(grep -v '^airlock_disk_free_bytes' <<<"$out")" "$(grep -v '^airlock_disk_free_bytes' "$PROM")" \
  "airlock metrics against the textfile"
for name in airlock_agent_info airlock_installed_info airlock_update_available airlock_last_run_exit_code \
  airlock_last_upgrade_downtime_seconds airlock_rollbacks_total airlock_downloaded_bytes_total \
  airlock_last_backup_bytes airlock_backups_bytes airlock_disk_free_bytes; do
  grep -q "^# HELP $name " <<<"$out" && grep -q "^# TYPE $name " <<<"$out" || fail "no HELP/TYPE for $name"
done
rm "$PROM"
run "$AIRLOCK" metrics --write "${CF[@]}"
assert_eq "$rc" 0 "airlock metrics --write ($out)"
checked "metrics --write"
echo ok
