#!/usr/bin/env bash
# The static agent resolves and verifies on its own: in a chroot holding only the binary, /etc/hosts
# ("127.0.0.1 localhost airlock-repo.test"), the test CA, the trusted root, the configuration and the site's
# state and install directories, `airlock init` and then `airlock check` against the test nginx:
#  a. urls = http://airlock-repo.test:PORT/...  - a name only /etc/hosts knows: exit 10, update available;
#  b. urls = https://localhost:PORT/... with ca_file = the CA inside the chroot: exit 10;
#  c. urls = http://airlock-nowhere.invalid:PORT/...  - no such name: an error naming the host, not 0 or 10;
#  d. https without ca_file: the chroot has no system CA store, so the certificate is refused, not 0 or 10.
# and two more that pin down what name resolution a static glibc binary has:
#  e. /etc/nsswitch.conf naming modules the chroot does not have (mdns4_minimal, resolve, sss, ldap) ahead of
#     files: they are skipped, airlock-repo.test still resolves from /etc/hosts: exit 10;
#  f. DNS through /etc/resolv.conf: a small DNS responder on a loopback address (standing in for a local stub
#     resolver such as systemd-resolved's 127.0.0.53) answers airlock-dns.test: exit 10; for
#     airlock-nowhere.invalid it answers NXDOMAIN: an error naming the host;
#  g. a name with two addresses (127.0.0.1 and ::1; /etc/host.conf "multi on" as on Debian) whose first one in
#     the HTTP library's order (IPv4 first) refuses, the repository being served on [::1] only: the agent
#     tries the next address (exit 10, the request seen on [::1]).
#
# What works in the chroot and what does not (glibc 2.36 static, traced with strace):
#  - /etc/hosts: yes. The files and dns NSS back ends are inside libc since glibc 2.34, so a static binary
#    has them without any libnss_*.so. Without /etc/nsswitch.conf glibc's default for hosts is files, then dns
#    (/etc/hosts is read before any DNS query).
#  - DNS: only through /etc/resolv.conf (nameserver lines; a local stub such as 127.0.0.53 works like any
#    other server). Without resolv.conf glibc asks 127.0.0.1:53, where nothing answers in the chroot:
#    "Temporary DNS error while resolving: <host>".
#  - Other NSS modules (mdns4_minimal, resolve, myhostname, sss, ldap, winbind): a static binary can only
#    dlopen() modules of exactly its own glibc version; the chroot has none, they count as unavailable and the
#    next source in nsswitch.conf is used (e). nscd: its socket (/var/run/nscd/socket) is tried first and
#    absent here.
#  - TLS: the system store of the static OpenSSL is /etc/ssl/certs/ca-certificates.crt (openssl.cnf in
#    /usr/lib/ssl); the chroot has neither, so only [repository] ca_file is trusted (d).
#  - No /dev is needed (randomness comes from getrandom(2)). `check` also runs `docker image inspect`
#    (whether a patch's unchanged images are in the engine); docker is not in the chroot, which only means
#    "not in the engine" - with nothing installed the answer is a full release anyway.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "chroot needs root"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}" "${AIRLOCK_TEST_WWW:?testenv is not started}"
: "${AIRLOCK_TEST_HTTP:?}" "${AIRLOCK_TEST_HTTPS:?}" "${AIRLOCK_TEST_CA:?}"
E2E=$T/e2e E2E_APP=e2echroot$$ E2E_PORT=18471
. "$(dirname "$0")/../fixtures/e2e/site.sh"
defer e2e_cleanup
HTTP_PORT=${AIRLOCK_TEST_HTTP##*:}
WWW=$AIRLOCK_TEST_WWW/chroot-$$
defer rm -rf "$WWW"

# The repository with release 1.0.0, published for nginx (whose workers read it as nobody).
e2e_release 1.0.0
cp -r "$E2E/repo" "$WWW"
chmod -R a+rX "$WWW"

# The chroot.
R=$T/root
mkdir -p "$R/etc/airlock" "$R/var/lib" "$R/opt"
cp "$AIRLOCK" "$R/airlock"
echo "127.0.0.1 localhost airlock-repo.test" > "$R/etc/hosts"
cp "$AIRLOCK_TEST_CA" "$R/etc/airlock/ca.pem"
cp "$E2E/repo/metadata/1.root.json" "$R/etc/airlock/root.json"
# conf URL [EXTRA-LINE]: the site's configuration (defaults: /opt, /var/lib/airlock); one attempt, short
# timeouts, so that the failing cases fail at once.
conf() {
  cat > "$R/etc/airlock/airlock.conf" <<CONF
[app]
name = $E2E_APP
[repository]
urls = $1
${2:-}
retries = 1
connect_timeout = 3
stall_timeout = 10
CONF
}
conf "http://airlock-repo.test:$HTTP_PORT/chroot-$$"
assert_eq "$(cd "$R" && find . -type f | LC_ALL=C sort | tr '\n' ' ')" \
  "./airlock ./etc/airlock/airlock.conf ./etc/airlock/ca.pem ./etc/airlock/root.json ./etc/hosts " "files in the chroot"
in_chroot() { run chroot "$R" /airlock "$@"; }
# an_error WHAT: the last command failed: neither 0 (up to date) nor 10 (update available).
an_error() { case "$rc" in 0 | 10) fail "$1 exits $rc: $out" ;; esac; }

in_chroot init --app "$E2E_APP" --trusted-root /etc/airlock/root.json
assert_eq "$rc" 0 "init in the chroot ($out)"
assert_contains "$out" "initialised $E2E_APP in /opt/$E2E_APP"
[ -f "$R/var/lib/airlock/state.db" ] || fail "init did not create the state database inside the chroot"
update="update available: $E2E_APP (nothing installed) -> 1.0.0 (full)"

# a. A name only /etc/hosts knows.
in_chroot check
assert_eq "$rc" 10 "(a) check over http://airlock-repo.test ($out)"
assert_contains "$out" "$update" "(a)"

# b. HTTPS with the CA inside the chroot.
conf "$AIRLOCK_TEST_HTTPS/chroot-$$" "ca_file = /etc/airlock/ca.pem"
in_chroot check
assert_eq "$rc" 10 "(b) check over $AIRLOCK_TEST_HTTPS with ca_file ($out)"
assert_contains "$out" "$update" "(b)"

# c. A name nobody knows.
conf "http://airlock-nowhere.invalid:$HTTP_PORT/chroot-$$"
in_chroot check
an_error "(c) check against an unresolvable host"
assert_contains "$out" "airlock: error: GET http://airlock-nowhere.invalid:$HTTP_PORT/" "(c)"
assert_contains "$out" "while resolving: airlock-nowhere.invalid" "(c)"

# d. HTTPS without ca_file: there is no system store in the chroot.
conf "$AIRLOCK_TEST_HTTPS/chroot-$$"
in_chroot check
an_error "(d) check over https without a CA"
assert_contains "$out" "the server's certificate is not trusted" "(d)"
assert_contains "$out" "check [repository] ca_file" "(d)"

# e. NSS modules that a static binary cannot load are skipped; files still answers.
printf 'hosts: mdns4_minimal [NOTFOUND=return] resolve [!UNAVAIL=return] sss ldap files dns\n' > "$R/etc/nsswitch.conf"
conf "http://airlock-repo.test:$HTTP_PORT/chroot-$$"
in_chroot check
assert_eq "$rc" 10 "(e) check with an nsswitch.conf naming unavailable modules ($out)"
assert_contains "$out" "$update" "(e)"
rm "$R/etc/nsswitch.conf"

# g. A name with two addresses whose first one refuses: a web server on [::1] only, the name listed with
# 127.0.0.1 too, which the HTTP library sorts first (IPv4 before IPv6). The agent tries the next address.
# (glibc returns the addresses of every matching /etc/hosts line only with "multi on", as Debian's host.conf
# has; without it, the first line's address alone.)
V6_PORT=18477
python3 -m http.server --bind ::1 --directory "$AIRLOCK_TEST_WWW" "$V6_PORT" >"$T/v6.log" 2>&1 &
defer kill "$!"
for _ in $(seq 50); do curl -fsg "http://[::1]:$V6_PORT/chroot-$$/metadata/1.root.json" -o /dev/null && break; sleep 0.1; done
curl -fsg "http://[::1]:$V6_PORT/chroot-$$/metadata/1.root.json" -o /dev/null || fail "(g) the web server on [::1] did not start: $(cat "$T/v6.log")"
printf '::1 airlock-dual.test\n127.0.0.1 airlock-dual.test\n' >> "$R/etc/hosts"
echo "multi on" > "$R/etc/host.conf"
conf "http://airlock-dual.test:$V6_PORT/chroot-$$"
in_chroot check
assert_eq "$rc" 10 "(g) check over a name whose first address refuses ($out)"
assert_contains "$out" "$update" "(g)"
grep -q "GET /chroot-$$/metadata/timestamp.json" "$T/v6.log" || fail "(g) the server on [::1] got no request: $(cat "$T/v6.log")"

# f. DNS through /etc/resolv.conf, from a responder on a loopback address (port 53: root only).
NS=127.77.0.53
cat > "$T/dns.py" <<'PY'
# A DNS responder for one name: A -> the given IPv4 address, no records for other types, NXDOMAIN otherwise.
import socket, struct, sys
addr, name, answer, ready = sys.argv[1], sys.argv[2], socket.inet_aton(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, 53))
open(ready, "w").close()
while True:
    q, peer = s.recvfrom(512)
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode().lower())
        i += 1 + q[i]
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    hit = ".".join(labels) == name
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + answer if hit and qtype == 1 else b""
    flags = 0x8180 if hit else 0x8183  # a response, recursion desired + available; rcode NXDOMAIN if not ours
    s.sendto(struct.pack("!HHHHHH", struct.unpack("!H", q[:2])[0], flags, 1, 1 if rr else 0, 0, 0)
             + q[12:i + 5] + rr, peer)
PY
python3 "$T/dns.py" "$NS" airlock-dns.test 127.0.0.1 "$T/dns.ready" 2>"$T/dns.err" &
dns_pid=$!
defer kill "$dns_pid"
for _ in $(seq 1 50); do
  if [ -f "$T/dns.ready" ] || ! kill -0 "$dns_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -f "$T/dns.ready" ]; then
  printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$NS" > "$R/etc/resolv.conf"
  conf "http://airlock-dns.test:$HTTP_PORT/chroot-$$"
  in_chroot check
  assert_eq "$rc" 10 "(f) check with a name from DNS ($out)"
  assert_contains "$out" "$update" "(f)"
  conf "http://airlock-nowhere.invalid:$HTTP_PORT/chroot-$$"
  in_chroot check
  an_error "(f) check against a name DNS does not know"
  assert_contains "$out" "Host not found: airlock-nowhere.invalid" "(f)"
  rm "$R/etc/resolv.conf"
else
  echo "note: (f) not run: no DNS responder on $NS:53 ($(cat "$T/dns.err"))" >&2
fi
echo ok
