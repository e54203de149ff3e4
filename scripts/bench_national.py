"""Benchmark the national plans: wall time and peak memory of each, one JSON line per plan.

Goals: the US 500k plan (us-nevi) <= 60 s and <= 3 GB; the China plan (china-pile-swap)
<= 90 s and <= 3 GB, on a 2-core machine. Each runs in a fresh child process, one after another.
Run: ``python scripts/bench_national.py [--country us|cn]``.
"""

from __future__ import annotations

import argparse
import json
import sys

from _bench import measure

CASES = {
    "us": (["national", "--country", "us", "--strategy", "us-nevi"], 60, 3072),
    "cn": (["national", "--country", "cn", "--strategy", "china-pile-swap"], 90, 3072),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--country", choices=sorted(CASES), action="append")
    args = parser.parse_args()
    status = 0
    for country in args.country or list(CASES):
        argv, goal_s, goal_mb = CASES[country]
        result = measure(argv)
        result.update({"goal_wall_s": goal_s, "goal_peak_rss_mb": goal_mb})
        ok = result["exit_status"] == 0 and result["wall_s"] <= goal_s
        result["meets_goal"] = ok and result["peak_rss_mb"] <= goal_mb
        print(json.dumps(result), flush=True)
        status |= result["exit_status"] != 0
    return status


if __name__ == "__main__":
    sys.exit(main())
