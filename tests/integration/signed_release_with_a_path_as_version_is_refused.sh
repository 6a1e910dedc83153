#!/usr/bin/env bash
# Proves that a version from signed metadata never reaches a path of the site: a release of demo whose signed
# custom "version" and release.json "version" are both "../trust/root" (re-signed with the role keys by
# tests/fixtures/bundles/resign.py, as a compromised CI could; airlock-bundle refuses to build it) is refused by
# `airlock stage` and `airlock import` on a first install with exit 4 and a message that names the target and
# says nothing was changed; trust/root.json stays byte-identical, nothing is written under releases/, the
# manifests, the downloads or next to the state directory, no upgrade is journaled, and a valid release of the
# same repository stages afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
resign() { python3 "$(dirname "$0")/../fixtures/bundles/resign.py" "$@"; }
make_repo "$T/repo" "$T/keys"
REL=demo/1.1.0/x86_64
python3 - "$T"/repo/targets/$REL/*.release.json "$T/hostile-release.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["version"] = "../trust/root"
json.dump(m, open(sys.argv[2], "w"), indent=2, sort_keys=True)
PY
resign "$T/repo" "$T/keys" --set "$REL/release.json" "$T/hostile-release.json" \
  --custom "$REL/release.json" version ../trust/root --custom "$REL/app.tar.gz" version ../trust/root >/dev/null \
  || fail "resign.py"
ROOT=$T/repo/metadata/1.root.json
run "$AIRLOCK" verify "$T/repo" --trusted-root "$ROOT"
assert_eq "$rc" 0 "the re-signed repository verifies, so a refusal cannot come from a signature ($out)"

C=(--config "$T/airlock.conf")
run "$AIRLOCK" init --app demo --install-root "$T/opt" --state-dir "$T/state" --trusted-root "$ROOT" "${C[@]}"
assert_eq "$rc" 0 "init ($out)"
root_before=$(sha256sum < "$T/state/trust/root.json")
# Everything but the trusted metadata (which moves forward with each refresh), the state database and the log.
fingerprint() {
  (cd "$T" && find opt state -path state/trust -prune -o ! -name 'state.db*' ! -name '*.jsonl' -printf '%y %m %p %l\n' | LC_ALL=C sort
   find "$T" -maxdepth 1 | LC_ALL=C sort) | sha256sum
}
before=$(fingerprint)
target="demo/1.1.0/x86_64/release.json gives version '../trust/root', which is not a version"
# stage, naming the version; then import, which meets it among the valid releases (DOCKER_HOST points nowhere:
# the refusal must come before the engine is asked anything).
for cmd in "stage $T/repo --version ../trust/root" "import $T/repo --yes" "import $T/repo --version ../trust/root --yes"; do
  # shellcheck disable=SC2086
  run env DOCKER_HOST=unix://$T/no-docker.sock "$AIRLOCK" $cmd "${C[@]}"
  assert_eq "$rc" 4 "airlock $cmd: exit code ($out)"
  assert_contains "$out" "airlock: error: the signed target $target" "airlock $cmd"
  assert_contains "$out" "Nothing was changed." "airlock $cmd"
  assert_eq "$(sha256sum < "$T/state/trust/root.json")" "$root_before" "trust/root.json after airlock $cmd"
  assert_eq "$(fingerprint)" "$before" "the site after airlock $cmd"
  [ ! -e "$T/state/releases" ] || fail "airlock $cmd wrote $(ls -A "$T/state/releases")"
  [ -z "$(find "$T/opt/demo/releases" "$T/state/downloads" -mindepth 1)" ] || fail "airlock $cmd left files behind"
done
run "$AIRLOCK" history --json "${C[@]}"
assert_eq "$rc" 0 "history ($out)"
upgrades=$(python3 -c 'import json,sys; print(len([e for e in json.load(sys.stdin) if e.get("action") in ("import", "upgrade")]))' <<<"$out")
assert_eq "$upgrades" 0 "upgrades in history"
# The valid release of the same repository stages: the site is not stuck.
run "$AIRLOCK" stage "$T/repo" --version 1.0.0 "${C[@]}"
assert_eq "$rc" 0 "stage of the valid 1.0.0 ($out)"
assert_contains "$out" "staged demo 1.0.0 (full)"
assert_eq "$(sha256sum < "$T/state/trust/root.json")" "$root_before" "trust/root.json at the end"
echo ok
