#!/usr/bin/env bash
# Proves that `release add` refuses a symlink that leaves the app tree by passing through another in-tree symlink (lexically inside, physically outside), as it refuses a plain escaping link.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/repo" "$T/keys"
keys=$(online_keys "$T/keys")
make_src "$T/src" 1.2.0
# config/up -> .. is a link to the tree's own root: inside, and accepted (control).
ln -s .. "$T/src/config/up"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") $keys
assert_eq "$rc" 0 "release add with config/up -> .. (control): exit code ($out)"

# escape -> config/up/config/up/.../../../etc/passwd: lexically "config/up/.../etc/passwd", inside the tree; but
# each config/up is the tree root again, so the ".." components climb out of it, up to /.
make_src "$T/src2" 1.3.0
ln -s .. "$T/src2/config/up"
depth=$(realpath "$T/src2" | tr -cd / | wc -c)
target=$(for _ in $(seq "$depth"); do printf 'config/up/'; done; for _ in $(seq "$depth"); do printf '../'; done; printf 'etc/passwd')
ln -s "$target" "$T/src2/escape"
assert_eq "$(readlink -f "$T/src2/escape")" /etc/passwd "where the escaping link really points"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src2" --arch x86_64 $(src_image "$T/src2") $keys
assert_eq "$rc" 4 "release add with a link escaping through config/up: exit code ($out)"
assert_contains "$out" "symlink escape -> $target points outside the app tree"
echo "ok: a symlink escaping through another symlink is refused"
