"""p-median benchmark cases of ``scripts/bench_optimizer.py`` (not tests: nothing asserts a time).

* ``pmedian-large``  20,000 demand x 2,000 candidates of the ``regional`` layout (150 km square,
  30 towns, seed 4), each row allowed its 50 nearest candidates (1 M pairs), p = 200: time
  (wall and CPU), objective, bound, certified gap;
* ``auto-crossover`` random p-median instances up to 1,000 x 1,000 (dense, 20, 10 and 5 nearest;
  several p): ``method="auto"`` against the plain exact HiGHS model (``method="exact"``), the
  time of each and whether the objectives agree, and which route ``auto`` took.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

#: (rows, candidates, p, nearest candidates per row or 0 for dense) of ``auto-crossover``.
CROSSOVER_SIZES = (
    (100, 50, 5, 0),
    (200, 100, 10, 20),
    (500, 100, 20, 10),
    (500, 200, 20, 20),
    (1_000, 200, 40, 10),
    (200, 100, 10, 0),
    (1_000, 1_000, 200, 20),
    (500, 200, 20, 0),
)


def k_nearest_cost(demand_xy: np.ndarray, cand_xy: np.ndarray, k: int) -> sp.csr_array:
    """Straight-line metres from each demand point to its ``k`` nearest candidates (CSR)."""
    m, n = demand_xy.shape[0], cand_xy.shape[0]
    dist, idx = cKDTree(cand_xy).query(demand_xy, k=k)
    dist, idx = dist.reshape(m, k), idx.reshape(m, k)
    cost = sp.csr_array((dist.ravel(), idx.ravel(), np.arange(0, m * k + 1, k)), shape=(m, n))
    cost.sort_indices()
    return cost


def _timed(solve: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = solve()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def case_pmedian_large(data: Any) -> dict[str, Any]:
    """The issue's large sparse p-median: 20,000 x 2,000, 50 nearest, p = 200."""
    from planner.optimize import solve_p_median
    from tests.optimize_instances import clustered_layout

    del data
    lay = clustered_layout(20_000, 2_000, side_m=150_000.0, n_clusters=30, seed=4)
    cost = k_nearest_cost(lay.demand_xy, lay.cand_xy, 50)
    warm = _timed(lambda: solve_p_median(np.ones((40, 12)), None, 3, method="heuristic"))
    res, wall, cpu = _timed(lambda: solve_p_median(cost, lay.weights, 200, seed=0))
    return {
        "pairs": int(cost.nnz),
        "objective": res.objective,
        "bound": res.bound,
        "certified_gap_pct": round(100 * res.gap, 4),
        "engine": f"{res.method}/{res.status}",
        "unassigned": res.unassigned,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "kernel_warm_up_seconds": round(warm[1], 2),
    }


def crossover_instance(m: int, n: int, k: int, seed: int) -> tuple[Any, np.ndarray]:
    """Uniform points in a 50 km square, lognormal weights; dense costs or ``k`` nearest."""
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 50_000.0, (m, 2))
    cand = rng.uniform(0, 50_000.0, (n, 2))
    weights = np.round(rng.lognormal(np.log(500.0), 0.8, m))
    if k == 0:
        diff = demand[:, None, :] - cand[None, :, :]
        return np.round(np.sqrt((diff**2).sum(axis=2))), weights
    cost = k_nearest_cost(demand, cand, k)
    cost.data = np.round(cost.data)
    return cost, weights


def case_auto_crossover(data: Any) -> dict[str, Any]:
    """``method="auto"`` against ``method="exact"`` on :data:`CROSSOVER_SIZES`."""
    from planner.optimize import solve_p_median

    del data
    solve_p_median(np.ones((40, 12)), None, 3, method="exact")  # warm up kernels and HiGHS
    return {"instances": [crossover_row(*size) for size in CROSSOVER_SIZES]}


def crossover_row(m: int, n: int, p: int, k: int) -> dict[str, Any]:
    """One ``auto-crossover`` instance: both methods timed (wall and CPU), objectives compared."""
    from planner.optimize import solve_p_median
    from planner.optimize.pmedian import routes_to_exact

    cost, weights = crossover_instance(m, n, k, seed=m + n + p + k)
    pairs = m * n if k == 0 else m * k
    auto, auto_s, auto_cpu = _timed(lambda: solve_p_median(cost, weights, p))
    exact, exact_s, exact_cpu = _timed(lambda: solve_p_median(cost, weights, p, method="exact"))
    return {
        "size": f"{m}x{n}",
        "nearest": k or "all",
        "p": p,
        "pairs": pairs,
        "auto_route": "exact" if routes_to_exact(pairs) else "heuristic",
        "auto_seconds": round(auto_s, 3),
        "auto_cpu_seconds": round(auto_cpu, 3),
        "exact_seconds": round(exact_s, 3),
        "exact_cpu_seconds": round(exact_cpu, 3),
        "auto_engine": f"{auto.method}/{auto.status}",
        "exact_engine": f"{exact.method}/{exact.status}",
        "auto_objective": auto.objective,
        "exact_objective": exact.objective,
        "same_objective": bool(abs(auto.objective - exact.objective) <= 1e-9 * exact.objective),
        "auto_gap_pct": round(100 * auto.gap, 4),
    }


RUNNERS = {"pmedian-large": case_pmedian_large, "auto-crossover": case_auto_crossover}
