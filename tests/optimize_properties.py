"""Random small instances of every public solver, checked against brute force.

Shared by ``tests/test_optimize_properties.py`` (a few hundred instances under hypothesis) and
``scripts/bench_properties.py`` (10^4 per solver). Everything here is recomputed independently
of the solvers: coverage by numpy, the best capacitated assignment by scipy's ``linprog`` (and,
for the capacitated p-median, the cheapest assignment by scipy's ``milp``), the optimum by
enumerating every selection.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from planner import optimize
from planner.core.errors import InputError

#: The public solvers checked, by name.
SOLVERS = (
    "max_coverage",
    "set_cover",
    "capacitated_max_coverage",
    "capacitated_set_cover",
    "capacitated_p_median",
    "p_median",
    "p_center",
)
METHODS = ("auto", "heuristic", "exact")
#: Weight (or cost) scales the answer must not depend on.
SCALES = (1e-9, 1e9)
#: Relative tolerance of the comparisons (the solvers' own is 1e-9).
TOL = 1e-7
#: A share target is met within this relative slack (the solvers' documented tolerance).
SHARE_RTOL = 1e-9


@dataclass(frozen=True)
class Instance:
    """One random instance: a coverage matrix, weights, costs, capacities and options."""

    solver: str
    coverage: np.ndarray
    weights: np.ndarray
    cost: np.ndarray
    capacity: np.ndarray
    p: int
    share: float
    method: str
    seed: int
    single_source: bool = True


def draw(solver: str, seed: int) -> Instance:
    """A random instance of ``solver``: up to 7 demand rows and 5 candidates."""
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(1, 8)), int(rng.integers(1, 6))
    coverage = rng.random((m, n)) < rng.uniform(0.2, 0.8)
    if rng.random() < 0.5:
        weights = rng.integers(0, 10, m).astype(np.float64)
    else:
        weights = rng.lognormal(0.0, 1.5, m) * (rng.random(m) < 0.85)
    cost = np.round(rng.uniform(0, 100, (m, n)), int(rng.integers(0, 3)))
    capacity = rng.uniform(0.0, 0.6, n) * max(float(weights.sum()), 1.0)
    share = float(rng.choice([1.0, 0.5, 0.9, 1e-6, float(rng.uniform(0.05, 1.0))]))
    if solver == "capacitated_p_median":
        capacity = capacity * 2.0  # every row must be served: room for it, mostly
    return Instance(
        solver=solver,
        coverage=coverage,
        weights=weights,
        cost=cost,
        capacity=capacity,
        p=int(rng.integers(1, n + 1)),
        share=share,
        method=str(rng.choice(METHODS)),
        seed=int(rng.integers(0, 1000)),
        single_source=seed % 2 == 0,
    )


def solve(inst: Instance) -> Any:
    """The solver's answer on ``inst``."""
    opts: dict[str, Any] = {"method": inst.method, "seed": inst.seed}
    c, w, cap = inst.coverage, inst.weights, inst.capacity
    calls: dict[str, Callable[[], Any]] = {
        "max_coverage": lambda: optimize.solve_max_coverage(c, w, inst.p, **opts),
        "set_cover": lambda: optimize.solve_set_cover(c, w, min_share=inst.share, **opts),
        "capacitated_max_coverage": lambda: optimize.solve_capacitated_max_coverage(
            c, w, cap, inst.p, **opts
        ),
        "capacitated_set_cover": lambda: optimize.solve_capacitated_set_cover(
            c, w, cap, min_share=inst.share, **opts
        ),
        "capacitated_p_median": lambda: optimize.solve_capacitated_p_median(
            inst.cost, w, cap, inst.p, single_source=inst.single_source, **opts
        ),
        "p_median": lambda: optimize.solve_p_median(inst.cost, w, inst.p, **opts),
        "p_center": lambda: optimize.solve_p_center(inst.cost, inst.p, **opts),
    }
    return calls[inst.solver]()


def served(inst: Instance, sites: tuple[int, ...] | np.ndarray) -> float:
    """Most weight the open ``sites`` can serve within coverage and capacity (an LP by scipy,
    on weights in a unit of their total so that its absolute tolerances are relative)."""
    sites = np.asarray(sites, dtype=np.int64)
    rows, cols = np.nonzero(inst.coverage[:, sites] & (inst.weights[:, None] > 0))
    total = float(inst.weights.sum())
    if rows.size == 0 or total == 0:
        return 0.0
    w, cap = inst.weights / total, inst.capacity[sites] / total
    a = np.zeros((w.shape[0] + sites.shape[0], rows.shape[0]))
    a[rows, np.arange(rows.shape[0])] = 1.0
    a[w.shape[0] + cols, np.arange(rows.shape[0])] = 1.0
    out = linprog(-np.ones(rows.shape[0]), A_ub=a, b_ub=np.concatenate([w, cap]), method="highs")
    return float(-out.fun) * total


def assigned_cost(inst: Instance, sites: tuple[int, ...] | np.ndarray) -> float:
    """Least cost of serving every row in full from the open ``sites`` within capacity, one
    site per row when single-source (scipy's ``milp``; ``nan`` when no assignment exists)."""
    sites = np.asarray(sites, dtype=np.int64)
    m, k = inst.weights.shape[0], sites.shape[0]
    if k == 0:
        return math.nan
    total = float(inst.weights.sum()) if float(inst.weights.sum()) > 0 else 1.0
    one_each = np.kron(np.eye(m), np.ones((1, k)))
    loads = np.kron(inst.weights[None, :] / total, np.eye(k))
    out = milp(
        inst.cost[:, sites].ravel(),
        constraints=[
            LinearConstraint(one_each, 1.0, 1.0),
            LinearConstraint(loads, -np.inf, inst.capacity[sites] / total),
        ],
        integrality=np.full(m * k, 1 if inst.single_source else 0),
        bounds=Bounds(0.0, 1.0),
    )
    return float(out.fun) if out.status == 0 else math.nan


def covered_weight(inst: Instance, sites: tuple[int, ...] | np.ndarray) -> float:
    """Weight of the rows some of ``sites`` covers."""
    return float(inst.weights[inst.coverage[:, list(sites)].any(axis=1)].sum())


def meets_share(inst: Instance, sites: tuple[int, ...] | np.ndarray) -> bool:
    """The documented share rule: every positive row at share 1, else the share within 1e-9."""
    covered = inst.coverage[:, list(sites)].any(axis=1)
    if inst.share >= 1.0:
        return bool(np.all(covered[inst.weights > 0]))
    need = inst.share * float(inst.weights.sum())
    return float(inst.weights[covered].sum()) >= need * (1 - SHARE_RTOL)


def value(inst: Instance, sites: tuple[int, ...] | np.ndarray) -> float:
    """Objective of ``sites`` recomputed from the instance (``nan`` when infeasible)."""
    sites = np.asarray(sites, dtype=np.int64)
    if inst.solver == "max_coverage":
        return covered_weight(inst, sites)
    if inst.solver == "capacitated_max_coverage":
        return served(inst, sites)
    if inst.solver == "set_cover":
        return float(sites.shape[0]) if meets_share(inst, sites) else math.nan
    if inst.solver == "capacitated_set_cover":
        need = inst.share * float(inst.weights.sum())
        return float(sites.shape[0]) if served(inst, sites) >= need * (1 - SHARE_RTOL) else math.nan
    if inst.solver == "capacitated_p_median":
        return assigned_cost(inst, sites)
    if sites.shape[0] == 0:
        return math.nan
    nearest = inst.cost[:, sites].min(axis=1)
    if inst.solver == "p_median":
        return float(inst.weights @ nearest)
    return float(nearest.max())


def maximize(solver: str) -> bool:
    return solver in ("max_coverage", "capacitated_max_coverage")


def brute_optimum(inst: Instance) -> float:
    """The optimum by enumeration (``nan`` when no selection is feasible)."""
    n = inst.coverage.shape[1]
    fixed_p = inst.solver not in ("set_cover", "capacitated_set_cover")
    sizes = [inst.p] if fixed_p else range(n + 1)
    best = math.nan
    for k in sizes:
        for sites in itertools.combinations(range(n), k):
            v = value(inst, sites)
            if math.isnan(v):
                continue
            if math.isnan(best) or (v > best if maximize(inst.solver) else v < best):
                best = v
        if not fixed_p and not math.isnan(best):
            return best  # the fewest sites
    return best


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(abs(a), abs(b)) or (a == b)


def violations(inst: Instance) -> list[str]:
    """What is wrong with the solver's answer on ``inst`` (empty when nothing)."""
    opt = brute_optimum(inst)
    try:
        result = solve(inst)
    except InputError:
        # refused: right only when no selection reaches the share
        return [] if math.isnan(opt) else ["refused a feasible instance"]
    if math.isnan(opt):
        return ["answered an instance without any feasible selection"]
    found: list[str] = []
    sel = np.asarray(result.selected)
    n = inst.coverage.shape[1]
    if sel.size and (np.any(np.diff(sel) <= 0) or sel.min() < 0 or sel.max() >= n):
        found.append(f"selected not sorted unique in range: {sel}")
    if inst.solver not in ("set_cover", "capacitated_set_cover") and sel.shape[0] != inst.p:
        found.append(f"{sel.shape[0]} sites selected, p = {inst.p}")
    v = value(inst, sel)
    if math.isnan(v):
        found.append(f"answer breaks its constraint: {sel}")
        return found
    if not _close(result.objective, v):
        found.append(f"objective {result.objective} != recomputed {v}")
    if inst.solver == "capacitated_p_median":
        found += _share_problems(inst, result)
    elif inst.solver.startswith("capacitated"):
        found += _assignment_problems(inst, result)
    worse = v < opt * (1 - TOL) if maximize(inst.solver) else v > opt * (1 + TOL) + 1e-300
    better = v > opt * (1 + TOL) if maximize(inst.solver) else v < opt * (1 - TOL)
    if better:
        found.append(f"objective {v} beats the brute-force optimum {opt}")
    bound_wrong = (
        result.bound < opt * (1 - TOL) if maximize(inst.solver) else result.bound > opt * (1 + TOL)
    )
    if bound_wrong:
        found.append(f"bound {result.bound} on the wrong side of the optimum {opt}")
    if not result.gap >= 0:
        found.append(f"gap {result.gap}")
    if result.status == "optimal" and worse:
        found.append(f"labelled optimal at {v}, optimum {opt}")
    return found


def _assignment_problems(inst: Instance, result: Any) -> list[str]:
    """An assignment outside coverage, open sites, weights or capacities."""
    z = result.assignment.toarray()
    total = max(float(inst.weights.sum()), 1e-300)
    slack = 1e-12 * total
    problems = []
    is_open = np.zeros(inst.coverage.shape[1], dtype=bool)
    is_open[result.selected] = True
    if np.any(z < 0) or np.any(z[~(inst.coverage & is_open[None, :])] != 0):
        problems.append("assignment outside coverage or open sites")
    if np.any(z.sum(axis=1) > inst.weights * (1 + 1e-12) + slack):
        problems.append("a row served above its weight")
    if np.any(z.sum(axis=0) > inst.capacity * (1 + 1e-12) + slack):
        problems.append("a site loaded above its capacity")
    return problems


def _share_problems(inst: Instance, result: Any) -> list[str]:
    """Shares outside open sites, rows not served in full (or split, single-source), a site
    above its capacity, an objective that is not the cost of the shares."""
    x = result.shares.toarray()
    total = max(float(inst.weights.sum()), 1e-300)
    problems = []
    is_open = np.zeros(inst.cost.shape[1], dtype=bool)
    is_open[result.selected] = True
    if np.any(x < 0) or np.any(x[:, ~is_open] != 0):
        problems.append("a share outside the open sites")
    if np.any(np.abs(x.sum(axis=1) - 1.0) > 1e-9):
        problems.append("a row not served in full")
    if inst.single_source and np.any((x != 0) & (x != 1)):
        problems.append("a row split between sites with single_source=True")
    if np.any(inst.weights @ x > inst.capacity * (1 + 1e-9) + 1e-12 * total):
        problems.append("a site loaded above its capacity")
    if not _close(float((x * inst.cost).sum()), result.objective):
        problems.append(f"objective {result.objective} is not the cost of the shares")
    return problems


def scaled(inst: Instance, factor: float) -> Instance:
    """``inst`` with weights and capacities (p-center: costs) times ``factor``."""
    if inst.solver == "p_center":
        return replace(inst, cost=inst.cost * factor)
    return replace(inst, weights=inst.weights * factor, capacity=inst.capacity * factor)


def permuted(inst: Instance, order: np.ndarray) -> Instance:
    """``inst`` with its candidate columns in ``order``."""
    return replace(
        inst,
        coverage=inst.coverage[:, order],
        cost=inst.cost[:, order],
        capacity=inst.capacity[order],
    )


def invariance_problems(inst: Instance) -> list[str]:
    """Violations on scaled and column-permuted copies of ``inst``, and answers that change
    beyond ties: a scaled or permuted copy must reach the same objective when both are proven
    optimal, and the same status."""
    found = violations(inst)
    try:
        base = solve(inst)
    except InputError:
        base = None
    order = np.random.default_rng(inst.seed).permutation(inst.coverage.shape[1])
    variants = [(f"x{f:g}", scaled(inst, f), f) for f in SCALES]
    variants.append(("permuted", permuted(inst, order), 1.0))
    for name, variant, factor in variants:
        found += [f"{name}: {text}" for text in violations(variant)]
        try:
            other = solve(variant)
        except InputError:
            other = None
        if (base is None) != (other is None):
            found.append(f"{name}: refused on one side only")
            continue
        if base is None or other is None:
            continue
        unit = (
            1.0
            if inst.solver in ("set_cover", "capacitated_set_cover", "capacitated_p_median")
            else factor
        )
        if base.status == other.status == "optimal" and not _close(
            base.objective * unit, other.objective
        ):
            found.append(f"{name}: optimal {other.objective} vs {base.objective * unit}")
    return found
