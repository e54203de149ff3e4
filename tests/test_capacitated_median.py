"""Capacitated p-median: OR-Library optima reproduced, both variants, bad input.

The OR-Library instances are read from ``benchmarks/orlib`` in this repository (not shared
data); every answer is re-checked here from the instance's own points: one site per row, loads
within capacity, the objective the sum of the truncated distances.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from planner.core.errors import InputError
from planner.optimize import solve_capacitated_p_median
from tests.optimize_instances import read_orlib_pmedcap

ORLIB = Path(__file__).resolve().parent.parent / "benchmarks" / "orlib"


def _published() -> dict[str, float]:
    with (ORLIB / "pmedcap1_optima.csv").open(newline="") as handle:
        return {row["instance"]: float(row["optimum"]) for row in csv.DictReader(handle)}


@pytest.mark.parametrize(("number", "method"), [(2, "auto"), (4, "auto"), (13, "heuristic")])
def test_orlib_pmedcap_published_optimum_is_reproduced(number: int, method: str) -> None:
    text = (ORLIB / "pmedcap1.txt").read_text().split()
    inst = read_orlib_pmedcap(ORLIB / "pmedcap1.txt")[number - 1]
    assert inst.name == f"pmedcap{number}" and int(text[0]) == 20
    result = solve_capacitated_p_median(
        inst.cost, inst.demand, inst.capacity, inst.p, method=method
    )
    optimum = _published()[inst.name]
    # recomputed from the points, not through the solver's matrices
    start = 1 + sum(5 + 4 * (50 if k < 10 else 100) for k in range(number - 1)) + 5
    points = np.asarray(text[start : start + 4 * inst.cost.shape[0]], float).reshape(-1, 4)
    xy, demand = points[:, 1:3], points[:, 3]
    site = result.assignment
    assert set(site.tolist()) <= set(result.selected.tolist())
    assert result.selected.shape[0] == inst.p
    assert np.all(result.shares.toarray().sum(axis=1) == 1.0)
    loads = np.bincount(site, weights=demand, minlength=xy.shape[0])
    assert loads.max() <= 120
    cost = np.floor(np.hypot(*(xy - xy[site]).T)).sum()
    assert cost == result.objective == optimum
    assert result.bound <= optimum and result.gap >= 0.0


def test_divisible_demand_splits_rows_and_costs_no_more() -> None:
    # sites at 0 (capacity 3) and 10 (capacity 10) on a line; rows of demand 2 at 1, 2 and 9
    cost = np.abs(np.array([[1.0], [2.0], [9.0]]) - np.array([[0.0, 10.0]]))
    demand = np.array([2.0, 2.0, 2.0])
    cap = np.array([3.0, 10.0])
    single = solve_capacitated_p_median(cost, demand, cap, 2, single_source=True)
    split = solve_capacitated_p_median(cost, demand, cap, 2, single_source=False)
    # single source: one of the rows at 1 or 2 must cross to the far site (cost 9 or 8)
    assert single.objective == pytest.approx(1 + 8 + 1) and single.status == "optimal"
    # divisible: row at 2 sends half its demand (1 of 2) across: 1 + 0.5*2 + 0.5*8 + 1
    assert split.objective == pytest.approx(7.0) and split.status == "optimal"
    assert split.shares.toarray()[1].tolist() == pytest.approx([0.5, 0.5])
    assert np.all(split.load <= cap + 1e-9) and split.single_source is False


def test_capacity_short_of_demand_is_one_input_error() -> None:
    with pytest.raises(InputError, match="capacity: expected the 1 largest"):
        solve_capacitated_p_median(np.ones((3, 2)), [2, 2, 2], [3, 4], 1)
    # divisible room exists (3 + 3 >= 4) but no row fits whole anywhere
    with pytest.raises(InputError, match="from a single site"):
        solve_capacitated_p_median(np.ones((1, 2)), [4.0], [3.0, 3.0], 2)


def test_bad_arguments_are_gathered() -> None:
    with pytest.raises(InputError) as err:
        solve_capacitated_p_median(np.full((2, 2), np.inf), [1, -1], [1, 1], 3, method="fast")
    text = str(err.value)
    for name in ("cost:", "demand:", "p:", "method:"):
        assert name in text


@pytest.mark.parametrize("seed", range(6))
def test_knapsack_bound_lies_between_the_lp_and_the_single_source_optimum(seed: int) -> None:
    import itertools

    from planner.optimize._capacitated_median import Problem, assign, knapsack_bound

    rng = np.random.default_rng(seed)
    m, k = 7, 3
    cost = rng.integers(1, 30, (m, k)).astype(float)
    demand = rng.integers(1, 6, m).astype(float)
    cap = np.full(k, np.ceil(demand.sum() / k) + 2.0)  # tight: packing decides the cost
    problem = Problem(
        cost=cost,
        demand=demand,
        cap=cap,
        p=k,
        single_source=True,
        seed=0,
        knapsack_units=(demand.astype(np.int64), cap.astype(np.int64)),
        integral_cost=True,
        cost_step=1.0,
    )
    # every single-source assignment enumerated, not through the solver
    best = min(
        (
            cost[np.arange(m), list(to)].sum()
            for to in itertools.product(range(k), repeat=m)
            if np.all(np.bincount(to, weights=demand, minlength=k) <= cap)
        ),
        default=np.inf,
    )
    sites = np.arange(k)
    relaxed = assign(problem, sites, integer=False)
    assert relaxed is not None and relaxed.duals is not None
    lower = knapsack_bound(problem, sites, relaxed.duals)
    assert np.ceil(relaxed.value - 1e-6) <= lower <= best
