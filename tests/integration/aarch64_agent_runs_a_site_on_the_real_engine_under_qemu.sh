#!/usr/bin/env bash
# The cross-built aarch64 binaries, run under qemu-aarch64-static against the real dockerd (the docker CLI they
# call is the host's) and the test nginx, do a site's whole job for releases published for aarch64 by the
# aarch64 airlock-bundle:
#   - `verify` of a bundle: exit 0; the same bundle with one payload byte flipped: exit 3 on its signed SHA-256;
#   - a first install (`import --yes`, health gate) and `import --stage-only` of 1.1.0: the image is loaded into
#     the engine while the old container keeps running and current still names 1.0.0; `apply` then finishes it;
#   - `backup create`, a change to the data, `backup restore --yes`: the records come back byte for byte;
#   - online over HTTPS (test CA): `check` exits 10 naming the patch, `upgrade --download-only` fetches it into
#     downloads/ and leaves the running site alone, `check` then has 0 B to download, `apply` installs 1.2.0.
# (The service inside the images is the host's static testsvc: only airlock is emulated.)
# ctest timeout: 900
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?}" "${AIRLOCK_TEST_WWW:?testenv is not started}" "${AIRLOCK_AARCH64_DIR:?AIRLOCK_AARCH64_DIR must name the aarch64 build directory}"
command -v qemu-aarch64-static >/dev/null || fail "qemu-aarch64-static is missing (scripts/bootstrap.sh installs it)"
mkdir -p "$T/arm"
for name in airlock:agent/airlock airlock-bundle:bundle-tool/airlock-bundle; do
  bin=$AIRLOCK_AARCH64_DIR/${name#*:}
  [ -x "$bin" ] || fail "no aarch64 ${name%%:*} at $bin: build it with scripts/build.sh aarch64"
  assert_contains "$(file -b "$bin")" "ARM aarch64" "file $bin"
  printf '#!/bin/sh\nexec qemu-aarch64-static %s "$@"\n' "$bin" > "$T/arm/${name%%:*}"
  chmod +x "$T/arm/${name%%:*}"
done
AIRLOCK=$T/arm/airlock AIRLOCK_BUNDLE=$T/arm/airlock-bundle
run "$AIRLOCK" --version
assert_contains "$out" ", aarch64)" "the emulated agent's --version"

E2E=$T/e2e E2E_APP=e2earm$$ E2E_PORT=28681 E2E_ARCH=aarch64
. "$(dirname "$0")/../fixtures/e2e/site.sh"
. "$(dirname "$0")/../fixtures/e2e/probe.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh" # zipedit
defer e2e_cleanup
CF=(--config "$E2E_CONF")
WWW=$AIRLOCK_TEST_WWW/arm-$$
defer rm -rf "$WWW"
publish() { rm -rf "$WWW.new"; cp -r "$E2E/repo" "$WWW.new"; chmod -R a+rX "$WWW.new"; rm -rf "$WWW"; mv "$WWW.new" "$WWW"; }

e2e_release 1.0.0
e2e_release 1.1.0
b10=$(e2e_bundle 1.0.0)
b11=$(e2e_bundle 1.1.0)
e2e_forget_images 1.0.0 1.1.0

# 1. verify, good and tampered.
root=$E2E/repo/metadata/1.root.json
run "$AIRLOCK" verify "$b10" --trusted-root "$root"
assert_eq "$rc" 0 "aarch64 verify ($out)"
assert_contains "$out" "$b10: verified"
zipedit "$b10" "$T/bad.airlock" --flip "targets/$E2E_APP/1.0.0/aarch64/*.app.tar.gz"
run "$AIRLOCK" verify "$T/bad.airlock" --trusted-root "$root"
assert_eq "$rc" 3 "aarch64 verify of a tampered payload ($out)"
assert_contains "$out" "target $E2E_APP/1.0.0/aarch64/app.tar.gz does not match its signed SHA-256"

# 2. First install, then a staged upgrade on the real engine.
e2e_init
run "$AIRLOCK" import "$b10" --yes "${CF[@]}"
assert_eq "$rc" 0 "aarch64 first install of 1.0.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after the first install"
cid=$(e2e_cid)
run "$AIRLOCK" import "$b11" --stage-only --yes "${CF[@]}"
assert_eq "$rc" 0 "aarch64 import --stage-only of 1.1.0 ($out)"
docker image inspect "$E2E_APP-web:1.1.0" >/dev/null 2>&1 || fail "the staged image $E2E_APP-web:1.1.0 is not in the engine"
assert_eq "$(e2e_cid)" "$cid" "the running container after --stage-only"
assert_eq "$(e2e_body)" "ok 1.0.0" "the service after --stage-only"
assert_eq "$(e2e_current)" "releases/1.0.0" "current after --stage-only"
[ -d "$E2E_SITE/releases/1.1.0" ] || fail "releases/1.1.0 was not staged"
run "$AIRLOCK" apply --yes "${CF[@]}"
assert_eq "$rc" 0 "aarch64 apply of the staged 1.1.0 ($out)"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after apply"

# 3. Backup and restore.
mkdir -p "$E2E_SITE/data/records"
head -c 300000 /dev/urandom > "$E2E_SITE/data/records/blob"
echo "row 1" > "$E2E_SITE/data/records/table"
# (data/log gains a line at each start of the service: the records are what must come back.)
records() { (cd "$E2E_SITE/data" && find records -printf '%y %m %p\n' | LC_ALL=C sort && sha256sum records/*); }
sum=$(records)
run "$AIRLOCK" backup create --note "aarch64" "${CF[@]}"
assert_eq "$rc" 0 "aarch64 backup create ($out)"
id=$("$AIRLOCK" backup list --json "${CF[@]}" | e2e_py '[b["id"] for b in d if b["note"] == "aarch64" and b["status"] == "complete"][0]')
echo "row 2" >> "$E2E_SITE/data/records/table"
rm "$E2E_SITE/data/records/blob"
[ "$(records)" != "$sum" ] || fail "the change to data/ changed nothing"
run "$AIRLOCK" backup restore "$id" --yes "${CF[@]}"
assert_eq "$rc" 0 "aarch64 backup restore ($out)"
assert_eq "$(records)" "$sum" "data/records after the restore"

# 4. Online: check and a download-only upgrade from nginx over HTTPS, then apply.
e2e_release 1.2.0
e2e_patch 1.1.0 1.2.0
publish
e2e_forget_images 1.2.0
cat >> "$E2E_CONF" <<CONF
[repository]
urls = $AIRLOCK_TEST_HTTPS/arm-$$
ca_file = $AIRLOCK_TEST_CA
CONF
run "$AIRLOCK" check "${CF[@]}"
assert_eq "$rc" 10 "aarch64 check with 1.2.0 published ($out)"
assert_contains "$out" "1.1.0 -> 1.2.0 (patch)"
cid=$(e2e_cid)
run "$AIRLOCK" upgrade --download-only --yes "${CF[@]}"
assert_eq "$rc" 0 "aarch64 upgrade --download-only ($out)"
assert_contains "$out" "downloaded 1.1.0 -> 1.2.0 (patch)"
assert_eq "$(e2e_cid)" "$cid" "the running container after --download-only"
assert_eq "$(e2e_body)" "ok 1.1.0" "the service after --download-only"
[ "$(find "$E2E_STATE/downloads" -maxdepth 1 -type f | wc -l)" -ge 2 ] || fail "downloads/ holds too few files"
run "$AIRLOCK" check "${CF[@]}"
assert_contains "$out" "0 B to download" "check after --download-only"
run "$AIRLOCK" apply --yes "${CF[@]}"
assert_eq "$rc" 0 "aarch64 apply of the downloaded patch ($out)"
assert_eq "$(e2e_body)" "ok 1.2.0" "the service after apply"
assert_eq "$(records)" "$sum" "data/records after the upgrade"
echo "ok"
