#!/usr/bin/env bash
# Image loads for a first install (issue 16, item 4):
#   scripts/bench/load.sh        (needs a docker engine at DOCKER_HOST, docker-compose, python3, sqlite3)
# The agent's image step of `airlock import --stage-only` of a full bundle into an engine holding none of the
# image's layers, against plain `docker load -i` of the same image in the same run, alternating, each after
# `docker rmi`: the `docker save` archive as it is (uncompressed) and gzipped (`docker save | gzip -1`). The image
# is the static test service plus BENCH_LOAD_MIB (default 256) of random bytes in its base layer. For the agent it
# reports each part from its JSON log (<state>/airlock.jsonl): the fetch step (verifying the blobs from the bundle
# into downloads/), and of the load step the prepare (asking the engine what it holds), assemble (reading the
# blobs, writing the archive) and engine (docker load) times, and the median of BENCH_RUNS runs of the load step
# and of fetch + load against docker load (goal: load step at most BENCH_LOAD_MAX_RATIO, default 1.0, of
# `docker load` of the uncompressed archive). Then the load step again with the image present (no load).
# Common environment (AIRLOCK_BUILD_DIR, BENCH_DIR, BENCH_KEEP, BENCH_RUNS): scripts/bench/lib.sh.
BENCH_LOAD_MIB=${BENCH_LOAD_MIB:-256}
BENCH_LOAD_MAX_RATIO=${BENCH_LOAD_MAX_RATIO:-1.0}
BENCH_DIR=${BENCH_DIR:-/var/tmp/airlock-bench-load}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# The `ms` of the last step-done event of step $2 in the JSON log $1; with $3, the field $3 of the last
# image-loaded event instead.
log_ms() {
  python3 - "$@" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
if len(sys.argv) > 3:
    print([r for r in rows if r.get("event") == "image-loaded"][-1][sys.argv[3]])
else:
    print([r["ms"] for r in rows if r.get("event") == "step-done" and r.get("step") == sys.argv[2]][-1])
PY
}

bench_load() {
  say "image load: airlock import --stage-only (fetch + load steps) vs docker load, ${BENCH_LOAD_MIB} MiB image"
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no docker engine at ${DOCKER_HOST:-the default socket}"
  local testsvc=$BUILD_DIR/tests/testsvc
  [ -x "$testsvc" ] || die "no $testsvc (build the x86_64 tree with tests)"
  fail() { die "$*"; }
  export AIRLOCK AIRLOCK_BUNDLE=$BUNDLE_TOOL TESTSVC=$testsvc E2E=$BENCH_DIR/load E2E_APP=benchload E2E_PORT=18290
  export IMAGE_PAD_MIB=$BENCH_LOAD_MIB
  rm -rf "$E2E"
  # shellcheck source=../../tests/fixtures/e2e/site.sh
  . "$root/tests/fixtures/e2e/site.sh"
  trap 'e2e_cleanup; cleanup' EXIT
  e2e_release 1.0.0
  local bundle image=benchload-web:1.0.0 id
  bundle=$(e2e_bundle 1.0.0)
  e2e_init
  local tar=$E2E/image.tar gz=$E2E/image.tar.gz
  docker save "$image" -o "$tar"
  gzip -1 <"$tar" >"$gz"
  id=$(docker image inspect -f '{{.Id}}' "$image")
  echo "image:    $image $id; docker save archive $(mib "$(stat -c %s "$tar")") MiB, gzip -1 $(mib "$(stat -c %s "$gz")") MiB; bundle $(mib "$(stat -c %s "$bundle")") MiB"
  echo "commands: docker load -q -i $tar | docker load -q -i $gz | airlock import BUNDLE --stage-only --yes --config CONF"
  cat "$tar" "$gz" "$bundle" >/dev/null
  # Removes the image and the base image holding its padded layer (tests/fixtures/testsvc/make-image.sh), so
  # that every load starts from an engine without any of its layers.
  local base_layer
  base_layer=$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$image")
  forget() {
    docker rmi -f "$image" >/dev/null 2>&1 || true
    local b
    for b in $(docker images --format '{{.Repository}}:{{.Tag}}' airlock-testsvc-base); do
      [ "$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$b")" != "$base_layer" ] || docker rmi -f "$b" >/dev/null
    done
  }
  local i t0 t1 dt=() dg=() al=() af=() ms fms log=$E2E/site/state/airlock.jsonl
  for i in $(seq 1 "$BENCH_RUNS"); do
    forget
    t0=$(now); docker load -q -i "$tar" >/dev/null; t1=$(now)
    dt+=("$(calc "$t1 - $t0")")
    forget
    t0=$(now); docker load -q -i "$gz" >/dev/null; t1=$(now)
    dg+=("$(calc "$t1 - $t0")")
    forget
    "$AIRLOCK" import "$bundle" --stage-only --yes --config "$E2E_CONF" >"$E2E/import.$i.log" 2>&1 \
      || { cat "$E2E/import.$i.log" >&2; die "airlock import --stage-only failed"; }
    ms=$(log_ms "$log" load) fms=$(log_ms "$log" fetch)
    al+=("$(calc "$ms / 1000")") af+=("$(calc "($ms + $fms) / 1000")")
    echo "run $i: docker load tar ${dt[-1]} s, tar.gz ${dg[-1]} s; airlock fetch $(calc "$fms / 1000") s," \
      "load $(calc "$ms / 1000") s (prepare $(log_ms "$log" - prepare_ms) ms, assemble $(log_ms "$log" - assemble_ms) ms," \
      "engine $(log_ms "$log" - engine_ms) ms, archive $(log_ms "$log" - archive_bytes) bytes)"
  done
  local mdt mdg mal maf
  mdt=$(median "${dt[@]}") mdg=$(median "${dg[@]}") mal=$(median "${al[@]}") maf=$(median "${af[@]}")
  say "image load: results (median of $BENCH_RUNS)"
  echo "| contender | wall (s) | ratio to docker load of the tar |"
  echo "| --- | ---: | ---: |"
  echo "| docker load -i image.tar (docker save) | $mdt | 1 |"
  echo "| docker load -i image.tar.gz (docker save \| gzip -1) | $mdg | $(calc "$mdg / $mdt") |"
  echo "| airlock load step | $mal | $(calc "$mal / $mdt") |"
  echo "| airlock fetch + load steps | $maf | $(calc "$maf / $mdt") |"
  if awk "BEGIN { exit !($mal / $mdt > $BENCH_LOAD_MAX_RATIO) }"; then
    echo "GOAL MISSED: the load step is $(calc "$mal / $mdt")x docker load (goal at most $BENCH_LOAD_MAX_RATIO)"
  else
    echo "goal met: the load step is $(calc "$mal / $mdt")x docker load (goal at most $BENCH_LOAD_MAX_RATIO)"
  fi
  "$AIRLOCK" import "$bundle" --stage-only --yes --config "$E2E_CONF" >"$E2E/present.log" 2>&1 || die "import with the image present failed"
  ms=$(log_ms "$log" load)
  echo "present:  load step with the image already in the engine: $(calc "$ms / 1000") s"
}

need_tools
setup_dir
machine
bench_load
