#!/usr/bin/env bash
# The main job: a demo update of a sample stack on a local docker engine.
# The update pipeline (`airlock import`) is not implemented yet; until it is, this builds the binaries and
# shows the parts that exist: a signed repository, a bundle, and its verification by the agent.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
scripts/bootstrap.sh all
scripts/build.sh x86_64 >/dev/null
B=build/x86_64
work=$(mktemp -d /tmp/airlock-demo.XXXXXX); trap 'rm -rf "$work"' EXIT
echo "== keys and a repository for app 'demo'"
for k in root targets snapshot timestamp; do $B/bundle-tool/airlock-bundle key generate --out "$work/$k.pem" >/dev/null; done
$B/bundle-tool/airlock-bundle repo init "$work/repo" --app demo --root-key "$work/root.pem" \
  --targets-key "$work/targets.pem" --snapshot-key "$work/snapshot.pem" --timestamp-key "$work/timestamp.pem"
mkdir -p "$work/src"
printf 'services:\n  web:\n    image: demo/web:1.0.0\n    network_mode: host\n' > "$work/src/docker-compose.yml"
printf '{"version": "1.0.0"}\n' > "$work/src/airlock-release.json"
keys=(--key "$work/targets.pem" --key "$work/snapshot.pem" --key "$work/timestamp.pem")
$B/bundle-tool/airlock-bundle release add "$work/repo" "$work/src" --arch x86_64 "${keys[@]}"
$B/bundle-tool/airlock-bundle bundle export "$work/repo" --version 1.0.0 --arch x86_64 --out "$work/demo-1.0.0.airlock"
echo "== the agent verifies the bundle"
$B/agent/airlock verify "$work/demo-1.0.0.airlock" --trusted-root "$work/repo/metadata/1.root.json"
echo
echo "not yet: installing and updating a running stack (airlock import) arrives with the update-pipeline issue."
