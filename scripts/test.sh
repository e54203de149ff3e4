#!/usr/bin/env bash
# The README's test command: install planner with its test extras and the offline map assets,
# then run the whole test suite (the real-data tests read ../shared/data when it is there).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e '.[test]'
bash scripts/install_assets.sh >/dev/null
python -m pytest -q -p no:cacheprovider
