#!/usr/bin/env bash
# Signed site reports (issue 15 item 7, docs/fleet.md "Site reports from air-gapped sites"): `airlock import
# --report` installs from the stick and writes airlock-report-<site>-<time>.json next to the bundle, signed by the
# site key that `airlock init` made (0600) and `airlock site-key` prints; it names the installed version, the image
# ID the container runs and the run's outcome. The vendor registers the key (`airlock-bundle report register`) and
# `report verify` prints the fleet table. A forged report (another site's key claiming this site's ID), a tampered
# one (one byte changed) and one of an unregistered site are each refused on stderr with exit 3, while the good one
# is still in the table. A refused import (exit 9) still writes its report.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
E2E=$T/e2e E2E_APP=e2ereport$$ E2E_PORT=28671
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
defer e2e_cleanup
CF=(--config "$E2E_CONF")

e2e_release 1.0.0
b10=$(e2e_bundle 1.0.0)
e2e_forget_images 1.0.0
e2e_init
site=$(cat "$E2E_STATE/site-id")
assert_eq "$(stat -c %a "$E2E_STATE/site-key.pem")" 600 "mode of the site key"
"$AIRLOCK" site-key "${CF[@]}" >"$T/site.pub" 2>"$T/site-key.err"
assert_eq "$(head -1 "$T/site.pub")" "-----BEGIN PUBLIC KEY-----" "site-key prints a PEM public key"
assert_contains "$(cat "$T/site-key.err")" "site ID $site" "site-key's stderr"

# The stick: the bundle, and after the import the report beside it.
stick=$T/stick
mkdir -p "$stick"
cp "$b10" "$stick/"
run "$AIRLOCK" import "$stick/$(basename "$b10")" --yes --report "${CF[@]}"
assert_eq "$rc" 0 "import --report ($out)"
reports=("$stick"/airlock-report-"$site"-*.json)
assert_eq "${#reports[@]}" 1 "reports on the stick"
good=${reports[0]}
assert_contains "$out" "report: $good" "import names the report"
[[ $(basename "$good") =~ ^airlock-report-$site-[0-9]{8}T[0-9]{6}Z\.json$ ]] || fail "report file name $(basename "$good")"
cid=$(e2e_cid)
assert_eq "$(e2e_py '(d["signed"]["_type"], d["signed"]["site_id"], d["signed"]["app"], d["signed"]["version"])' <"$good")" \
  "('airlock-site-report', '$site', '$E2E_APP', '1.0.0')" "the report"
assert_eq "$(e2e_py 'd["signed"]["image_ids"]' <"$good")" "['$(docker inspect -f '{{.Image}}' "$cid")']" "the report's image IDs"
assert_eq "$(e2e_py '(d["signed"]["health"], d["signed"]["runs"][0]["outcome"], d["signed"]["runs"][0]["to"])' <"$good")" \
  "('healthy', 'ok', '1.0.0')" "the report's health and last run"

# The vendor's side.
sites=$T/vendor/sites.json
mkdir -p "$T/vendor"
run "$AIRLOCK_BUNDLE" report register --sites "$sites" --site-id "$site" --key "$T/site.pub" --name "ship 7"
assert_eq "$rc" 0 "report register ($out)"
assert_eq "$(e2e_py 'sorted(d["sites"])' <"$sites")" "['$site']" "SITES.json"
run "$AIRLOCK_BUNDLE" report verify "$good" --sites "$sites"
assert_eq "$rc" 0 "verify of the good report ($out)"
assert_contains "$out" "SITE" "the table header"
row=$(grep "^$site " <<<"$out") || fail "no row for $site: $out"
assert_eq "$(awk '{print $2, $3, $4, $5, $6, $7}' <<<"${row/ship 7/ship7}")" "ship7 $E2E_APP 1.0.0 healthy ok (import" "the fleet row"

# A second site: its key must not pass for the first site's.
other_conf=$T/other.conf
sed -e "s|$E2E/site/state|$T/other/state|" -e "s|$E2E/site/opt|$T/other/opt|" "$E2E_CONF" >"$other_conf"
run "$AIRLOCK" init --config "$other_conf" --trusted-root "$E2E/repo/metadata/1.root.json"
assert_eq "$rc" 0 "init of the second site ($out)"
"$AIRLOCK" site-key --config "$other_conf" >"$T/other.pub" 2>/dev/null
assert_contains "$out" "$(cat "$T/other.pub")" "init and site-key print the same key"
other_site=$(cat "$T/other/state/site-id")
run "$AIRLOCK_BUNDLE" report register --sites "$sites" --site-id "$site" --key "$T/other.pub"
assert_eq "$rc" 2 "registering another key for a registered site without --replace ($out)"
assert_contains "$out" "is registered in $sites with another key" "the message"
mkdir -p "$T/unregistered" "$T/forged"
run "$AIRLOCK" report --out "$T/unregistered" --config "$other_conf"
assert_eq "$rc" 0 "report of the second site ($out)"
unregistered=$(ls "$T"/unregistered/*.json)
# Forged: the second site's key signs a report that claims the first site's ID.
echo "$site" >"$T/other/state/site-id"
"$AIRLOCK" report --out "$T/forged" --config "$other_conf" >/dev/null 2>&1
forged=$(ls "$T"/forged/*.json)
assert_eq "$(e2e_py 'd["signed"]["site_id"]' <"$forged")" "$site" "the forged report's site ID"
# Tampered: one byte of the good report changed (its version 1.0.0 -> 1.0.1).
tampered=$T/tampered.json
python3 - "$good" "$tampered" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
at = data.index(b'"version": "1.0.0"') + len('"version": "1.0.')
data[at] = ord("1")
open(sys.argv[2], "wb").write(data)
PY
assert_eq "$(cmp -l "$good" "$tampered" | wc -l)" 1 "bytes changed in the tampered copy"

set +e
"$AIRLOCK_BUNDLE" report verify "$forged" "$tampered" "$good" "$unregistered" --sites "$sites" >"$T/table" 2>"$T/refused"
rc=$?
set -e
assert_eq "$rc" 3 "verify of a forged, a tampered, a good and an unregistered report ($(cat "$T/refused"))"
refused=$(cat "$T/refused")
assert_contains "$refused" "airlock-bundle: refused: $forged: not signed by the key registered for site $site (ship 7)" "the forged report's line"
assert_contains "$refused" "but by another key" "the forged report's line"
assert_contains "$refused" "airlock-bundle: refused: $tampered: the signature by the key of site $site (ship 7) does not match the content: the report was changed after it was signed" "the tampered report's line"
assert_contains "$refused" "airlock-bundle: refused: $unregistered: site $other_site is not registered" "the unregistered report's line"
assert_contains "$refused" "3 of 4 report(s) refused" "the summary"
assert_eq "$(grep -c . "$T/table")" 2 "lines of the table (header and the good report)"
grep -q "^$site .* 1.0.0 " "$T/table" || fail "the good report is not in the table: $(cat "$T/table")"

# A refused import still leaves its report on the stick.
e2e_release 0.9.0
b09=$(e2e_bundle 0.9.0)
cp "$b09" "$stick/"
run "$AIRLOCK" import "$stick/$(basename "$b09")" --yes --report "${CF[@]}"
assert_eq "$rc" 9 "import --report of an older release ($out)"
assert_contains "$out" "report: $stick/airlock-report-$site-" "the refused import names its report"
after=$(ls "$stick"/airlock-report-*.json | wc -l)
[ "$after" -ge 1 ] || fail "no report after the refused import"
newest=$(ls "$stick"/airlock-report-*.json | sort | tail -1)
"$AIRLOCK_BUNDLE" report verify "$newest" --sites "$sites" >/dev/null || fail "the refused import's report does not verify"
echo "ok: good site reports verify into the fleet table; forged, tampered and unregistered ones are refused (exit 3)"
