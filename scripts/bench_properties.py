"""Property benchmark of planner.optimize: random small instances per solver against brute force.

Runs ``--instances`` random instances of every public solver (seeded: the same instances on
every run), checks each answer and its weight-scaled (1e-9, 1e9) and column-permuted copies
(``tests/optimize_properties.py``), and prints one JSON object: instances, violations and the
first few violation texts per solver. Zero violations is the goal.

    python scripts/bench_properties.py --instances 10000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.optimize_properties import SOLVERS, draw, invariance_problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=10_000, help="instances per solver")
    parser.add_argument("--solver", choices=SOLVERS, help="only this solver")
    parser.add_argument("--seed", type=int, default=0, help="first instance seed")
    args = parser.parse_args()
    report: dict[str, dict[str, object]] = {}
    for solver in [args.solver] if args.solver else SOLVERS:
        started = time.perf_counter()
        bad: list[str] = []
        failing = 0
        for k in range(args.instances):
            problems = invariance_problems(draw(solver, args.seed + k))
            if problems:
                failing += 1
                bad += [f"seed {args.seed + k}: {text}" for text in problems[:2]]
            if (k + 1) % 1000 == 0:  # progress on stderr, for long runs
                print(json.dumps({solver: {"done": k + 1, "violations": failing}}), file=sys.stderr)
        report[solver] = {
            "instances": args.instances,
            "violations": failing,
            "examples": bad[:5],
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(json.dumps({solver: report[solver]}), file=sys.stderr)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
