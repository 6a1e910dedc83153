#!/usr/bin/env bash
# tuf-js, an independent TUF implementation, accepts a repository that airlock-bundle published and served by
# the test nginx: starting from the ORIGINAL 1.root.json it walks the root chain 1 -> 2, loads timestamp,
# snapshot and targets (versions > 1), and downloads a release target over HTTP and over HTTPS (test CA),
# byte for byte. `airlock verify` agrees with tuf-js on the served tree. Negative controls: one tampered byte
# in the served N.targets.json (hash check) or timestamp.json (signature check) makes both refuse.
# See docs/interop.md.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fixtures/bundles/make_repo.sh" # make_image_archive
: "${AIRLOCK_TEST_WWW:?testenv is not started}" "${AIRLOCK_TEST_HTTP:?}" "${AIRLOCK_TEST_HTTPS:?}" "${AIRLOCK_TEST_CA:?}"
INTEROP=$(cd "$(dirname "$0")/../interop" && pwd)
CLIENT=$INTEROP/tufjs_client.js

# --- tuf-js (pinned in tests/interop/package-lock.json) ------------------------------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  [ "${CI:-}" != true ] || fail "CI=true and no node/npm for the tuf-js interop test"
  skip "node and npm are not installed (scripts/bootstrap.sh installs them)"
fi
if [ ! -f "$INTEROP/node_modules/tuf-js/package.json" ]; then
  npm ci --prefix "$INTEROP" --no-audit --no-fund --loglevel=error >&2 || fail "npm ci --prefix $INTEROP failed"
fi
js_field() { # FILE EXPRESSION: prints the JavaScript EXPRESSION evaluated with `d` = the parsed JSON of FILE
  node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
           const v = eval(process.argv[2]); process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));' "$1" "$2"
}
echo "tuf-js $(js_field "$INTEROP/node_modules/tuf-js/package.json" d.version)," \
  "@tufjs/models $(js_field "$INTEROP/node_modules/@tufjs/models/package.json" d.version), node $(node --version)"

# --- the repository: init, release 1.0.0, root rotation 1 -> 2, release 1.1.0 -------------------------------
cd "$T"
for k in root targets snapshot timestamp root2; do "$AIRLOCK_BUNDLE" key generate --out "$k.pem" >/dev/null 2>&1; done
ONLINE=(--key targets.pem --key snapshot.pem --key timestamp.pem)
"$AIRLOCK_BUNDLE" repo init repo --app demo --root-key root.pem \
  --targets-key targets.pem --snapshot-key snapshot.pem --timestamp-key timestamp.pem >/dev/null
cp repo/metadata/1.root.json trusted-1.root.json   # what a site was given at install time
assert_eq "$(js_field trusted-1.root.json d.signed.version)" 1 "initial root version"
mkdir src
printf 'services:\n  web:\n    image: demo/web:1.0.0\n    network_mode: host\n' > src/docker-compose.yml
echo "greeting=hello" > src/app.conf
echo '{"version":"1.0.0"}' > src/airlock-release.json
make_image_archive web.tar demo/web:1.0.0 # the image the compose file runs, shipped
"$AIRLOCK_BUNDLE" release add repo src --arch x86_64 --image-archive web.tar "${ONLINE[@]}" >/dev/null
# Threshold 2 after the rotation: tuf-js must verify the new root key's signature on 2.root.json as well.
"$AIRLOCK_BUNDLE" root rotate repo --add-root-key root2.pem --root-threshold 2 \
  --key root.pem --key root2.pem "${ONLINE[@]}" >/dev/null
echo "greeting=hello again" > src/app.conf
echo '{"version":"1.1.0"}' > src/airlock-release.json
"$AIRLOCK_BUNDLE" release add repo src --arch x86_64 --image-archive web.tar "${ONLINE[@]}" >/dev/null
[ -f repo/metadata/2.root.json ] && [ ! -e repo/metadata/3.root.json ] || fail "expected root versions 1 and 2 only"

# The versions a correct client must end on, from the repository itself.
ts_v=$(js_field repo/metadata/timestamp.json d.signed.version)
snap_v=$(js_field repo/metadata/timestamp.json 'd.signed.meta["snapshot.json"].version')
tgt_v=$(js_field "repo/metadata/$snap_v.snapshot.json" 'd.signed.meta["targets.json"].version')
[ "$snap_v" -gt 1 ] && [ "$tgt_v" -gt 1 ] || fail "snapshot v$snap_v / targets v$tgt_v: expected versions > 1"
TARGET=demo/1.1.0/x86_64/release.json
sha=$(js_field "repo/metadata/$tgt_v.targets.json" "d.signed.targets[\"$TARGET\"].hashes.sha256")
stored=repo/targets/demo/1.1.0/x86_64/$sha.release.json
[ -f "$stored" ] || fail "the repository has no $stored"

# --- publish metadata/ and targets/ in a private directory of nginx's web root --------------------------------
pub=$(mktemp -d "$AIRLOCK_TEST_WWW/tufjs.XXXXXX")
defer rm -rf "$pub"
cp -R repo/metadata repo/targets "$pub/"
chmod -R a+rX "$pub"   # mktemp made it 0700; nginx's workers are not root
sub=${pub##*/}

tufjs() { # SCHEME_BASE_URL OUT: runs the tuf-js client from the original 1.root.json; sets $rc and $out
  run node "$CLIENT" "$1/$sub/metadata" "$1/$sub/targets" "$T/trusted-1.root.json" "$TARGET" "$2"
}
check_accepted() { # LABEL OUT
  [ "$rc" -eq 0 ] || fail "$1: tuf-js refused the repository (exit $rc): $out"
  local res=$T/$1.result.json
  printf '%s\n' "$out" > "$res"
  # root 2: tuf-js walked the chain from 1.root.json; the others: the newest the repository published.
  assert_eq "$(js_field "$res" '[d.trusted.root, d.trusted.timestamp, d.trusted.snapshot, d.trusted.targets].join(" ")')" \
    "2 $ts_v $snap_v $tgt_v" "$1: versions tuf-js trusts at the end (root timestamp snapshot targets)"
  assert_eq "$(js_field "$res" d.target.custom.version)" 1.1.0 "$1: custom.version of $TARGET"
  cmp "$2" "$stored" || fail "$1: the bytes tuf-js downloaded differ from $stored"
  echo "$1: tuf-js accepted: $out"
}

# --- HTTP, then HTTPS with the test CA (and, as a control, without it) ----------------------------------------
tufjs "$AIRLOCK_TEST_HTTP" "$T/http.release.json"
check_accepted http "$T/http.release.json"
export NODE_EXTRA_CA_CERTS=$AIRLOCK_TEST_CA
tufjs "$AIRLOCK_TEST_HTTPS" "$T/https.release.json"
check_accepted https "$T/https.release.json"
unset NODE_EXTRA_CA_CERTS
tufjs "$AIRLOCK_TEST_HTTPS" "$T/noca.release.json"
[ "$rc" -ne 0 ] || fail "tuf-js accepted the HTTPS server without the test CA: TLS is not being verified"
assert_contains "$out" "certificate" "tuf-js error without the test CA"

# --- airlock verify agrees on the very tree nginx serves ------------------------------------------------------
run "$AIRLOCK" verify "$pub" --trusted-root "$T/trusted-1.root.json" --json
[ "$rc" -eq 0 ] || fail "airlock verify refused the served tree (exit $rc): $out"
printf '%s\n' "$out" > "$T/verify.json"
assert_eq "$(js_field "$T/verify.json" '["root", "timestamp", "snapshot", "targets"].map(r => d[r].version).join(" ")')" \
  "2 $ts_v $snap_v $tgt_v" "airlock verify: versions (root timestamp snapshot targets), as tuf-js"

# --- negative controls: one byte of served metadata changed, then restored --------------------------------------
flip_byte() { # FILE NEEDLE OFFSET: flips the low bit of the byte OFFSET bytes into the first NEEDLE in FILE
  node -e 'const fs = require("fs"); const [f, needle, off] = process.argv.slice(1); const b = fs.readFileSync(f);
           const i = b.indexOf(needle); if (i < 0) process.exit(1); b[i + Number(off)] ^= 0x01; fs.writeFileSync(f, b);' \
    "$@" || fail "could not find '$2' to tamper with in $1"
}
refused() { # LABEL FILE NEEDLE OFFSET EXPECTED_ERROR: tuf-js and airlock verify must both refuse FILE tampered
  local label=$1 served=$2
  cp "$served" "$T/$label.orig"
  flip_byte "$served" "$3" "$4"
  [ "$(cmp -l "$served" "$T/$label.orig" | wc -l)" -eq 1 ] || fail "$label: the tampered copy should differ in one byte"
  tufjs "$AIRLOCK_TEST_HTTP" "$T/$label.release.json"
  assert_eq "$rc" 1 "$label: tuf-js exit status"
  assert_contains "$out" "$5" "$label: tuf-js error"
  [ ! -e "$T/$label.release.json" ] || fail "$label: tuf-js wrote the target although the metadata was tampered"
  echo "$label: tuf-js refused: $out"
  run "$AIRLOCK" verify "$pub" --trusted-root "$T/trusted-1.root.json"
  assert_eq "$rc" 3 "$label: airlock verify exit status on the tampered tree"
  cp "$T/$label.orig" "$served"
}
# 1.1.0 -> 1.1.1 in the target's custom field: the snapshot's hash of targets no longer matches.
refused tampered-targets "$pub/metadata/$tgt_v.targets.json" '"1.1.0"' 5 "Unable to load targets"
# the last digit of the timestamp's expiry year: nothing hashes timestamp.json, only our ECDSA signature covers it.
refused tampered-timestamp "$pub/metadata/timestamp.json" '"expires": "' 15 "timestamp was signed by 0/"
tufjs "$AIRLOCK_TEST_HTTP" "$T/restored.release.json"
check_accepted restored "$T/restored.release.json"
echo "ok"
