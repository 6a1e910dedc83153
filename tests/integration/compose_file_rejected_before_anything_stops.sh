#!/usr/bin/env bash
# Proves step 6 of the pipeline: a signed release whose compose file compose itself refuses (here an option compose
# does not know, `services.web.bogus_option`) is refused by `airlock import` with exit 4 (bad_input) before anything
# stops. The message names the compose file and carries compose's own complaint; the running service was never
# stopped (same container ID, same start time, same answer), current, status and data/ are unchanged, the journal
# of that upgrade never reached `stop`, and `history --json` records the import as failed. `status --json` and
# `history --json` stay valid JSON although the recorded complaint spans several lines.
# Then the same for a bind mount whose source lies in the release tree (issue 12 item 2): the site's own override
# file mounts "./pgdata", which compose resolves inside releases/<v>/ (the next release would start without that
# data): exit 4, the message says to use ${AIRLOCK_DATA}, nothing stopped.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2ecompose$$ E2E_PORT=18411
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")

e2e_release 1.0.0
# airlock-bundle refuses to sign a compose file compose refuses (issue 14), so the bad option comes from the site:
# the operator's override file (an option compose's schema does not allow), merged at stage.
e2e_release 1.1.0
e2e_release 1.2.0
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
b12=$(e2e_bundle 1.2.0)
e2e_forget_images 1.0.0 1.1.0 1.2.0
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "first install of 1.0.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the first install"
cid=$(e2e_cid)
[ -n "$cid" ] || fail "no running container after the first install"
started=$(docker inspect -f '{{.State.StartedAt}}' "$cid")
echo "operator's" >"$E2E_SITE/data/keep"
data_before=$(e2e_data_sum)

printf 'version: "2.4"\nservices:\n  web:\n    bogus_option: true\n' >"$E2E_SITE/site/docker-compose.override.yml"
run "$AIRLOCK" import "$b11" --yes "${CF[@]}"
echo "import of the release with the bad compose file: exit $rc" >&2
assert_eq "$rc" 4 "import of a release whose compose file compose refuses ($out)"
assert_contains "$out" "releases/1.1.0/docker-compose.yml is refused by docker-compose" "the message"
assert_contains "$out" "bogus_option" "the message (compose's own complaint)"
assert_contains "$out" "nothing was stopped" "the message"

# Never stopped: the same container, started at the same time, answering the old version.
assert_eq "$(e2e_cid)" "$cid" "the running container after the refused import"
assert_eq "$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$cid")" "$started 0" "start time and restarts"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the refused import"
assert_eq "$(e2e_current)" "releases/1.0.0" "current after the refused import"
assert_eq "$(e2e_status_version)" 1.0.0 "status after the refused import"
assert_eq "$(e2e_data_sum)" "$data_before" "data/ after the refused import"
steps=$(e2e_last_steps)
assert_eq "$steps" "begin:done fetch:done stage:failed rollback:done" "journal of the refused upgrade"
row=$(e2e_history | e2e_py 'json.dumps(d[0])')
assert_eq "$(e2e_py '(d["action"], d["from"], d["to"], d["outcome"], d["backup_id"])' <<<"$row")" \
  "('import', '1.0.0', '1.1.0', 'failed', '')" "newest history row"
assert_contains "$(e2e_py 'd["detail"]' <<<"$row")" "bogus_option" "history detail"
assert_eq "$("$AIRLOCK" backup list --json "${CF[@]}" | e2e_py 'len(d)')" 1 "backups (only the first install's)"
"$AIRLOCK" history --json "${CF[@]}" | e2e_strict_json "history --json after the refused import"
"$AIRLOCK" status --json "${CF[@]}" | e2e_strict_json "status --json after the refused import"

# A relative bind mount from the site's override: refused at the stage step, before anything stops. (The site
# check below compares data/ only.)
cat >"$E2E_SITE/site/docker-compose.override.yml" <<'YML'
version: "2.4"
services:
  web:
    volumes: [ "./pgdata:/pg" ]
YML
run "$AIRLOCK" import "$b12" --yes "${CF[@]}"
assert_eq "$rc" 4 "import with a bind mount from the release tree ($out)"
assert_contains "$out" "bind-mounts pgdata from the release tree" "the message"
assert_contains "$out" '${AIRLOCK_DATA}' "the message"
assert_contains "$out" "Nothing was stopped" "the message"
assert_eq "$(e2e_cid)" "$cid" "the running container after the refused bind mount"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the refused bind mount"
assert_eq "$(e2e_current)" "releases/1.0.0" "current after the refused bind mount"
assert_eq "$(e2e_last_steps)" "begin:done fetch:done stage:failed rollback:done" "journal of the refused bind mount"
echo "ok: the bad compose file and the bind mount into the release tree were refused; 1.0.0 kept running as $cid"
