#!/usr/bin/env bash
# Install the pinned offline map assets (Leaflet, plugins, CSS, fonts) from package-lock.json into
# node_modules/, for maps written with --offline-assets. Needs node/npm and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "install_assets.sh: npm not found; install Node.js (Debian: apt-get install npm)" >&2
  exit 1
fi
npm ci --no-audit --no-fund
