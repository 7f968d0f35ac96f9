#!/usr/bin/env bash
# Runs every test: a release build and an ASan+UBSan build, each with all
# criterion tests (ctest); the explorer's browser tests; checks of the
# systemd units and Kubernetes manifests; the pod test and the capture of an
# rpc link (as root); every fuzz target for FUZZ_SECONDS (default 30); then a
# chaos soak of SOAK_SECONDS (default 60; seed SOAK_SEED, or a random one)
# with real daemons (docs/RELIABILITY.md).
# Installs the Debian packages it needs first, as run-node.sh does
# (.ci/install-packages: the list in .ci/packages, with sudo unless root).
set -euo pipefail
cd "$(dirname "$0")"
jobs=$(nproc)

.ci/install-packages
for v in vectors.json:CHAIN_VECTORS vectors-ed25519.json:CHAIN_VECTORS_ED25519; do
  file=${v%%:*} var=${v#*:}
  if [ ! -f "../shared/$file" ] && [ -z "${!var:-}" ]; then
    echo "../shared/$file is missing (or set $var): the tests check every vector in it" >&2
    exit 1
  fi
done

run_suite() { # name, cmake flags...
  local dir="build-$1"; shift
  echo "== $dir: configure and build"
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  echo "== $dir: tests"
  (cd "$dir" && ctest --output-on-failure -j "$jobs")
}

run_suite release -DCMAKE_BUILD_TYPE=Release
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_suite sanitize -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON
echo "== browser tests: the block explorer in Chromium against a real node"
tests/browser/run.sh build-release
echo "== deployment files: systemd units and Kubernetes manifests"
tests/deploy/check_units.sh
/usr/bin/python3 tests/deploy/check_manifests.py build-release
# network namespaces and packet captures need root; as another user these
# run through sudo
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
echo "== pod test: two nodes started as the manifests start them"
as_root tests/deploy/pod_test.sh build-release
echo "== capture: a tcp:// rpc link carries no transaction byte in clear (tshark)"
as_root build-release/tests/test_capture --jobs 1 --short-filename
echo "== fuzz smoke run: ${FUZZ_SECONDS:-30} s a target"
tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"
# last: it fails until issue 9's fixes and the /utxo-set and ?format=hex routes land
echo "== soak: a chaos round, 4 nodes in a ring with SIGKILLs, partitions and racing miners"
/usr/bin/python3 tests/soak/test_replay.py build-release
/usr/bin/python3 tests/soak/test_report.py
/usr/bin/python3 tests/soak/soak.py --build build-release --seconds "${SOAK_SECONDS:-60}" \
  ${SOAK_SEED:+--seed "$SOAK_SEED"}
echo "all tests passed"
