#!/usr/bin/env bash
# The explorer's browser tests: a real chaind and minerd (regtest, loopback
# ports) from the build directory, and Debian's Chromium driven by
# playwright-core, which `npm ci` installs from package-lock.json (it
# downloads no browser). Screenshots go to BUILD_DIR/browser-artifacts/.
#
#   tests/browser/run.sh [BUILD_DIR]     (default: build-release)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$here/../.." && realpath "${1:-build-release}")
for bin in chaind/chaind minerd/minerd cli/chain-cli; do
  [ -x "$build/$bin" ] || { echo "no $build/$bin: build first" >&2; exit 1; }
done
[ -x /usr/bin/chromium ] || { echo "needs Debian's Chromium: apt-get install chromium" >&2; exit 1; }
# playwright-core is pinned to 1.61, the last that runs on Node.js 18:
# Debian 12's own nodejs (with npm, a package of its own there), as well as
# NodeSource's (which bundles npm). .ci/install-packages installs either.
command -v npm >/dev/null && node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)' ||
  { echo "needs Node.js 18 or later with npm (node: $(node --version 2>&1)); run" \
         ".ci/install-packages" >&2; exit 1; }
cd "$here"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
rm -rf "$build/browser-artifacts"
CHAIN_BUILD_DIR="$build" node --test --test-reporter=spec explorer.test.mjs
