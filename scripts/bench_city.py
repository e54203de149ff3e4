"""Benchmark the city pipeline on Columbus, Ohio: wall time and peak memory, printed as JSON.

Goal (issue: city-scale siting): at most 20 s on a 2-core machine for
``planner plan --osm ../shared/data/osm/us_columbus_oh.osm.pbf --sites 25 --radius-km 3``.
Run: ``python scripts/bench_city.py``.
"""

from __future__ import annotations

import json
import sys

from _bench import SHARED, measure


def main() -> int:
    osm = SHARED / "osm" / "us_columbus_oh.osm.pbf"
    if not osm.exists():
        print(json.dumps({"error": f"{osm} not found"}))
        return 1
    result = measure(["plan", "--osm", str(osm), "--sites", "25", "--radius-km", "3"])
    result["goal_wall_s"] = 20
    result["meets_goal"] = result["exit_status"] == 0 and result["wall_s"] <= 20
    print(json.dumps(result))
    return 0 if result["exit_status"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
