#!/usr/bin/env python
"""Benchmarks of planner.optimize (not tests: nothing here asserts a time).

Cases (each runs in its own subprocess, so the peak memory reported is per case):

* ``sf``       spopt's San Francisco instance: LSCP, MCLP, p-median, p-center known answers;
* ``orlib``    OR-Library pmed1-pmed20: gap to the published optimum and seconds per instance;
* ``metro``    seeded clustered metro MCLP 2,000 x 500, p = 30, r = 5 km, planner vs spopt 0.7;
* ``metro-uniform`` the same sizes with points uniform over the square;
* ``metro-seeds`` the heuristic on 9 metro instances x 5 search seeds against their best known
  values (how often it finds them, and the time);
* ``metro-spopt`` planner's heuristic (seed 0) vs spopt 0.7 on each uniform metro instance 0-4:
  the time ratio over layouts where spopt is fastest;
* ``regional`` seeded MCLP 10,000 x 2,000, p = 100, r = 5 km: objective vs lazy greedy, gap;
* ``scale``    1,000,000 demand x 100,000 candidates, r = 5 km, p = 10,000: build + solve;
* ``pmedcap``, ``capacitated-random`` (``-mclp``, ``-cover``: one model): capacitated models
  (``scripts/_bench_capacitated.py``).
* ``pmedian-large``, ``auto-crossover``: see ``scripts/_bench_pmedian.py``.

Usage::

    python scripts/bench_optimizer.py --json             # every case, one JSON line each
    python scripts/bench_optimizer.py --case sf --json   # one case

The shared data folder defaults to ``../shared/data`` beside the repository (``--data``).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _bench_pmedian
import numpy as np
import scipy.sparse as sp
from _bench_capacitated import RUNNERS as CAPACITATED_RUNNERS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the instance readers live in tests/optimize_instances.py
DEFAULT_DATA = ROOT.parent / "shared" / "data"
CASES = (
    "sf",
    "orlib",
    "metro",
    "metro-uniform",
    "metro-seeds",
    "metro-spopt",
    "regional",
    "scale",
    *CAPACITATED_RUNNERS,
)

#: Best known objectives of metro instances (layout, layout seed) for ``metro-seeds``. Proven
#: optimal by HiGHS (planner's exact engine): uniform 0-4 (1.1-5.3 s each), clustered 1 (43 s)
#: and 3 (265 s). Clustered 2 and 4 are not proven in 150 s: 2 is the best this heuristic has
#: found (HiGHS after 150 s: 1,278,261, bound 1,287,780), 4 equals HiGHS's 150 s incumbent
#: (bound 1,315,472).
METRO_BEST_KNOWN = {
    ("uniform", 0): 1_030_837.0,
    ("uniform", 1): 1_018_688.0,
    ("uniform", 2): 1_052_033.0,
    ("uniform", 3): 1_016_083.0,
    ("uniform", 4): 1_022_649.0,
    ("clustered", 1): 1_212_968.0,
    ("clustered", 2): 1_278_987.0,
    ("clustered", 3): 1_200_555.0,
    ("clustered", 4): 1_310_928.0,
}

SF_EXPECTED = {
    "lscp_sites": 8,
    "mclp_covered": 875_247.0,
    "pmedian_objective": 2_848_268_129.71,
    "pmedian_sites": ["Store_2", "Store_11", "Store_12", "Store_15"],
    "pcenter_objective": 7_403.06,
}


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def case_sf(data: Path) -> dict[str, Any]:
    """spopt's SF instance: every model against its known answer."""
    from planner.optimize import (
        solve_max_coverage,
        solve_p_center,
        solve_p_median,
        solve_set_cover,
    )
    from tests.optimize_instances import read_spopt_sf

    sf = read_spopt_sf(data / "benchmarks" / "spopt_sf")
    cover = sp.csr_array(sf.cost <= 5000.0)
    lscp = solve_set_cover(cover, None)
    mclp = solve_max_coverage(cover, sf.population, 4)
    pmed = solve_p_median(sf.cost, sf.population, 4)
    pcen = solve_p_center(sf.cost, 4)
    got = {
        "lscp_sites": int(lscp.objective),
        "mclp_covered": mclp.objective,
        "mclp_uncovered_tracts": int((~mclp.covered).sum()),
        "pmedian_objective": round(pmed.objective, 2),
        "pmedian_sites": [sf.stores[j] for j in pmed.selected],
        "pmedian_mean_m": round(pmed.mean_cost, 3),
        "pcenter_objective": round(pcen.objective, 2),
    }
    match = all(got[key] == value for key, value in SF_EXPECTED.items())
    seconds = {
        name: round(res.seconds, 4)
        for name, res in (("lscp", lscp), ("mclp", mclp), ("pmedian", pmed), ("pcenter", pcen))
    }
    methods = {
        name: f"{res.method}/{res.status}"
        for name, res in (("lscp", lscp), ("mclp", mclp), ("pmedian", pmed), ("pcenter", pcen))
    }
    return {
        "match": match,
        "got": got,
        "expected": SF_EXPECTED,
        "seconds": seconds,
        "engines": methods,
    }


def case_orlib(data: Path) -> dict[str, Any]:
    """OR-Library pmed1-20 with method="auto": gap to the optimum, seconds per instance."""
    from planner.optimize import solve_p_median
    from tests.optimize_instances import read_orlib_optima, read_orlib_pmed

    folder = data / "benchmarks" / "orlib_pmed"
    optima = read_orlib_optima(folder / "pmedopt.txt")
    warm_up = _warm_up()
    rows = []
    for k in range(1, 21):
        inst = read_orlib_pmed(folder / f"pmed{k}.txt")
        res = solve_p_median(inst.cost, None, inst.p, seed=0)
        best = optima[inst.name]
        rows.append(
            {
                "instance": inst.name,
                "n": inst.cost.shape[0],
                "p": inst.p,
                "optimum": best,
                "objective": res.objective,
                "gap_to_opt_pct": round(100 * (res.objective - best) / best, 4),
                "certified_gap_pct": round(100 * res.gap, 4),
                "seconds": round(res.seconds, 3),
                "engine": f"{res.method}/{res.status}",
            }
        )
    gaps = [r["gap_to_opt_pct"] for r in rows]
    secs = [r["seconds"] for r in rows]
    return {
        "mean_gap_pct": round(float(np.mean(gaps)), 4),
        "max_gap_pct": max(gaps),
        "max_seconds": max(secs),
        "total_seconds": round(sum(secs), 2),
        "optimal_found": sum(g == 0 for g in gaps),
        "kernel_warm_up_seconds": round(warm_up, 3),
        "instances": rows,
    }


def _metro_layout(kind: str, seed: int | None = None) -> Any:
    from tests.optimize_instances import clustered_layout, uniform_layout

    if seed is not None:
        if kind == "uniform":
            return uniform_layout(2_000, 500, side_m=60_000.0, seed=seed)
        return clustered_layout(2_000, 500, side_m=60_000.0, n_clusters=12, seed=seed)
    if kind == "uniform":
        return uniform_layout(2_000, 500, side_m=60_000.0, seed=0)
    return clustered_layout(2_000, 500, side_m=60_000.0, n_clusters=12, seed=1)


def _warm_up() -> float:
    """Load (or, on a fresh install, compile) the search kernels; return the seconds taken.

    numba compiles them once per installation and caches them on disk; HiGHS initialises its
    library on first use. Like imports, this is kept out of the timed runs and reported on its
    own: a small MCLP and a small p-median are solved end to end.
    """
    from planner.optimize import coverage_from_points, solve_max_coverage, solve_p_median
    from tests.optimize_instances import uniform_layout

    rng = np.random.default_rng(0)
    lay = uniform_layout(200, 60, side_m=20_000.0, seed=0)
    start = time.perf_counter()
    cover = coverage_from_points(lay.demand_xy, lay.cand_xy, 3_000.0)
    solve_max_coverage(cover, lay.weights, 5, method="heuristic")
    solve_p_median(rng.random((40, 12)), None, 3, method="heuristic")
    return time.perf_counter() - start


def _planner_run(lay: Any, method: str) -> tuple[Any, float]:
    """Build the coverage matrix and solve; the seconds both take.

    The garbage left by an earlier spopt model (millions of PuLP objects) is collected first, so
    that its collection is not timed here (``timeit`` likewise keeps the collector out).
    """
    from planner.optimize import coverage_from_points, solve_max_coverage

    gc.collect()
    start = time.perf_counter()
    cover = coverage_from_points(lay.demand_xy, lay.cand_xy, 5_000.0)
    res = solve_max_coverage(cover, lay.weights, 30, method=method, seed=0)
    return res, time.perf_counter() - start


def _metro(kind: str) -> dict[str, Any]:
    """Metro MCLP 2,000 x 500, p = 30, r = 5 km: planner (auto and heuristic) vs spopt + HiGHS.

    Each planner time includes building the coverage matrix from the points, as spopt's
    includes building its model from the distance matrix.
    """
    from scipy.spatial.distance import cdist

    lay = _metro_layout(kind)
    out: dict[str, Any] = {"layout": kind, "kernel_warm_up_seconds": round(_warm_up(), 3)}
    runs = {}
    for method in ("auto", "heuristic"):
        res, seconds = _planner_run(lay, method)
        runs[method] = (res, seconds)
        out[f"planner_{method}"] = {
            "objective": res.objective,
            "bound": res.bound,
            "gap_pct": round(100 * res.gap, 4),
            "engine": f"{res.method}/{res.status}",
            "seconds": round(seconds, 3),
        }
    spopt = _run_spopt(
        cdist(lay.demand_xy, lay.cand_xy), lay.weights, 5_000.0, 30, time_limit_s=None
    )
    out.update(spopt)
    if "spopt_seconds" in spopt:
        for method, (res, seconds) in runs.items():
            out[f"planner_{method}"]["time_ratio_spopt_over_planner"] = round(
                spopt["spopt_seconds"] / seconds, 1
            )
            out[f"planner_{method}"]["same_objective"] = bool(
                abs(spopt["spopt_objective"] - res.objective) < 1e-6
            )
    return out


def case_metro(data: Path) -> dict[str, Any]:
    """Clustered metro (12 towns in 60 km): the hard instance."""
    del data
    return _metro("clustered")


def case_metro_uniform(data: Path) -> dict[str, Any]:
    """Uniform metro (points uniform over 60 km x 60 km)."""
    del data
    return _metro("uniform")


def case_metro_seeds(data: Path) -> dict[str, Any]:
    """The heuristic on each ``METRO_BEST_KNOWN`` instance with search seeds 0-4."""
    from planner.optimize import coverage_from_points, solve_max_coverage

    del data
    warm_up = _warm_up()
    rows = []
    for (kind, layout_seed), best in METRO_BEST_KNOWN.items():
        lay = _metro_layout(kind, layout_seed)
        for seed in range(5):
            start = time.perf_counter()
            cover = coverage_from_points(lay.demand_xy, lay.cand_xy, 5_000.0)
            res = solve_max_coverage(cover, lay.weights, 30, method="heuristic", seed=seed)
            seconds = time.perf_counter() - start
            rows.append((kind, best - res.objective, seconds))
    out: dict[str, Any] = {"kernel_warm_up_seconds": round(warm_up, 3)}
    for kind in ("uniform", "clustered", "all"):
        mine = [r for r in rows if kind in ("all", r[0])]
        out[kind] = {
            "runs": len(mine),
            "best_known_reached": sum(1 for r in mine if r[1] <= 1e-6),
            "deficit_sum": float(sum(max(r[1], 0.0) for r in mine)),
            "above_best_known": sum(1 for r in mine if r[1] < -1e-6),
            "mean_seconds": round(float(np.mean([r[2] for r in mine])), 3),
            "max_seconds": round(float(np.max([r[2] for r in mine])), 3),
        }
    return out


def case_metro_spopt(data: Path) -> dict[str, Any]:
    """planner's heuristic (seed 0) and spopt on each uniform metro instance 0-4."""
    from scipy.spatial.distance import cdist

    del data
    out: dict[str, Any] = {"kernel_warm_up_seconds": round(_warm_up(), 3)}
    rows = []
    for layout_seed in range(5):
        lay = _metro_layout("uniform", layout_seed)
        res, seconds = _planner_run(lay, "heuristic")
        spopt = _run_spopt(
            cdist(lay.demand_xy, lay.cand_xy), lay.weights, 5_000.0, 30, time_limit_s=None
        )
        if "spopt_seconds" not in spopt:
            return {**out, **spopt}
        rows.append(
            {
                "layout_seed": layout_seed,
                "planner_objective": res.objective,
                "planner_seconds": round(seconds, 3),
                "spopt_objective": spopt["spopt_objective"],
                "spopt_seconds": spopt["spopt_seconds"],
                "same_objective": bool(abs(spopt["spopt_objective"] - res.objective) < 1e-6),
                "time_ratio_spopt_over_planner": round(spopt["spopt_seconds"] / seconds, 1),
            }
        )
    out["instances"] = rows
    out["same_objective"] = sum(r["same_objective"] for r in rows)
    out["ratio_min"] = min(r["time_ratio_spopt_over_planner"] for r in rows)
    out["ratio_max"] = max(r["time_ratio_spopt_over_planner"] for r in rows)
    return out


def _run_spopt(
    cost: np.ndarray, weights: np.ndarray, radius: float, p: int, *, time_limit_s: float | None
) -> dict[str, Any]:
    """spopt 0.7 MCLP.from_cost_matrix solved by PuLP's HiGHS; the true status read back."""
    try:
        import pulp
        from spopt.locate import MCLP
    except ImportError as exc:  # the bench extra is not installed
        return {"spopt_error": f"spopt/pulp not importable: {exc}"}
    start = time.perf_counter()
    model = MCLP.from_cost_matrix(cost, weights, radius, p_facilities=p)
    built = time.perf_counter() - start
    options: dict[str, Any] = {"msg": False}
    if time_limit_s is not None:
        options["timeLimit"] = time_limit_s
    model = model.solve(pulp.HiGHS(**options))
    seconds = time.perf_counter() - start
    chosen = [j for j, var in enumerate(model.fac_vars) if (var.value() or 0) > 0.5]
    covered = (cost[:, chosen] <= radius).any(axis=1)
    return {
        "spopt_objective": float(weights[covered].sum()),
        "spopt_pulp_status": pulp.LpStatus[model.problem.status],
        "spopt_seconds": round(seconds, 3),
        "spopt_build_seconds": round(built, 3),
        "spopt_time_limit_s": time_limit_s,
    }


def case_regional(data: Path) -> dict[str, Any]:
    """Seeded MCLP 10,000 x 2,000, p = 100: planner vs plain lazy greedy, certified gap."""
    from planner.optimize import coverage_from_points, solve_max_coverage
    from planner.optimize._cover_search import lazy_greedy
    from tests.optimize_instances import clustered_layout

    lay = clustered_layout(10_000, 2_000, side_m=150_000.0, n_clusters=30, seed=4)
    warm_up = _warm_up()
    start = time.perf_counter()
    cover = coverage_from_points(lay.demand_xy, lay.cand_xy, 5_000.0)
    res = solve_max_coverage(cover, lay.weights, 100, seed=0)
    seconds = time.perf_counter() - start
    _, greedy_cov = lazy_greedy(sp.csc_array(cover), lay.weights, 100)
    greedy = float(lay.weights[greedy_cov].sum())
    return {
        "pairs": int(cover.nnz),
        "objective": res.objective,
        "greedy_objective": greedy,
        "improvement_over_greedy_pct": round(100 * (res.objective - greedy) / greedy, 3),
        "bound": res.bound,
        "certified_gap_pct": round(100 * res.gap, 3),
        "engine": f"{res.method}/{res.status}",
        "seconds": round(seconds, 3),
        "kernel_warm_up_seconds": round(warm_up, 3),
        "covered_share": round(res.covered_share, 4),
    }


def case_scale(data: Path) -> dict[str, Any]:
    """1 M demand x 100 k candidates, r = 5 km, p = 10,000: coverage build + solve."""
    from planner.optimize import coverage_from_points, solve_max_coverage
    from tests.optimize_instances import clustered_layout

    lay = clustered_layout(
        1_000_000,
        100_000,
        side_m=2_000_000.0,
        n_clusters=300,
        seed=1,
        sprawl_m=(3_000.0, 28_000.0),
        rural_share=(0.15, 0.15),
    )
    start = time.perf_counter()
    cover = coverage_from_points(lay.demand_xy, lay.cand_xy, 5_000.0)
    built = time.perf_counter() - start
    res = solve_max_coverage(cover, lay.weights, 10_000, seed=0)
    total = time.perf_counter() - start
    return {
        "pairs": int(cover.nnz),
        "build_seconds": round(built, 2),
        "solve_seconds": round(res.seconds, 2),
        "total_seconds": round(total, 2),
        "objective": res.objective,
        "covered_share": round(res.covered_share, 4),
        "bound": res.bound,
        "certified_gap_pct": round(100 * res.gap, 3),
        "engine": f"{res.method}/{res.status}",
    }


RUNNERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "sf": case_sf,
    "orlib": case_orlib,
    "metro": case_metro,
    "metro-uniform": case_metro_uniform,
    "metro-seeds": case_metro_seeds,
    "metro-spopt": case_metro_spopt,
    "regional": case_regional,
    "scale": case_scale,
    **CAPACITATED_RUNNERS,
}
# p-median cases live in _bench_pmedian.py (pmedian-large, auto-crossover)
RUNNERS.update(_bench_pmedian.RUNNERS)
CASES = (*CASES, *_bench_pmedian.RUNNERS)


def _child(name: str, data: Path) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        result = RUNNERS[name](data)
    except Exception as exc:  # report, do not hide: a benchmark line says what failed
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result = {
        "case": name,
        **result,
        "wall_seconds": round(time.perf_counter() - start, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark cases; print one JSON line (or a short text line) per case."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=CASES, action="append", help="run only this case")
    parser.add_argument("--json", action="store_true", help="one JSON line per case")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = args.case or list(CASES)
    if args.child:
        print(json.dumps(_child(names[0], args.data)), flush=True)
        return 0
    status = 0
    for name in names:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            "--case",
            name,
            "--data",
            str(args.data),
        ]
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            record = {"case": name, "error": proc.stderr.strip().splitlines()[-1:] or "no output"}
            status = 1
        else:
            record = json.loads(lines[-1])
        if args.json:
            print(json.dumps(record), flush=True)
        else:
            brief = {k: v for k, v in record.items() if k != "instances"}
            print(f"{name}: {brief}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
