#!/usr/bin/env bash
# The shipped scheduling files are usable as they are:
#  1. scripts/systemd/airlock-upgrade.{service,timer}: `systemd-analyze verify` prints nothing about them and
#     exits 0 (ExecStart pointed at the airlock under test, since verify needs an executable); a deliberately
#     broken copy makes verify complain, so the check has teeth on this systemd version. The directives the
#     schedule and the sandbox rely on are there (Persistent=true, RandomizedDelaySec, ProtectSystem=strict,
#     the ExecStart command line, ...), and the agent accepts that command line.
#  2. scripts/cron/airlock: every line is a comment, an environment assignment or a job with 5 valid time
#     fields, user root and the airlock command, which the agent accepts once its path is substituted.
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SERVICE=$SRC/scripts/systemd/airlock-upgrade.service
TIMER=$SRC/scripts/systemd/airlock-upgrade.timer
CRON=$SRC/scripts/cron/airlock
EXEC='/usr/local/bin/airlock upgrade --cron --max-delay 0'

# The agent accepts the options of a command line (it parses them before it reads the configuration, so a
# missing configuration file is the expected complaint, an unknown option is not).
accepts_options() {
  run "$AIRLOCK" "$@" --config "$T/missing.conf"
  assert_eq "$rc" 2 "'airlock $*' with a missing configuration ($out)"
  assert_contains "$out" "missing.conf does not exist" "'airlock $*'"
  ! grep -q "unknown option" <<<"$out" || fail "'airlock $*' has an unknown option: $out"
}

# ---- 1. the systemd units
svc=$(cat "$SERVICE") tmr=$(cat "$TIMER")
has() { grep -qxE -- "$2" <<<"$1" || fail "$3 has no line matching '$2'"; }
has "$svc" "ExecStart=$EXEC" "the service"
has "$svc" "Type=oneshot" "the service"
has "$svc" "After=.*docker\.service.*" "the service"
has "$svc" "After=.*network-online\.target.*" "the service"
has "$svc" "Wants=network-online\.target" "the service"
for d in "ProtectSystem=strict" "ReadWritePaths=.*/var/lib/airlock.*" "ReadWritePaths=.*/opt( .*|$)" \
  "PrivateTmp=yes" "NoNewPrivileges=yes" "ProtectHome=(read-only|yes)" "RestrictNamespaces=yes" \
  "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK" "SystemCallArchitectures=native" \
  "UMask=0027" "TimeoutStartSec=.+" "KillMode=.+" "KillSignal=.+"; do
  has "$svc" "$d" "the service"
done
has "$tmr" "OnCalendar=.+" "the timer"
has "$tmr" "RandomizedDelaySec=.+" "the timer"
has "$tmr" "AccuracySec=.+" "the timer"
has "$tmr" "Persistent=true" "the timer"
has "$tmr" "WantedBy=timers\.target" "the timer"
# verify ignores a misspelt capability name quietly; systemd-analyze knows them (systemd >= 251).
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$SERVICE")
if [ -n "$caps" ] && systemd-analyze capability CAP_CHOWN >/dev/null 2>&1; then
  for c in $caps; do
    systemd-analyze capability "${c#\~}" >/dev/null 2>&1 || fail "CapabilityBoundingSet= names an unknown capability $c"
  done
fi
read -ra argv <<<"${EXEC#/usr/local/bin/airlock }"
accepts_options "${argv[@]}"

# verify needs the ExecStart binary to exist: the copies run the airlock under test instead.
[ -x "$AIRLOCK" ] || fail "AIRLOCK=$AIRLOCK is not executable"
U=$T/units
mkdir -p "$U"
sed "s#^ExecStart=/usr/local/bin/airlock #ExecStart=$AIRLOCK #" "$SERVICE" > "$U/airlock-upgrade.service"
cp "$TIMER" "$U/airlock-upgrade.timer"
grep -qx "ExecStart=$AIRLOCK upgrade --cron --max-delay 0" "$U/airlock-upgrade.service" || fail "ExecStart not substituted"
# Only what verify says about these units counts; a host may have unrelated complaints about its own units.
verify() {
  set +e
  out=$(cd "$U" && systemd-analyze verify "$@" 2>&1)
  rc=$?
  set -e
  ours=$(grep -E "airlock-upgrade|broken|$U" <<<"$out" || true)
  others=$(grep -vE "airlock-upgrade|broken|$U" <<<"$out" || true)
  [ -z "$others" ] || echo "note: systemd-analyze verify also said (not about these units): $others" >&2
}
verify ./airlock-upgrade.service ./airlock-upgrade.timer
assert_eq "$rc" 0 "systemd-analyze verify exit code ($out)"
assert_eq "$ours" "" "systemd-analyze verify output about the units"

# The check catches broken units: a misspelt directive, a bad value, a missing binary, a bad calendar.
broken() { # SED-EXPRESSION FILE
  local ext=${2##*.}
  sed "$1" "$U/$2" > "$U/broken.$ext"
  [ "$ext" = timer ] && sed -i 's/^Unit=.*/Unit=airlock-upgrade.service/' "$U/broken.$ext"
  verify "./broken.$ext"
  rm -f "$U/broken.$ext"
  [ "$rc" != 0 ] || [ -n "$ours" ] || fail "systemd-analyze verify accepted a broken unit ($1 on $2)"
}
broken 's/^ProtectSystem=strict/ProtectSytem=strict/' airlock-upgrade.service
broken 's/^RestrictNamespaces=yes/RestrictNamespaces=perhaps/' airlock-upgrade.service
broken "s#^ExecStart=$AIRLOCK #ExecStart=$T/no-such-airlock #" airlock-upgrade.service
broken 's/^OnCalendar=.*/OnCalendar=*-*-* 25:00:00/' airlock-upgrade.timer

# ---- 2. the cron example
base=$(basename "$CRON")
[[ "$base" =~ ^[A-Za-z0-9_-]+$ ]] || fail "cron ignores /etc/cron.d files named like '$base' (no dots allowed)"
in_range() { # FIELD MIN MAX: *, N, N-M, lists and /steps, every number within MIN..MAX
  local part n parts nums
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    [[ "$part" =~ ^(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?$ ]] || return 1
    [ "${part%%/*}" != '*' ] || continue
    IFS=- read -ra nums <<<"${part%%/*}"
    for n in "${nums[@]}"; do
      [ "$((10#$n))" -ge "$2" ] && [ "$((10#$n))" -le "$3" ] || return 1
    done
  done
}
jobs=0 path=
while IFS= read -r line; do
  [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
  if [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
    [ "${BASH_REMATCH[1]}" != PATH ] || path=${BASH_REMATCH[2]}
    continue
  fi
  read -r mi ho dom mon dow user cmd <<<"$line"
  [ -n "$cmd" ] || fail "cron line without a command (5 time fields, user, command): $line"
  in_range "$mi" 0 59 || fail "bad minute field '$mi': $line"
  in_range "$ho" 0 23 || fail "bad hour field '$ho': $line"
  in_range "$dom" 1 31 || fail "bad day-of-month field '$dom': $line"
  in_range "$mon" 1 12 || fail "bad month field '$mon': $line"
  in_range "$dow" 0 7 || fail "bad day-of-week field '$dow': $line"
  assert_eq "$user" root "the cron job's user"
  read -ra argv <<<"$cmd"
  assert_eq "${argv[0]}" /usr/local/bin/airlock "the cron job's program"
  assert_eq "${argv[1]} ${argv[2]}" "upgrade --cron" "the cron job's command"
  # The command exists and accepts these options once its path is the airlock under test.
  [ -x "$AIRLOCK" ] || fail "$AIRLOCK is not executable"
  accepts_options "${argv[@]:1}"
  jobs=$((jobs + 1))
done < "$CRON"
assert_eq "$jobs" 1 "job lines in the cron example"
# cron's own PATH (/usr/bin:/bin) misses docker under /usr/local/bin; the agent runs docker by name.
for d in /usr/local/bin /usr/bin /bin; do
  [[ ":$path:" == *":$d:"* ]] || fail "the cron example's PATH lacks $d: '$path'"
done
[ -z "$(tail -c1 "$CRON")" ] || fail "the cron example does not end with a newline (cron ignores the last line)"
echo ok
