"""Capacitated benchmark cases of ``scripts/bench_optimizer.py`` (not tests: nothing asserts).

* ``pmedcap``  OR-Library pmedcap1 (Osman and Christofides, 20 single-source instances, 50 and
  100 points): objective vs the published optimum, certified gap and seconds per instance,
  ``method="auto"`` and ``method="heuristic"``;
* ``capacitated-random`` seeded random capacitated MCLP and set cover up to 2,000 x 500, the
  default engine against HiGHS branch-and-bound on the same instance in the same run (share of
  equal objectives, worst gap to the exact answer, certified gaps); ``capacitated-random-mclp``
  and ``capacitated-random-cover`` run one model only.

The instance file and the optima live in ``benchmarks/orlib`` (see its README). Run one model
or size of ``capacitated-random`` alone: ``python scripts/_bench_capacitated.py --model cover
--size 1000x250`` (one JSON line); ``--seed 2`` runs one layout seed.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ORLIB = ROOT / "benchmarks" / "orlib"
#: Random capacitated instances: (demand rows, candidates, p, layout seeds).
RANDOM_SIZES = ((500, 100, 10), (1_000, 250, 20), (2_000, 500, 40))
RANDOM_SEEDS = (0, 1, 2, 3, 4)
#: Wall-clock limit of each exact HiGHS run (its status says when it stopped there): modest,
#: as 30 instances x 2 models run in one go on a shared machine.
EXACT_LIMIT_S = 30.0


def read_optima(path: Path = ORLIB / "pmedcap1_optima.csv") -> dict[str, float]:
    """Published optima by instance name."""
    with path.open(newline="") as handle:
        return {row["instance"]: float(row["optimum"]) for row in csv.DictReader(handle)}


def case_pmedcap(data: Path) -> dict[str, Any]:
    """pmedcap1-20, single source, ``auto`` and ``heuristic``: gap to the published optimum."""
    from planner.optimize import solve_capacitated_p_median
    from tests.optimize_instances import read_orlib_pmedcap

    instances = read_orlib_pmedcap(ORLIB / "pmedcap1.txt")
    optima = read_optima()
    warm = instances[0]  # compiles the kernels (cached on disk) outside the timed runs
    solve_capacitated_p_median(warm.cost, warm.demand, warm.capacity, warm.p, method="heuristic")
    out: dict[str, Any] = {}
    for method in ("auto", "heuristic"):
        rows = []
        for inst in instances:
            cpu = time.process_time()
            res = solve_capacitated_p_median(
                inst.cost, inst.demand, inst.capacity, inst.p, method=method
            )
            cpu = time.process_time() - cpu
            best = optima[inst.name]
            rows.append(
                {
                    "instance": inst.name,
                    "optimum": best,
                    "objective": res.objective,
                    "bound": res.bound,
                    "gap_to_opt_pct": round(100 * (res.objective - best) / best, 4),
                    "certified_gap_pct": round(100 * res.gap, 3),
                    "seconds": round(res.seconds, 2),
                    "cpu_seconds": round(cpu, 2),
                    "engine": f"{res.method}/{res.status}",
                }
            )
        gaps = [r["gap_to_opt_pct"] for r in rows]
        out[method] = {
            "mean_gap_pct": round(float(np.mean(gaps)), 4),
            "max_gap_pct": max(gaps),
            "optimum_found": sum(g == 0 for g in gaps),
            "mean_certified_gap_pct": round(
                float(np.mean([r["certified_gap_pct"] for r in rows])), 3
            ),
            "max_seconds": max(r["seconds"] for r in rows),
            "max_cpu_seconds": max(r["cpu_seconds"] for r in rows),
            "cpu_seconds": round(sum(r["cpu_seconds"] for r in rows), 1),
            "instances": rows,
        }
    return out


def _random_instance(m: int, n: int, seed: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """Uniform points in a 30 km square, 4 km radius, lognormal weights, capacities that bind
    (each site can serve about 60 % of what it covers on average)."""
    from planner.optimize import coverage_from_points
    from tests.optimize_instances import uniform_layout

    layout = uniform_layout(m, n, side_m=30_000.0, seed=seed)
    coverage = coverage_from_points(layout.demand_xy, layout.cand_xy, radius_m=4_000.0)
    offered = np.asarray(coverage.T @ layout.weights).ravel()
    rng = np.random.default_rng(seed)
    capacity = 0.6 * float(offered.mean()) * rng.uniform(0.5, 1.5, n)
    return coverage, layout.weights, capacity


def _solve_random(
    model: str, instance: tuple[Any, np.ndarray, np.ndarray], p: int, method: str
) -> Any:
    """Capacitated MCLP with ``p`` sites, or set cover of 90 % of the weight (the exact runs
    within :data:`EXACT_LIMIT_S`: a 500 x 100 cover took HiGHS 31-117 s on a loaded machine)."""
    from planner.optimize import solve_capacitated_max_coverage, solve_capacitated_set_cover

    coverage, w, cap = instance
    limit = EXACT_LIMIT_S if method == "exact" else None
    if model == "mclp":
        return solve_capacitated_max_coverage(
            coverage, w, cap, p, method=method, time_limit_s=limit
        )
    return solve_capacitated_set_cover(
        coverage, w, cap, min_share=0.9, method=method, time_limit_s=limit
    )


def case_capacitated_random(
    data: Path,
    models: tuple[str, ...] = ("mclp", "cover"),
    sizes: tuple[tuple[int, int, int], ...] = RANDOM_SIZES,
    seeds: tuple[int, ...] = RANDOM_SEEDS,
) -> dict[str, Any]:
    """Capacitated MCLP (``p``) and set cover (90 % share): heuristic vs exact HiGHS, one row
    per instance (also printed to stderr as it finishes)."""
    rows = []
    for m, n, p in sizes:
        for seed in seeds:
            instance = _random_instance(m, n, seed)
            for model in models:
                started = time.perf_counter()
                fast = _solve_random(model, instance, p, "heuristic")
                fast_s = time.perf_counter() - started
                exact = _solve_random(model, instance, p, "exact")
                sign = 1.0 if model == "mclp" else -1.0
                worse = sign * (exact.objective - fast.objective) / max(abs(exact.objective), 1e-12)
                rows.append(
                    {
                        "model": model,
                        "size": f"{m}x{n}",
                        "seed": seed,
                        "objective": fast.objective,
                        "exact_objective": exact.objective,
                        "exact_status": exact.status,
                        "gap_to_exact_pct": round(100 * max(0.0, worse), 4),
                        "certified_gap_pct": round(100 * fast.gap, 3),
                        "seconds": round(fast_s, 2),
                        "exact_seconds": round(exact.seconds, 2),
                        "exact_bound": exact.bound,
                        "bound": fast.bound,
                        "status": fast.status,
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)  # progress
    out: dict[str, Any] = {"all": _summary(rows)}
    for model in models:
        out[model] = _summary([r for r in rows if r["model"] == model])
    out["rows"] = rows
    return out


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Share of instances where the heuristic equals the exact run's answer (or beats it), worst
    gap to it, worst certified gap, slowest heuristic run; and the instances with a proven
    optimum (HiGHS's status or the heuristic's own bound) and how many the heuristic reaches.
    The exact run starts from the same heuristic and keeps it unless HiGHS beats it, so where
    HiGHS stops at its time limit "equal" means HiGHS found nothing better in that time."""
    gaps = [r["gap_to_exact_pct"] for r in rows]
    proven = [r for r in rows if "optimal" in (r["exact_status"], r["status"])]
    return {
        "instances": len(rows),
        "equal_share": round(sum(g == 0 for g in gaps) / len(rows), 3),
        "proven_optima": len(proven),
        "proven_optima_reached": sum(r["gap_to_exact_pct"] == 0 for r in proven),
        "worst_gap_to_exact_pct": max(gaps),
        "worst_certified_gap_pct": max(r["certified_gap_pct"] for r in rows),
        "exact_proved_optimal": sum(r["exact_status"] == "optimal" for r in rows),
        "max_seconds": max(r["seconds"] for r in rows),
    }


#: Cases registered in ``bench_optimizer.py``.
RUNNERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "pmedcap": case_pmedcap,
    "capacitated-random": case_capacitated_random,
    "capacitated-random-mclp": partial(case_capacitated_random, models=("mclp",)),
    "capacitated-random-cover": partial(case_capacitated_random, models=("cover",)),
}


def main(argv: list[str] | None = None) -> int:
    """``capacitated-random`` for the models and sizes asked (all by default): one JSON line."""
    names = {f"{m}x{n}": (m, n, p) for m, n, p in RANDOM_SIZES}
    parser = argparse.ArgumentParser(description="capacitated-random, filtered")
    parser.add_argument("--model", choices=("mclp", "cover"), action="append")
    parser.add_argument("--size", choices=tuple(names), action="append")
    parser.add_argument("--seed", type=int, choices=RANDOM_SEEDS, action="append")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # the instance readers live in tests/optimize_instances.py
    models = tuple(args.model or ("mclp", "cover"))
    sizes = tuple(names[s] for s in args.size) if args.size else RANDOM_SIZES
    seeds = tuple(args.seed) if args.seed else RANDOM_SEEDS
    print(json.dumps(case_capacitated_random(ROOT, models=models, sizes=sizes, seeds=seeds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
