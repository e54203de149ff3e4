#!/usr/bin/env bash
# The README's test command: install planner with its test extras, fill the map-asset cache with
# Python (pinned npm tarballs, sha512-verified; no Node needed), then run the whole test suite
# (the real-data tests read ../shared/data when it is there; the tests themselves use no network),
# one pytest worker per core (pytest-xdist), each test module on one worker (its fixtures built once).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e '.[test]'
python -m planner.io.assets || echo "test.sh: map assets not fetched (npm registry unreachable?); the browser tests will skip" >&2
python -m pytest -q -p no:cacheprovider -p no:benchmark -n auto --dist loadfile
