#!/usr/bin/env bash
# Proves that a `release add` or `patch add` refused for a missing role key writes nothing into the repository (Repository::publish checks the keys "so a missing key fails before anything is written").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/repo" "$T/keys"
state() { (cd "$T/repo" && find . -print0 | sort -z | xargs -0 stat -c '%n %s' && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
state > "$T/state.before"
unchanged() { state > "$T/state.now"; cmp -s "$T/state.before" "$T/state.now" || fail "$1 changed the repository: $(diff "$T/state.before" "$T/state.now")"; }

make_src "$T/src" 1.2.0
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") --key "$T/keys/targets.pem" --key "$T/keys/snapshot.pem"
assert_eq "$rc" 2 "release add without the timestamp key: exit code ($out)"
assert_contains "$out" "the timestamp role of root v1 needs 1 of these keys and 0 of them were given"
unchanged "release add refused for a missing timestamp key"

# A fresh pair of releases to patch between, published with all keys; then the patch without the snapshot key.
# shellcheck disable=SC2046
"$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") $(online_keys "$T/keys") >/dev/null
state > "$T/state.before"
run "$AIRLOCK_BUNDLE" patch add "$T/repo" --from 1.1.0 --to 1.2.0 --arch x86_64 --key "$T/keys/targets.pem" --key "$T/keys/timestamp.pem"
assert_eq "$rc" 2 "patch add without the snapshot key: exit code ($out)"
assert_contains "$out" "the snapshot role of root v1 needs 1 of these keys"
unchanged "patch add refused for a missing snapshot key"
run "$AIRLOCK_BUNDLE" verify "$T/repo" --trusted-root "$T/repo/metadata/1.root.json"
assert_eq "$rc" 0 "verify after the refusals ($out)"
assert_not_contains "$out" "is not listed by any signed target" "verify after the refusals"
echo "ok: refused signing leaves the repository unchanged"
