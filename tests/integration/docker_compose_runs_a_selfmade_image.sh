#!/usr/bin/env bash
# The test environment works: a self-made image (docker import of a rootfs holding the static testsvc)
# loads from a `docker save` archive and runs under docker-compose, and the service answers over HTTP.
. "$(dirname "$0")/lib.sh"
need_docker
: "${TESTSVC:?TESTSVC must point at the static testsvc binary}"
port=18091 project=airlocktest$$
img="airlock-testsvc:it-$$"
"$(dirname "$0")/../fixtures/testsvc/make-image.sh" "$TESTSVC" "$img" "v-it-$$" "$T/image.tar" > "$T/id"
docker rmi "$img" >/dev/null
# Load it back from the archive, as airlock will.
docker load -i "$T/image.tar" > "$T/load.out"
assert_contains "$(cat "$T/load.out")" "$img" "docker load output"
mkdir -p "$T/app/data"
cat > "$T/app/docker-compose.yml" <<YML
version: "2.4"
services:
  web:
    image: $img
    network_mode: host
    environment: { SVC_PORT: "$port", SVC_DATA: /data }
    volumes: [ "./data:/data" ]
YML
defer docker rmi -f "$img"
defer docker-compose -p "$project" -f "$T/app/docker-compose.yml" down -t 1
docker-compose -p "$project" -f "$T/app/docker-compose.yml" up -d
ok=
for _ in $(seq 1 50); do
  if body=$(curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null); then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || fail "the service never answered on :$port; logs: $(docker-compose -p "$project" -f "$T/app/docker-compose.yml" logs 2>&1 | tail -5)"
assert_eq "$body" "ok v-it-$$" "health body"
# The container is found by its compose labels, and it wrote to the bind-mounted data dir.
cid=$(docker ps -q --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=web")
[ -n "$cid" ] || fail "no container with the compose labels of project $project"
assert_eq "$(docker inspect -f '{{.State.Status}}' "$cid")" running "container state"
assert_eq "$(cat "$T/app/data/log")" "v-it-$$ started" "data written by the container"
echo "ok: compose ran $img as $cid and it answered '$body'"
