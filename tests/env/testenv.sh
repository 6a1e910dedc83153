#!/usr/bin/env bash
# Test-environment helper: a private dockerd and an nginx on loopback, for the tests that need real parts.
#
#   tests/env/testenv.sh start     start both (idempotent); prints the environment to source
#   tests/env/testenv.sh start-docker   only dockerd (the demo)
#   tests/env/testenv.sh stop      stop both and remove containers; always safe to call
#   tests/env/testenv.sh env       print "export ..." lines for DOCKER_HOST and the nginx URLs
#
# State lives in $AIRLOCK_TESTENV (default /tmp/airlock-testenv). ctest runs start as a FIXTURES_SETUP test and
# stop as a FIXTURES_CLEANUP test, so the services stop even when tests fail; scripts/test.sh also stops them
# from an EXIT trap. With CI=true a docker engine that will not start fails `start`; elsewhere it is recorded
# in $AIRLOCK_TESTENV/docker.unavailable and the docker tests skip (exit 77) with that reason.
set -euo pipefail
D=${AIRLOCK_TESTENV:-/tmp/airlock-testenv}
HTTP_PORT=${AIRLOCK_TEST_HTTP_PORT:-18080}
HTTPS_PORT=${AIRLOCK_TEST_HTTPS_PORT:-18443}
log() { printf '[testenv] %s\n' "$*" >&2; }

print_env() {
  echo "export DOCKER_HOST=unix://$D/docker.sock"
  echo "export AIRLOCK_TEST_WWW=$D/www"
  echo "export AIRLOCK_TEST_HTTP=http://127.0.0.1:$HTTP_PORT"
  echo "export AIRLOCK_TEST_HTTPS=https://localhost:$HTTPS_PORT"
  echo "export AIRLOCK_TEST_CA=$D/tls/ca.pem"
}

docker_up() { DOCKER_HOST=unix://$D/docker.sock timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start_docker() {
  if docker_up; then log "dockerd: already running"; return 0; fi
  rm -f "$D/docker.unavailable"
  mkdir -p "$D/docker-data" "$D/docker-exec"
  log "dockerd: starting (log: $D/dockerd.log)"
  # Flags from DESIGN.md: no iptables and no bridge here, so containers use network_mode: host.
  setsid dockerd --iptables=false --ip6tables=false --bridge=none \
    --host "unix://$D/docker.sock" --data-root "$D/docker-data" --exec-root "$D/docker-exec" \
    --pidfile "$D/dockerd.pid" >"$D/dockerd.log" 2>&1 < /dev/null &
  local i
  for i in $(seq 1 60); do
    docker_up && { log "dockerd: ready"; return 0; }
    sleep 0.5
  done
  local why="dockerd did not answer on $D/docker.sock within 30 s; last log lines: $(tail -5 "$D/dockerd.log" 2>/dev/null | tr '\n' ' ')"
  if [ "${CI:-}" = true ]; then log "FAIL: $why"; return 1; fi
  echo "$why" > "$D/docker.unavailable"
  log "WARNING: $why -- docker tests will be skipped (they fail under CI=true)"
}

make_tls() { # a throwaway CA and a server certificate for localhost/127.0.0.1
  [ -f "$D/tls/server.pem" ] && return 0
  mkdir -p "$D/tls"; (
    cd "$D/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=airlock test CA" \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
      -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile san.ext \
      -out server.pem 2>/dev/null )
}

nginx_up() { [ -f "$D/nginx.pid" ] && kill -0 "$(cat "$D/nginx.pid")" 2>/dev/null; }

start_nginx() {
  if nginx_up; then log "nginx: already running"; return 0; fi
  make_tls
  mkdir -p "$D/www" "$D/nginx-tmp"
  cat > "$D/nginx.conf" <<NGINX
daemon on;
pid $D/nginx.pid;
error_log $D/nginx-error.log;
worker_processes 1;
events { worker_connections 256; }
http {
  access_log $D/nginx-access.log;
  client_body_temp_path $D/nginx-tmp; proxy_temp_path $D/nginx-tmp; fastcgi_temp_path $D/nginx-tmp;
  uwsgi_temp_path $D/nginx-tmp; scgi_temp_path $D/nginx-tmp;
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:$HTTP_PORT;
    listen 127.0.0.1:$HTTPS_PORT ssl;
    server_name localhost;
    ssl_certificate $D/tls/server.pem;
    ssl_certificate_key $D/tls/server.key;
    root $D/www;
    location / { autoindex off; }
  }
}
NGINX
  nginx -c "$D/nginx.conf" -e "$D/nginx-error.log"
  log "nginx: serving $D/www on 127.0.0.1:$HTTP_PORT (http) and :$HTTPS_PORT (https)"
}

stop_all() {
  if docker_up; then
    local ids
    ids=$(DOCKER_HOST=unix://$D/docker.sock docker ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || DOCKER_HOST=unix://$D/docker.sock docker rm -f $ids >/dev/null 2>&1 || true
  fi
  if [ -f "$D/dockerd.pid" ]; then
    local pid; pid=$(cat "$D/dockerd.pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
      log "dockerd: stopped"
    fi
    rm -f "$D/dockerd.pid"
  fi
  if nginx_up; then
    nginx -c "$D/nginx.conf" -e "$D/nginx-error.log" -s stop 2>/dev/null || kill "$(cat "$D/nginx.pid")" 2>/dev/null || true
    log "nginx: stopped"
  fi
  # dockerd started its own containerd; it exits with dockerd, but make sure no shim outlives the run.
  pkill -f "containerd-shim.*$D/docker-exec" 2>/dev/null || true
}

case ${1:-} in
  start) mkdir -p "$D"; start_docker; start_nginx; print_env > "$D/env.sh" ;;
  start-docker) mkdir -p "$D"; start_docker; print_env > "$D/env.sh" ;;
  stop) stop_all ;;
  env) print_env ;;
  *) echo "usage: $0 start|start-docker|stop|env" >&2; exit 2 ;;
esac
