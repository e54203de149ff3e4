#!/usr/bin/env bash
# The README's test command: install planner with its test extras (and the offline map assets), run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e '.[test]'
python -m pytest -q
