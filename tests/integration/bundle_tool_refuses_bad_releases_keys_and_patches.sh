#!/usr/bin/env bash
# Proves that airlock-bundle refuses, with the documented exit code, a message naming the problem and no change to the repository: a republished version, symlinks leaving the tree, a FIFO, setuid/setgid and world-writable entries, an existing key file, a missing role key, and backward or duplicate patches.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh"
make_repo "$T/repo" "$T/keys"
keys=$(online_keys "$T/keys")
state() { (cd "$T/repo" && find . -print0 | sort -z | xargs -0 stat -c '%n %s %Y' && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
state > "$T/state.before"
unchanged() { state > "$T/state.now"; cmp -s "$T/state.before" "$T/state.now" || fail "$1 changed the repository: $(diff "$T/state.before" "$T/state.now")"; }
new_src() { rm -rf "$T/src"; make_src "$T/src" "$1"; }

# 1. A published version never changes.
new_src 1.1.0
echo changed >> "$T/src/config/app.conf"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") $keys
assert_eq "$rc" 2 "release add of a published version: exit code ($out)"
assert_contains "$out" "version 1.1.0 for x86_64 is already published in $T/repo"
unchanged "release add of a published version"

# 2. Symlinks that leave the app tree, absolute or relative; a link inside the tree is fine (control below).
new_src 1.2.0
ln -s /etc/passwd "$T/src/x"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") $keys
assert_eq "$rc" 4 "release add with an absolute symlink: exit code ($out)"
assert_contains "$out" "symlink x -> /etc/passwd points outside the app tree"
unchanged "release add with an absolute symlink"
rm "$T/src/x"; ln -s ../../etc/passwd "$T/src/config/up"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") $keys
assert_eq "$rc" 4 "release add with a relative escaping symlink: exit code ($out)"
assert_contains "$out" "symlink config/up -> ../../etc/passwd points outside the app tree"
unchanged "release add with a relative escaping symlink"

# 3. A FIFO (a device or socket likewise) has no place in an app tree.
rm "$T/src/config/up"; mkfifo "$T/src/config/pipe"
# shellcheck disable=SC2086
run timeout 60 "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") $keys
assert_eq "$rc" 4 "release add with a FIFO: exit code ($out)"
assert_contains "$out" "config/pipe is a device, fifo or socket"
unchanged "release add with a FIFO"

# 3a. A release tree grants nothing: setuid/setgid files and world-writable entries are refused before signing,
# as every site refuses them at stage.
rm -f "$T/src/config/pipe"
for m in "config/app.conf 4755 is setuid or setgid (mode 04755)" "config/app.conf 2755 is setuid or setgid (mode 02755)" \
  "docker-compose.yml 666 is writable by others (mode 0666)" "config 777 is writable by others (mode 0777)"; do
  read -r path mode msg <<<"$m"
  was=$(stat -c %a "$T/src/$path")
  chmod "$mode" "$T/src/$path"
  # shellcheck disable=SC2086
  run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") $keys
  assert_eq "$rc" 4 "release add with $path at $mode: exit code ($out)"
  assert_contains "$out" "$path $msg"
  unchanged "release add with $path at $mode"
  chmod "$was" "$T/src/$path"
done

# 3b. A bind mount whose source is in the release tree (here the usual "./pgdata"): the next release would
# start without that data on every site. Refused before signing, as the sites refuse it at stage (needs a compose).
if command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1; then
  rm -f "$T/src/config/pipe"
  printf '    volumes: [ "./pgdata:/var/lib/postgresql/data", "${AIRLOCK_DATA}/ok:/ok" ]\n' >>"$T/src/docker-compose.yml"
  # shellcheck disable=SC2086
  run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") $keys
  assert_eq "$rc" 4 "release add with a bind mount from the release tree: exit code ($out)"
  assert_contains "$out" "bind-mounts pgdata from the release tree"
  assert_contains "$out" '${AIRLOCK_DATA}'
  unchanged "release add with a bind mount from the release tree"
  new_src 1.2.0
  printf '    volumes: [ "${AIRLOCK_DATA}/pgdata:/var/lib/postgresql/data" ]\n' >>"$T/src/docker-compose.yml"
fi

# 4. key generate never overwrites a file.
cp "$T/keys/targets.pem" "$T/keys/targets.pem.orig"
run "$AIRLOCK_BUNDLE" key generate --out "$T/keys/targets.pem"
assert_eq "$rc" 2 "key generate onto an existing key: exit code ($out)"
assert_contains "$out" "$T/keys/targets.pem already exists; airlock-bundle never overwrites a key"
cmp -s "$T/keys/targets.pem" "$T/keys/targets.pem.orig" || fail "key generate changed the existing key file"
echo "not a key" > "$T/other.txt"
run "$AIRLOCK_BUNDLE" key generate --out "$T/other.txt"
assert_eq "$rc" 2 "key generate onto an existing file: exit code ($out)"
assert_eq "$(cat "$T/other.txt")" "not a key" "the existing file after key generate"

# 5. Signing needs every online role's key; the message names the missing role. (On a copy: the refused
# release leaves its unsigned target files behind, which refused_signing_leaves_the_repository_unchanged checks.)
rm -f "$T/src/config/pipe"
cp -a "$T/repo" "$T/repo-copy"
run "$AIRLOCK_BUNDLE" release add "$T/repo-copy" "$T/src" --arch x86_64 $(src_image "$T/src") --key "$T/keys/targets.pem" --key "$T/keys/snapshot.pem"
assert_eq "$rc" 2 "release add without the timestamp key: exit code ($out)"
assert_contains "$out" "the timestamp role of root v1 needs 1 of these keys and 0 of them were given with --key"
assert_contains "$out" "$(cat "$T/keys/timestamp.keyid")"
run "$AIRLOCK_BUNDLE" verify "$T/repo-copy" --trusted-root "$T/repo/metadata/1.root.json"
assert_eq "$rc" 0 "verify of the repository after the refused signing ($out)"
assert_not_contains "$out" "demo/1.2.0/x86_64/app.tar.gz" "verify of the repository after the refused signing"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" patch add "$T/repo" --from 1.0.0 --to 1.1.0 --arch x86_64 $keys
assert_eq "$rc" 2 "patch add of a published patch: exit code ($out)"
assert_contains "$out" "the patch from 1.0.0 to 1.1.0 for x86_64 is already published"

# 6. Patches go forward, between published releases.
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" patch add "$T/repo" --from 1.1.0 --to 1.0.0 --arch x86_64 $keys
assert_eq "$rc" 2 "patch add --from 1.1.0 --to 1.0.0: exit code ($out)"
assert_contains "$out" "a patch goes forward: --from 1.1.0 must be older than --to 1.0.0"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" patch add "$T/repo" --from 1.1.0 --to 1.1.0 --arch x86_64 $keys
assert_eq "$rc" 2 "patch add from a version to itself: exit code ($out)"
assert_contains "$out" "a patch goes forward"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" patch add "$T/repo" --from 0.9.0 --to 1.1.0 --arch x86_64 $keys
assert_eq "$rc" 6 "patch add from an unpublished version: exit code ($out)"
assert_contains "$out" "release 0.9.0 for x86_64 is not in $T/repo; publish it with 'release add' first"
unchanged "the refused patches"

# Control: the same source, with a link that stays inside the tree, publishes with all keys.
ln -s config/app.conf "$T/src/link"
# shellcheck disable=SC2086
run "$AIRLOCK_BUNDLE" release add "$T/repo" "$T/src" --arch x86_64 $(src_image "$T/src") $keys
assert_eq "$rc" 0 "release add of 1.2.0 with all keys: exit code ($out)"
assert_contains "$out" "published demo 1.2.0 for x86_64"
run "$AIRLOCK_BUNDLE" verify "$T/repo" --trusted-root "$T/repo/metadata/1.root.json"
assert_eq "$rc" 0 "verify after the refusals ($out)"
echo "ok: airlock-bundle refuses bad releases, keys and patches and leaves the repository as it was"
