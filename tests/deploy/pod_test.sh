#!/usr/bin/env bash
# The pod test: two nodes started exactly as the chain-node StatefulSet starts
# its pods (the commands and environment read from deploy/k8s/node.yaml by
# pod_env.py, the key Secret made with chaind --init-rpc-keys and mounted as
# the kubelet mounts it), each pod in a network namespace of its own, so each
# has its own localhost as a pod does; a veth pair joins them and each
# namespace's hosts file gives the headless Service's names. A transaction sent to node 0 must
# be mined there and seen confirmed on node 1.
#   usage: tests/deploy/pod_test.sh [BUILD_DIR]      (root: it makes namespaces)
set -euo pipefail
cd "$(dirname "$0")/../.."
build="$PWD/${1:-build-release}"
export PATH="$build/chaind:$build/gossipd:$build/minerd:$build/cli:$PATH"
work=$(mktemp -d /tmp/chain-pods-XXXXXX)
ns=(chainpod0 chainpod1)
addr=(10.231.0.1 10.231.0.2)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in "${ns[@]}"; do
    ip netns del "$n" 2>/dev/null || true
    rm -rf "/etc/netns/$n"
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "pod test: $*" >&2
  for f in "$work"/*.log; do echo "--- $f"; tail -20 "$f"; done >&2
  exit 1
}

# two hosts joined by a veth pair
for i in 0 1; do
  ip netns add "${ns[$i]}"
  ip -n "${ns[$i]}" link set lo up
  mkdir -p "/etc/netns/${ns[$i]}"
  printf '127.0.0.1 localhost\n%s chain-node-0.chain-node-headless\n%s chain-node-1.chain-node-headless\n' \
    "${addr[0]}" "${addr[1]}" > "/etc/netns/${ns[$i]}/hosts"
done
ip link add cpveth0 type veth peer name cpveth1
for i in 0 1; do
  ip link set "cpveth$i" netns "${ns[$i]}"
  ip -n "${ns[$i]}" addr add "${addr[$i]}/24" dev "cpveth$i"
  ip -n "${ns[$i]}" link set "cpveth$i" up
done

# the Secret chain-rpc-keys, made as docs/DEPLOY.md makes it
chaind --init-rpc-keys "$work/secret" >/dev/null

# each pod's three containers, as the manifest starts them, on its volume and
# the Secret's items it mounts
for i in 0 1; do
  mkdir -p "$work/volume$i"
  while read -r line; do
    eval "words=($line)"
    container=${words[0]}
    vars=()
    cmd=()
    seen_sep=0
    for w in "${words[@]:1}"; do
      if [ "$w" = "--" ]; then seen_sep=1; elif [ $seen_sep -eq 0 ]; then vars+=("$w"); else cmd+=("$w"); fi
    done
    ip netns exec "${ns[$i]}" env -i PATH="$PATH" "${vars[@]}" "${cmd[@]}" \
      >"$work/pod$i-$container.log" 2>&1 &
    pids+=($!)
  done < <(/usr/bin/python3 tests/deploy/pod_env.py deploy/k8s/node.yaml "chain-node-$i" \
             "$work/volume$i" "$work/secret")
done

cli() { # POD ARGS...: chain-cli inside a pod, against its own chaind
  local pod=$1; shift
  ip netns exec "${ns[$pod]}" chain-cli --node http://127.0.0.1:8080 "$@"
}
json() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

for i in 0 1; do
  for _ in $(seq 100); do cli "$i" status >/dev/null 2>&1 && break; sleep 0.1; done
  cli "$i" status >/dev/null || fail "node $i's chaind does not answer"
done
# node 1 knows node 0 through gossipd
for _ in $(seq 150); do
  [ "$(cli 1 --json status | json "['peers']")" -ge 1 ] && break
  sleep 0.2
done
[ "$(cli 1 --json status | json "['peers']")" -ge 1 ] || fail "node 1 has no peer"

albert=$(chain-cli --json address deploy/demo-keys/albert.pem | json "['address']")
txid=$(cli 0 --json send --from deploy/demo-keys/camille.pem --to "$albert" --amount 1 \
       | json "['transaction_hash']")
echo "pod test: sent $txid to node 0"
for _ in $(seq 300); do
  c=$(cli 1 --json tx "$txid" 2>/dev/null | json ".get('confirmations', 0)" 2>/dev/null || echo 0)
  [ "$c" -ge 1 ] && break
  sleep 0.2
done
[ "${c:-0}" -ge 1 ] || fail "node 1 never saw $txid confirmed"
# Both pods mine, as the StatefulSet has it: two blocks found at once leave
# the nodes on equal-work tips, and miners that wait for transactions break
# the tie with the next one. Send small payments until the tips agree.
tip() { cli "$1" --json status | json "['tip']"; }
for round in $(seq 30); do
  [ "$(tip 0)" = "$(tip 1)" ] && break
  echo "pod test: tips differ (a tie between the two miners): one more payment"
  cli 1 send --from deploy/demo-keys/bertrand.pem --to "$albert" --amount 0.01 >/dev/null || true
  for _ in $(seq 50); do [ "$(tip 0)" = "$(tip 1)" ] && break; sleep 0.2; done
done
[ "$(tip 0)" = "$(tip 1)" ] || fail "the nodes never agreed on a tip"
h0=$(cli 0 --json tx "$txid" | json "['block_hash']")
h1=$(cli 1 --json tx "$txid" | json "['block_hash']")
[ "$h0" = "$h1" ] || fail "the nodes put $txid in different blocks ($h0, $h1)"
echo "pod test: $txid mined in block $h0; both nodes at tip $(tip 0)"
