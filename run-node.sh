#!/usr/bin/env bash
# Builds and starts a local node: demo network, data in ./data, HTTP API on
# 127.0.0.1:8080 (the block explorer at http://127.0.0.1:8080/). Installs
# missing Debian packages first (.ci/install-packages, as test.sh does).
# Ctrl-C stops every daemon it started.
set -euo pipefail
cd "$(dirname "$0")"

.ci/install-packages

echo "building (build-release/)..."
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTS=OFF >/dev/null
cmake --build build-release -j "$(nproc)" >/dev/null

mkdir -p data
pids=()
stop() {
  trap - INT TERM
  [ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null || true
  wait
}
trap stop INT TERM

# chaind first: at its first start it makes the control plane's keys in
# data/chaind/rpc, which gossipd and minerd present on its tcp:// sockets
keys=./data/chaind/rpc
build-release/chaind/chaind --network demo --datadir ./data/chaind --http 127.0.0.1:8080 &
pids+=($!)
for _ in $(seq 100); do
  [ -f "$keys/gossip.key" ] && [ -f "$keys/miner.key" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "chaind did not start"; exit 1; }
  sleep 0.1
done
[ -f "$keys/miner.key" ] || { echo "chaind made no keys in $keys"; stop; exit 1; }
for daemon in gossipd minerd; do
  if [ -x "build-release/$daemon/$daemon" ]; then
    case $daemon in
      gossipd) "build-release/$daemon/$daemon" --network demo --datadir ./data/gossipd \
                 --rpc-key "$keys/gossip.key" & ;;
      minerd)  "build-release/$daemon/$daemon" --network demo --rpc-key "$keys/miner.key" & ;;
    esac
    pids+=($!)
  fi
done

cat <<MSG

A local node is starting (demo network, data in ./data). Open the block
explorer at http://127.0.0.1:8080/ in a browser, or look at it with:
  curl localhost:8080/block            the chain, newest first
  curl localhost:8080/status           height, tip, mempool, peers, hash rate
  build-release/cli/chain-cli address deploy/demo-keys/camille.pem    camille's address
  curl localhost:8080/utxo/ADDRESS     her coins
Ctrl-C stops it.

MSG
wait
