#!/usr/bin/env bash
# Runs every test: a release build and an ASan+UBSan build, each with all
# criterion tests (ctest); the explorer's browser tests; checks of the
# systemd units and Kubernetes manifests; the pod test and the capture of an
# rpc link (as root); then every fuzz target for FUZZ_SECONDS (default 30).
# Needs the Debian packages in .ci/packages (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")"
jobs=$(nproc)

missing=()
while read -r pkg; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < <(grep -v '^#' .ci/packages)
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}  (or run .ci/run)" >&2
  exit 1
fi
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
echo "all tests passed"
