#!/usr/bin/env bash
# Proves that bundles exported by airlock-bundle (full, full+patch, patch-only) and the repository directory itself verify with both `airlock verify` and `airlock-bundle verify`, in text and JSON.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/repo" "$T/keys"
root=$T/repo/metadata/1.root.json
app=demo/1.1.0/x86_64

run "$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --out "$T/full.airlock"
assert_eq "$rc" 0 "bundle export exit code ($out)"
assert_contains "$out" "wrote $T/full.airlock with 4 targets"
run "$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --from 1.0.0 --out "$T/both.airlock"
assert_eq "$rc" 0 "bundle export --from exit code ($out)"
# 1.0.0 and 1.1.0 differ in one small layer: patch add ships it as a layer delta (a .zst target), so the
# patch bundle holds 7 targets and the repository 11.
assert_contains "$out" "with 7 targets"
run "$AIRLOCK_BUNDLE" bundle export "$T/repo" --version 1.1.0 --arch x86_64 --from 1.0.0 --patch-only --out "$T/patch.airlock"
assert_eq "$rc" 0 "bundle export --patch-only exit code ($out)"
assert_contains "$out" "with 4 targets"

# The app archive's size as signed in the repository (gzip output depends on file mtimes, so it is read, not fixed).
size=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["signed"]["targets"][sys.argv[2]]["length"])' \
  "$(ls "$T/repo/metadata/"*.targets.json | sort -V | tail -n 1)" "$app/app.tar.gz")
for tool in "$AIRLOCK" "$AIRLOCK_BUNDLE"; do
  name=$(basename "$tool")
  run "$tool" verify "$T/full.airlock" --trusted-root "$root"
  assert_eq "$rc" 0 "$name verify full.airlock exit code ($out)"
  assert_contains "$out" "$T/full.airlock: verified" "$name verify output"
  assert_contains "$out" "$(printf 'ok  %12s  %s' "$size" "$app/app.tar.gz")" "$name verify output"
  assert_contains "$out" "  $app/release.json" "$name verify output"
  assert_contains "$out" "4 targets," "$name verify output"
  assert_contains "$out" "7 listed targets are not in this bundle" "$name verify output"
  assert_not_contains "$out" "patch-from" "$name verify full.airlock output"

  run "$tool" verify "$T/both.airlock" --trusted-root "$root"
  assert_eq "$rc" 0 "$name verify both.airlock exit code ($out)"
  assert_contains "$out" "  $app/patch-from-1.0.0/patch.tar.gz" "$name verify output"
  assert_contains "$out" "7 targets," "$name verify output"

  run "$tool" verify "$T/patch.airlock" --trusted-root "$root"
  assert_eq "$rc" 0 "$name verify patch.airlock exit code ($out)"
  assert_contains "$out" "  $app/patch-from-1.0.0/release.json" "$name verify output"
  assert_not_contains "$out" " $app/app.tar.gz" "$name verify patch.airlock output (--patch-only)"

  # JSON: parses, says verified, lists exactly the two targets of the full bundle with their signed hashes.
  run "$tool" verify "$T/full.airlock" --trusted-root "$root" --json
  assert_eq "$rc" 0 "$name verify --json exit code ($out)"
  summary=$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["verified"] is True, d
names = sorted(t["name"] for t in d["verified_targets"])
print(" ".join(n for n in names if "/blobs/" not in n), sum("/blobs/" in n for n in names), d["timestamp"]["version"],
      d["root"]["version"], len(d["absent_targets"]))
for t in d["verified_targets"]:
    assert len(t["sha256"]) == 64 and t["length"] > 0, t
' "$out") || fail "$name verify --json output does not parse or lacks verified=true: $out"
  assert_eq "$summary" "$app/app.tar.gz $app/release.json 2 4 1 7" "$name --json summary (the image's config and layer are blobs)"

  # The repository directory verifies too, with every target present.
  run "$tool" verify "$T/repo" --trusted-root "$root"
  assert_eq "$rc" 0 "$name verify repo exit code ($out)"
  assert_contains "$out" "$T/repo: verified" "$name verify repo output"
  assert_contains "$out" "11 targets," "$name verify repo output"
  assert_contains "$out" "  demo/1.0.0/x86_64/app.tar.gz" "$name verify repo output"
  assert_not_contains "$out" "not in this" "$name verify repo output"
  run "$tool" verify "$T/repo" --trusted-root "$root" --json
  assert_eq "$rc" 0 "$name verify repo --json exit code"
  assert_eq "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["verified"], len(d["verified_targets"]), len(d["absent_targets"]))' "$out")" "True 11 0" "$name repo --json"
done

# The bundle holds only metadata/ and the targets of release 1.1.0 (its image's config and layer as blobs), stored.
names=$(zipedit --list "$T/full.airlock" | sed 's/[0-9a-f]\{64\}/H/g' | sort | tr '\n' ' ')
assert_eq "$names" "metadata/1.root.json metadata/4.snapshot.json metadata/4.targets.json metadata/timestamp.json targets/$app/H.app.tar.gz targets/$app/H.release.json targets/demo/blobs/H.H.config.json targets/demo/blobs/H.H.layer.tar.gz " "bundle entries"
echo "ok: three bundles and the repository verify with airlock and airlock-bundle"
