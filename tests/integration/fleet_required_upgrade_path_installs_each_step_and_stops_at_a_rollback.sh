#!/usr/bin/env bash
# Proves required upgrade paths on the real dockerd (issue 15 item 1). Releases: 1.0.0; 2.0.0; 3.1.0, which can be
# installed only over 2.0.0 or newer (min_upgrade_from); 4.0.0; 5.0.0 (over 4.0.0 or newer), whose health gate
# fails.
#  1. `bundle export --from 1.0.0 --version 3.1.0` holds both steps (the release.json of 2.0.0 and of 3.1.0).
#  2. At a site running 1.0.0, a bundle of 3.1.0 alone is refused before anything stops (exit 9, naming the
#     missing step and the export to make): the container, current and the journal are unchanged.
#  3. `import --plan` of the path bundle prints the path 1.0.0 -> 2.0.0 -> 3.1.0 and changes nothing.
#  4. `import` installs 2.0.0 and then 3.1.0 in one run: two upgrades in the journal, each committed with its own
#     pre-upgrade backup (of 1.0.0 and of 2.0.0), the service answers "ok 3.1.0".
#  5. The path 3.1.0 -> 4.0.0 -> 5.0.0: 4.0.0 commits, 5.0.0 fails its health gate and is rolled back; the run
#     stops there (exit 7), says "1 of 2 steps committed", and the site runs 4.0.0.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2epath$$ E2E_PORT=18631
E2E_HEALTH_TIMEOUT=6
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")

e2e_release 1.0.0
e2e_release 2.0.0
E2E_RELEASE_FIELDS='"min_upgrade_from": "2.0.0",' e2e_release 3.1.0
e2e_release 4.0.0
E2E_RELEASE_FIELDS='"min_upgrade_from": "4.0.0",' e2e_release 5.0.0 fail-health
b10=$(e2e_bundle 1.0.0)
b31=$(e2e_bundle 3.1.0)
bpath=$(e2e_bundle 3.1.0 1.0.0)
bpath2=$(e2e_bundle 5.0.0 3.1.0)
e2e_forget_images 1.0.0 2.0.0 3.1.0 4.0.0 5.0.0
e2e_init

# 1. The path bundle holds every step.
entries=$(unzip -Z1 "$bpath" | grep '\.release\.json$' | sed 's|^targets/||; s|/[0-9a-f]*\.release\.json$||' | LC_ALL=C sort)
assert_eq "$entries" "$(printf '%s\n' "$E2E_APP/2.0.0/$(uname -m)" "$E2E_APP/3.1.0/$(uname -m)")" "release.json entries of the path bundle"

run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "install of 1.0.0 ($out)"
cid=$(e2e_cid)
rows=$(e2e_journal_rows)

# 2. The step is missing: refused before anything stops.
run "$AIRLOCK" import "$b31" --yes "${CF[@]}"
assert_eq "$rc" 9 "import of 3.1.0 alone at 1.0.0 ($out)"
assert_contains "$out" "$E2E_APP 3.1.0 can be installed only over 2.0.0 or newer"
assert_contains "$out" "bundle export --from 1.0.0"
assert_contains "$out" "Nothing was changed."
assert_eq "$(e2e_cid)" "$cid" "the running container after the refusal"
assert_eq "$(e2e_current)" releases/1.0.0 "current after the refusal"
assert_eq "$(e2e_journal_rows)" "$rows" "journal rows after the refusal"

# 3. --plan.
run "$AIRLOCK" import "$bpath" --plan "${CF[@]}"
assert_eq "$rc" 0 "import --plan of the path ($out)"
assert_contains "$out" "upgrade path: 1.0.0 -> 2.0.0 -> 3.1.0 (2 steps"
assert_contains "$out" "plan: $E2E_APP 1.0.0 -> 2.0.0"
assert_eq "$(e2e_current)" releases/1.0.0 "current after --plan"
assert_eq "$(e2e_journal_rows)" "$rows" "journal rows after --plan"

# 4. Both steps in one run.
run "$AIRLOCK" import "$bpath" --yes "${CF[@]}"
assert_eq "$rc" 0 "import of the path ($out)"
assert_contains "$out" "updated 2.0.0 -> 3.1.0"
assert_contains "$out" "upgrade path 1.0.0 -> 2.0.0 -> 3.1.0: 2 of 2 steps committed"
assert_eq "$(e2e_body)" "ok 3.1.0" "the service after the path"
assert_eq "$(e2e_current)" releases/3.1.0 "current after the path"
history=$(e2e_history)
assert_eq "$(e2e_py "[(r['from'], r['to'], r['outcome']) for r in d if r['action'] == 'import'][:2]" <<<"$history")" \
  "[('2.0.0', '3.1.0', 'ok'), ('1.0.0', '2.0.0', 'ok')]" "history of the two steps (newest first)"
"$AIRLOCK" backup list --json "${CF[@]}" >"$T/backups.json"
assert_eq "$(e2e_py "sorted(b['app_version'] for b in d if b['kind'] == 'pre-upgrade' and b['app_version'])" <"$T/backups.json")" \
  "['1.0.0', '2.0.0']" "a pre-upgrade backup before each step"

# 5. The second step fails its health gate: rolled back to the first, the path stops.
run "$AIRLOCK" import "$bpath2" --yes "${CF[@]}"
assert_eq "$rc" 7 "import of the path to the failing 5.0.0 ($out)"
assert_contains "$out" "upgrade path 3.1.0 -> 4.0.0 -> 5.0.0: 1 of 2 steps committed, stopped at 5.0.0"
assert_eq "$(e2e_body)" "ok 4.0.0" "the service after the rollback of the second step"
assert_eq "$(e2e_current)" releases/4.0.0 "current after the rollback of the second step"
echo "ok: a required upgrade path installs each step in order and stops at the first that rolls back"
