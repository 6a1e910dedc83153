#!/usr/bin/env bash
# Proves that edited signed metadata in a bundle is refused with exit 3: by the snapshot/timestamp hash and length pins, and by the signatures when an attacker fixes the pins too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/repo" "$T/keys"
root=$T/repo/metadata/1.root.json
"$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --out "$T/good.airlock" >/dev/null
run "$AIRLOCK" verify "$T/good.airlock" --trusted-root "$root"
assert_eq "$rc" 0 "verify of the untouched bundle ($out)"

refused() { # FILE EXPECTED_SUBSTRING...: both tools exit 3 with each substring
  local f=$1 tool s; shift
  for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
    run "$tool" verify "$f" --trusted-root "$root"
    assert_eq "$rc" 3 "$(basename "$tool") verify $(basename "$f"): exit code ($out)"
    for s in "$@"; do assert_contains "$out" "$s" "$(basename "$tool") verify $(basename "$f")"; done
    assert_not_contains "$out" ": verified" "$(basename "$tool") verify $(basename "$f")"
  done
}

# A later expiry in targets.json, same length: the SHA-256 pin in snapshot.json refuses it.
zipedit "$T/good.airlock" "$T/t-expiry.airlock" --re 'metadata/4.targets.json' '"expires": "\d{4}' '"expires": "2099'
refused "$T/t-expiry.airlock" "4.targets.json in bundle $T/t-expiry.airlock: SHA-256 differs from the hash in snapshot.json"

# A longer targets.json (a longer length of a target): the length pin refuses it first.
zipedit "$T/good.airlock" "$T/t-length.airlock" --re 'metadata/4.targets.json' '"length": (\d+)' '"length": 1\1'
refused "$T/t-length.airlock" "4.targets.json in bundle $T/t-length.airlock: is " "bytes but snapshot.json says"

# Edited snapshot: the timestamp's pin refuses it.
zipedit "$T/good.airlock" "$T/s-version.airlock" --re 'metadata/4.snapshot.json' '"expires": "\d{4}' '"expires": "2099'
refused "$T/s-version.airlock" "4.snapshot.json in bundle $T/s-version.airlock: SHA-256 differs from the hash in timestamp.json"

# Edited timestamp.json (nothing pins it): its signature refuses it.
zipedit "$T/good.airlock" "$T/ts.airlock" --re 'metadata/timestamp.json' '"expires": "\d{4}' '"expires": "2099'
refused "$T/ts.airlock" "timestamp.json in bundle $T/ts.airlock: has valid signatures from 0 of the 1 required timestamp keys of root v1"

# An attacker who edits targets.json and re-pins it in snapshot.json and timestamp.json still needs the keys:
# with only the snapshot re-pinned, the timestamp pin refuses; with both, the timestamp signature does.
mkdir -p "$T/x" && (cd "$T/x" && unzip -q "$T/good.airlock")
python3 - "$T/x/metadata" <<'PY'
import hashlib, json, sys
m = sys.argv[1]
def load(n): return json.load(open(f"{m}/{n}"))
def pin(n): b = open(f"{m}/{n}", "rb").read(); return len(b), hashlib.sha256(b).hexdigest()
t = load("4.targets.json")
t["signed"]["expires"] = "2099-01-01T00:00:00Z"
json.dump(t, open(f"{m}/4.targets.json", "w"), indent=2)
s = load("4.snapshot.json")
s["signed"]["meta"]["targets.json"]["length"], s["signed"]["meta"]["targets.json"]["hashes"]["sha256"] = pin("4.targets.json")
json.dump(s, open(f"{m}/4.snapshot.json", "w"), indent=2)
ts = load("timestamp.json")
ts["signed"]["meta"]["snapshot.json"]["length"], ts["signed"]["meta"]["snapshot.json"]["hashes"]["sha256"] = pin("4.snapshot.json")
json.dump(ts, open(f"{m}/timestamp.json.repinned", "w"), indent=2)
PY
zipedit "$T/good.airlock" "$T/repin1.airlock" --set 'metadata/4.targets.json' "$T/x/metadata/4.targets.json" \
  --set 'metadata/4.snapshot.json' "$T/x/metadata/4.snapshot.json"
refused "$T/repin1.airlock" "4.snapshot.json in bundle $T/repin1.airlock: " "timestamp.json" \
  "it was altered or belongs to another repository state"
zipedit "$T/repin1.airlock" "$T/repin2.airlock" --set 'metadata/timestamp.json' "$T/x/metadata/timestamp.json.repinned"
refused "$T/repin2.airlock" "timestamp.json in bundle $T/repin2.airlock: has valid signatures from 0 of the 1 required timestamp keys"
echo "ok: edited targets, snapshot and timestamp metadata are refused with exit 3"
