#!/usr/bin/env bash
# Install the pinned offline map assets (Leaflet, plugins, CSS, fonts) into the per-user cache
# (~/.cache/planner/assets) with Python: no Node or npm needed. Equivalent: python -m planner.io.assets
set -euo pipefail
cd "$(dirname "$0")/.."
python -m planner.io.assets
