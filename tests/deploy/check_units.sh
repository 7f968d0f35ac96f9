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
echo "systemd units verified: chaind.service gossipd.service minerd@.service chain.target"
