#!/usr/bin/env bash
# The test environment's nginx serves files on loopback over HTTP and over HTTPS with the test CA, and
# answers Range requests with 206 and the exact bytes (the online repository tests depend on this).
. "$(dirname "$0")/lib.sh"
: "${AIRLOCK_TEST_WWW:?testenv is not started}"
name="range-$$.bin"
head -c 100000 /dev/urandom > "$AIRLOCK_TEST_WWW/$name"
defer rm -f "$AIRLOCK_TEST_WWW/$name"
code=$(curl -s -o "$T/part" -w '%{http_code}' -r 1000-1999 "$AIRLOCK_TEST_HTTP/$name")
assert_eq "$code" 206 "HTTP range status"
cmp "$T/part" <(tail -c +1001 "$AIRLOCK_TEST_WWW/$name" | head -c 1000) || fail "HTTP range bytes differ"
code=$(curl -s --cacert "$AIRLOCK_TEST_CA" -o "$T/full" -w '%{http_code}' "$AIRLOCK_TEST_HTTPS/$name")
assert_eq "$code" 200 "HTTPS status"
cmp "$T/full" "$AIRLOCK_TEST_WWW/$name" || fail "HTTPS bytes differ"
echo "ok"
