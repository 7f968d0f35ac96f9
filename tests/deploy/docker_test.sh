#!/usr/bin/env bash
# The image as a pod runs it: builds deploy/Dockerfile, makes a key set with
# chaind --init-rpc-keys, then starts chaind, gossipd and minerd (each with
# its keys) as three containers sharing one network namespace (a pod's
# localhost) on the demo network, waits for mined blocks over HTTP, and
# stops them: each must exit 0 on SIGTERM. Needs a Docker daemon that can
# fetch debian:bookworm-slim, so it is not part of ./test.sh.
#   usage: tests/deploy/docker_test.sh [IMAGE_TAG]
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:-chain-node:test}
port=${DOCKER_TEST_PORT:-18080}
names=(chain-test-chaind chain-test-gossipd chain-test-minerd)
volume=chain-test-data # the pod's volume: the data, and the key set as a Secret holds it
cleanup() {
  docker rm -f "${names[@]}" >/dev/null 2>&1 || true
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

docker build -f deploy/Dockerfile -t "$tag" .
docker volume create "$volume" >/dev/null
docker run --rm -v "$volume:/data" "$tag" chaind --init-rpc-keys /data/rpc >/dev/null
docker run -d --name "${names[0]}" -v "$volume:/data" -p "127.0.0.1:$port:8080" "$tag" \
  chaind --datadir /data/chaind --rpc-keys /data/rpc --http 0.0.0.0:8080 >/dev/null
docker run -d --name "${names[1]}" -v "$volume:/data" --network "container:${names[0]}" "$tag" \
  gossipd --datadir /data/gossipd --rpc-key /data/rpc/gossip.key >/dev/null
docker run -d --name "${names[2]}" -v "$volume:/data:ro" --network "container:${names[0]}" "$tag" \
  minerd --threads 1 --empty-blocks --rpc-key /data/rpc/miner.key >/dev/null

height=0
for _ in $(seq 60); do
  status=$(curl -fsS "http://127.0.0.1:$port/status" 2>/dev/null || true)
  height=$(sed -n 's/.*"height":\([0-9]*\).*/\1/p' <<<"$status")
  [ "${height:-0}" -ge 3 ] && break
  sleep 1
done
[ "${height:-0}" -ge 3 ] || { echo "docker test: no blocks mined in 60 s" >&2; docker logs "${names[2]}" >&2; exit 1; }
echo "docker test: height $height"

docker stop -t 10 "${names[2]}" "${names[1]}" "${names[0]}" >/dev/null
for n in "${names[@]}"; do
  code=$(docker inspect -f '{{.State.ExitCode}}' "$n")
  [ "$code" = 0 ] || { echo "docker test: $n exited $code on SIGTERM" >&2; docker logs "$n" >&2; exit 1; }
done
uid=$(docker run --rm "$tag" id -u)
[ "$uid" != 0 ] || { echo "docker test: the image runs as root" >&2; exit 1; }
echo "docker test: passed (three containers on one localhost, clean exits, uid $uid)"
