#!/usr/bin/env bash
# Installs the project into a staging prefix and runs systemd-analyze verify
# on every unit there. systemd-analyze only warns about unknown keys and bad
# values, so any output at all fails the check.
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=$(mktemp -d /tmp/chain-stage-XXXXXX)
trap 'rm -rf "$stage"' EXIT
cmake -S . -B build-stage -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTS=OFF \
  -DCMAKE_INSTALL_PREFIX="$stage" >/dev/null
cmake --build build-stage -j "$(nproc)" >/dev/null
cmake --install build-stage >/dev/null
units="$stage/lib/systemd/system"
# a template is verified through an instance of it
out=$(cd "$units" && systemd-analyze verify chaind.service gossipd.service minerd@0-1.service \
  chain.target 2>&1) || true
if [ -n "$out" ]; then
  echo "systemd-analyze verify found problems:"
  echo "$out"
  exit 1
fi
for f in bin/chaind bin/gossipd bin/minerd bin/chain-cli etc/chain/chain.conf lib/sysusers.d/chain.conf; do
  [ -e "$stage/$f" ] || { echo "cmake --install did not install $f"; exit 1; }
done
# every variable a unit sets is one its binary reads (its --help lists it)
for pair in chaind.service:chaind gossipd.service:gossipd minerd@.service:minerd; do
  unit=${pair%%:*} bin=${pair#*:}
  help=$("$stage/bin/$bin" --help)
  for var in $(sed -n 's/^Environment=\([A-Z0-9_]*\)=.*/\1/p' "$units/$unit"); do
    grep -q "env $var\b" <<<"$help" || { echo "$unit sets $var, which $bin does not read"; exit 1; }
  done
done
# the clients' keys are the ones chaind makes in its key directory
keys=$(sed -n 's/^Environment=CHAIND_RPC_KEYS=//p' "$units/chaind.service")
[ -n "$keys" ] || { echo "chaind.service does not say where the keys are (CHAIND_RPC_KEYS)"; exit 1; }
for pair in gossipd.service:GOSSIPD_RPC_KEY:gossip minerd@.service:MINERD_RPC_KEY:miner; do
  IFS=: read -r unit var role <<<"$pair"
  got=$(sed -n "s/^Environment=$var=//p" "$units/$unit")
  [ "$got" = "$keys/$role.key" ] || { echo "$unit: $var is '$got', not $keys/$role.key"; exit 1; }
done
echo "systemd units verified: chaind.service gossipd.service minerd@.service chain.target"
