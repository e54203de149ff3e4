"""Lower bound of capacitated set cover: our own branch-and-bound on "can ``L`` sites serve it?".

The question is capacitated maximum coverage with ``sum y <= L`` (maximise the served weight);
``L`` sites cannot serve the share exactly when that maximum is below it. Each node solves the
LP relaxation with the strong links ``z_ij <= min(w_i, cap_j) y_j`` in one HiGHS object kept
across nodes (bounds of ``y`` changed, dual simplex warm-started from the parent's basis,
presolve off). A node is pruned when its LP value is below the share; reduced-cost fixing
against the share fixes, for the subtree, every ``y_j`` whose move off its bound would cost
more than the LP value exceeds the share; every node's ``L`` largest ``y`` are priced exactly
(a cover found ends the search). Depth first, the "open" child first; proofs branch by
pseudo-costs (:class:`_PseudoCosts`, the LP value lost per unit of ``y_j`` moved, learnt from
the children solved), dives for covers on the largest ``y_j``. :func:`raise_bound` climbs
the rungs from the LP bound; on the rung one site below the answer in hand a proof and a dive
take turns. Work is counted in simplex iterations (:data:`BOUND_WORK`), never seconds, so the
outcome is the same on any machine load.

A Lagrangian relaxation of the demand rows ``sum_j z_ij <= w_i`` would not do better: each
site's subproblem (``max sum_i (1 - u_i) z_ij`` s.t. ``sum_i z_ij <= cap_j y_j``,
``0 <= z_ij <= min(w_i, cap_j) y_j``) is a continuous knapsack whose value is linear in
``y_j``, and choosing the ``L`` best is integral, so the relaxation has the integrality
property: its best bound equals this LP's.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace

import highspy
import numpy as np
import scipy.sparse as sp

from planner.optimize._capacitated_model import Model
from planner.optimize._cover_model import remaining
from planner.optimize._highs import HighsOutcome, _new_highs, _pass_model
from planner.optimize._result import RTOL

logger = logging.getLogger(__name__)

#: Work of :func:`raise_bound`: simplex iterations over all nodes of all rungs times the LP's
#: rows and columns (an iteration's cost grows with them), at most ``MAX_BOUND_ITERATIONS``.
#: Random 500 x 100 (3,800 lines): proofs in 77-159 nodes, 8,300-13,600 iterations; 1,000 x 250
#: (21,000 lines): about 530 iterations a node, 1.12 M iterations in all (seed 2's "22 sites
#: cannot" takes 955,000 of them, 804,000 for the proof, the rest for the dive that races it);
#: 2,000 x 500 (46,000 lines): about 6,000 iterations a node, 271,000 in all.
BOUND_WORK = 2.5e10
MAX_BOUND_ITERATIONS = 1_200_000
#: No search on models of more lines (rows + sites + pairs; about 300,000 pairs): its root LP,
#: solved from scratch, would hardly end within the budget.
MAX_BOUND_LINES = 750_000
#: On the rung one site below the answer in hand, the proving search and a dive for a cover
#: take turns of ``RACE_STEP`` iterations, the dive ``DIVE_SHARE`` of each. Random 1,000 x 250
#: seed 1 needs 222,000 iterations to prove "23 sites cannot" (356,000 before pseudo-costs);
#: 500 x 100 seed 0 dives to its 23-site optimum in 58,000.
RACE_STEP = 20_000
DIVE_SHARE = 0.25
#: Iterations after which the dive stops and the proof takes whole steps: 1,000 x 250 seed 2
#: proves "22 sites cannot" in 804,000 iterations; raced by a dive at a quarter throughout, on
#: one LP object, the proof was still open when the 1.12 M of the budget were spent.
DIVE_LIMIT = 150_000
#: Relative margin below the share under which a node's LP value prunes it (LP tolerances):
#: proofs hold within this share of the target.
PRUNE_MARGIN = 1e-6


@dataclass(frozen=True)
class Rung:
    """Outcome of one "can ``sites`` sites serve the share?" search: ``proved`` when no set of
    that size can; ``cover`` a set of that size the LP found serving it (else ``None``);
    ``nodes`` and ``iterations`` the work spent."""

    sites: int
    proved: bool
    cover: np.ndarray | None
    nodes: int
    iterations: int


@dataclass(frozen=True)
class _Node:
    """An open node: bounds of ``y``, the basis to start from, and how it was made (the
    parent's LP value, the variable branched on and its move: ``-y_j`` down, ``1 - y_j`` up)."""

    lower: np.ndarray
    upper: np.ndarray
    basis: highspy.HighsBasis | None
    parent_value: float = math.nan
    branched: int = -1
    move: float = 0.0


class _PseudoCosts:
    """Average LP value lost per unit of ``y_j`` moved down and up, learnt from the children
    solved so far; the branching variable maximises the product of the two children's
    expected losses (variables not yet branched on get the average of those that were)."""

    def __init__(self, n: int) -> None:
        self.total = np.zeros((2, n))
        self.count = np.zeros((2, n))

    def record(self, node: _Node, value: float) -> None:
        if node.branched < 0 or not math.isfinite(node.parent_value):
            return
        side = int(node.move > 0)
        self.total[side, node.branched] += max(node.parent_value - value, 0.0) / abs(node.move)
        self.count[side, node.branched] += 1

    def choose(self, fractional: np.ndarray, y: np.ndarray, cap: np.ndarray) -> int:
        """The fractional ``y_j`` to branch on (nearest ``1/2``, ties the larger capacity,
        until any cost is known)."""
        if not self.count.any():
            order = np.lexsort((-cap[fractional], np.abs(y[fractional] - 0.5)))
            return int(fractional[order[0]])
        known = self.count > 0
        mean = np.where(known, self.total / np.maximum(self.count, 1), 0.0)
        fill = np.array([mean[k][known[k]].mean() if known[k].any() else 1.0 for k in (0, 1)])
        rate = np.where(known, mean, fill[:, None])[:, fractional]
        f = y[fractional]
        score = np.maximum(rate[0] * f, 1e-9) * np.maximum(rate[1] * (1 - f), 1e-9)
        return int(fractional[np.argmax(score)])


class _NodeLP:
    """The LP relaxation of "max served with ``sum y <= L``", kept warm across nodes."""

    def __init__(self, model: Model, sites: int, *, seed: int) -> None:
        self.model = model
        m, n, nnz = model.m, model.n, model.nnz
        card = sp.csr_array(np.ones((1, n)))
        a = sp.csc_array(sp.bmat([*model.blocks(), [None, card]], format="csc"))
        a.sort_indices()
        self.highs = _new_highs(time_limit_s=None, seed=seed, mip_rel_gap=0.0)
        options: dict[str, str | int] = {"presolve": "off", "solver": "simplex"}
        options["simplex_strategy"] = 1  # dual simplex: a node's bound change keeps it feasible
        for name, value in options.items():
            self.highs.setOptionValue(name, value)
        rows = m + n + nnz + 1
        bounds = (
            np.zeros(nnz + n),
            np.concatenate([np.full(nnz, np.inf), np.ones(n)]),
            np.full(rows, -np.inf),
            np.concatenate([model.w, np.zeros(n + nnz), [float(sites)]]),
        )
        cost = np.concatenate([np.ones(nnz), np.zeros(n)])
        _pass_model(self.highs, a, cost, bounds, np.zeros(nnz + n, np.int32), maximize=True)
        self.y_index = np.arange(nnz, nnz + n, dtype=np.int32)
        self.costs = _PseudoCosts(n)

    def set_sites(self, sites: int) -> None:
        """Change ``L`` (the cardinality row's upper bound)."""
        row = self.model.m + self.model.n + self.model.nnz
        self.highs.changeRowBounds(row, -np.inf, float(sites))

    def solve(
        self,
        lower: np.ndarray,
        upper: np.ndarray,
        iterations: int,
        basis: highspy.HighsBasis | None = None,
    ) -> tuple[str, float, np.ndarray, np.ndarray, int]:
        """LP with ``lower <= y <= upper`` from ``basis`` (the parent node's; else the last
        one): status, value, ``y``, the reduced costs of ``y``, the simplex iterations spent."""
        n = self.model.n
        self.highs.changeColsBounds(n, self.y_index, lower, upper)
        if basis is not None:
            self.highs.setBasis(basis)
        self.highs.setOptionValue("simplex_iteration_limit", int(max(iterations, 1)))
        self.highs.run()
        status = str(self.highs.getModelStatus()).split(".")[-1]
        info = self.highs.getInfo()
        spent = int(info.simplex_iteration_count)
        if status != "kOptimal":
            return status, math.nan, np.zeros(n), np.zeros(n), spent
        solution = self.highs.getSolution()
        y = np.asarray(solution.col_value, dtype=np.float64)[self.model.nnz :]
        dual = np.asarray(solution.col_dual, dtype=np.float64)[self.model.nnz :]
        return "optimal", float(info.objective_function_value), y, dual, spent


class _Tree:
    """Depth-first branch-and-bound on whether ``sites`` sites can serve ``need``, grown in
    steps (:meth:`grow`). ``prove``: branch by the pseudo-costs of ``lp`` (shared by the
    proofs of all rungs, learnt from their children only), which closes proofs in fewer nodes;
    else on the largest fractional ``y`` (a dive with backtracking, which finds covers sooner).
    Either way the "open" child first, and every node's ``sites`` largest ``y`` are priced
    exactly (a cover ends the search)."""

    def __init__(self, lp: _NodeLP, sites: int, need: float, *, prove: bool, seed: int) -> None:
        self.lp, self.sites, self.need, self.prove, self.seed = lp, sites, need, prove, seed
        n = lp.model.n
        self.stack: list[_Node] = [_Node(np.zeros(n), np.ones(n), None)]
        self.nodes = self.spent = 0
        self.cover: np.ndarray | None = None
        self.failed = False  # a node LP that did not solve: the tree cannot end as a proof

    @property
    def ended(self) -> bool:
        return not self.stack or self.cover is not None or self.failed

    def rung(self) -> Rung:
        proved = not self.stack and self.cover is None and not self.failed
        return Rung(self.sites, proved, self.cover, self.nodes, self.spent)

    def grow(self, until: int, limit: int, deadline: float = math.inf) -> None:
        """Solve nodes while this tree has spent less than ``until`` iterations and this call
        less than ``limit`` (the LPs within what is left of it)."""
        lp, target, start = self.lp, self.need * (1 - PRUNE_MARGIN), self.spent
        lp.set_sites(self.sites)
        while not self.ended and self.spent < until and time.perf_counter() < deadline:
            node = self.stack.pop()
            lower, upper = node.lower, node.upper
            left = limit - (self.spent - start)
            status, value, y, dual, used = lp.solve(lower, upper, left, node.basis)
            self.nodes += 1
            self.spent += used
            if status == "optimal" and self.prove:
                lp.costs.record(node, value)
            if status == "kInfeasible" or (status == "optimal" and value < target):
                continue
            self.failed = status != "optimal"
            if not self.failed:
                self.cover = _round(lp.model, y, self.sites, self.need, seed=self.seed)
            if self.failed or self.cover is not None:
                continue
            lower, upper = _fix_by_reduced_cost(y, dual, value - target, lower, upper)
            fractional = np.flatnonzero((y > 1e-6) & (y < 1 - 1e-6) & (lower < upper))
            if fractional.size == 0:  # integral yet short after the exact assignment: numerics
                self.failed = True
                continue
            if self.prove:
                j = lp.costs.choose(fractional, y, lp.model.cap)
            else:
                j = int(fractional[np.argmax(y[fractional])])
            down_upper, up_lower = upper.copy(), lower.copy()
            down_upper[j], up_lower[j] = 0.0, 1.0
            basis = lp.highs.getBasis()
            self.stack.append(_Node(lower, down_upper, basis, value, j, -y[j]))
            self.stack.append(_Node(up_lower, upper, basis, value, j, 1.0 - y[j]))


def search_rung(
    lp: _NodeLP,
    sites: int,
    need: float,
    *,
    budget: int,
    seed: int,
    prove: bool,
    deadline: float = math.inf,
) -> Rung:
    """One :class:`_Tree` grown within ``budget`` simplex iterations."""
    tree = _Tree(lp, sites, need, prove=prove, seed=seed)
    tree.grow(budget, budget, deadline)
    return tree.rung()


def _round(model: Model, y: np.ndarray, sites: int, need: float, *, seed: int) -> np.ndarray | None:
    """The ``sites`` sites of largest ``y`` when their exact assignment serves ``need``."""
    chosen = np.sort(np.argsort(-y, kind="stable")[:sites]).astype(np.int64)
    return chosen if model.served(chosen, seed=seed) >= need * (1 - RTOL) else None


def _fix_by_reduced_cost(
    y: np.ndarray, dual: np.ndarray, slack: float, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of ``y`` for the subtree: a ``y_j`` at a bound whose move to the other bound
    lowers the LP value by more than ``slack`` (its reduced cost, a valid rate by LP duality)
    is fixed there."""
    # HiGHS's signs for a maximisation: <= 0 at the lower bound, >= 0 at the upper (checked);
    # a reduced cost of the wrong sign (within the dual tolerance) fixes nothing
    free = lower < upper
    at_zero = (y < 1e-9) & (-dual > slack) & free
    at_one = (y > 1 - 1e-9) & (dual > slack) & free
    if not (at_zero.any() or at_one.any()):
        return lower, upper
    lower, upper = lower.copy(), upper.copy()
    upper[at_zero] = 0.0
    lower[at_one] = 1.0
    return lower, upper


def cover_relaxation(
    model: Model, need: float, max_sites: int | None, *, seed: int, deadline: float = math.inf
) -> HighsOutcome:
    """The set cover model's LP relaxation by interior point with crossover, within HiGHS's
    default work limits (iterations, not seconds), when dual simplex ran out of its iterations
    (random 1,000 x 250, about 20,000 rows: more than the 9,000 it gets; the bound then fell
    back on the single-site servings, 4-12 % gaps). Interior point solves it in a few dozen
    iterations (1,000 x 250: 4 s; 2,000 x 500: 35 s; loaded machine)."""
    return model.solve(
        p=None,
        need=need,
        max_sites=max_sites,
        integer=False,
        time_limit_s=remaining(deadline),
        seed=seed,
        options={"solver": "ipm"},
    )


def bound_budget(model: Model, *, work: float | None = None, most: int | None = None) -> int:
    """Simplex iterations a bound search may spend on ``model``: ``work / (2 * (rows + sites +
    pairs))`` (:data:`BOUND_WORK` by default), at most ``most`` (:data:`MAX_BOUND_ITERATIONS`);
    ``0`` above :data:`MAX_BOUND_LINES` lines (no search)."""
    lines = model.m + model.n + model.nnz
    if lines > MAX_BOUND_LINES:
        return 0
    work = BOUND_WORK if work is None else work
    most = MAX_BOUND_ITERATIONS if most is None else most
    return int(min(most, work // (2 * lines)))


def raise_bound(
    model: Model,
    lower: int,
    sites: np.ndarray,
    need: float,
    *,
    seed: int,
    deadline: float = math.inf,
) -> tuple[int, np.ndarray]:
    """Raise ``lower`` (a proven bound, at most ``sites.size``) rung by rung with proving
    searches (:class:`_Tree`) up to one site below the answer in hand; on that last rung the
    proving search races a dive (:data:`DIVE_SHARE` of the steps of :data:`RACE_STEP` each, up
    to :data:`DIVE_LIMIT`) and a cover the dive finds replaces the answer. All within
    :func:`bound_budget` simplex iterations.

    Returns the proven bound and the best cover (optimal when its size is the bound). Stops at
    ``deadline`` (a caller's time limit) between nodes.
    """
    sites = np.asarray(sites, dtype=np.int64)
    budget = bound_budget(model)
    if lower >= sites.size or budget == 0:
        return lower, sites
    lp = _NodeLP(model, lower, seed=seed)
    spent = 0
    while lower < sites.size and spent < budget:
        if lower < sites.size - 1:
            rung = search_rung(
                lp, lower, need, budget=budget - spent, seed=seed, prove=True, deadline=deadline
            )
        else:
            rung = _race(lp, lower, need, budget - spent, seed=seed, deadline=deadline)
        spent += rung.iterations
        _log(rung)
        if rung.cover is not None:
            sites = np.asarray(rung.cover, dtype=np.int64)
        elif rung.proved:
            lower += 1
        else:
            break
    return lower, sites


def _race(lp: _NodeLP, sites: int, need: float, budget: int, *, seed: int, deadline: float) -> Rung:
    """A proving search (on ``lp``) and a dive (on an LP of its own, so that the proof's tree
    does not depend on it) on the same rung, grown in turns (the dive :data:`DIVE_SHARE` of
    each :data:`RACE_STEP` until it has spent :data:`DIVE_LIMIT`, then the proof alone) until
    one ends or ``budget`` is spent: the proof when it ends, else a cover either found."""
    prove = _Tree(lp, sites, need, prove=True, seed=seed)
    prove.grow(1, budget, deadline)  # the root, whose basis starts the dive's root too
    dive = _Tree(_NodeLP(lp.model, sites, seed=seed), sites, need, prove=False, seed=seed)
    if prove.stack:
        dive.stack = [replace(dive.stack[0], basis=prove.stack[-1].basis)]
    while not prove.ended and dive.cover is None and time.perf_counter() < deadline:
        if dive.ended and not dive.stack:  # the dive ended its tree: a proof too
            break
        turns = [(prove, RACE_STEP * (1 - DIVE_SHARE)), (dive, RACE_STEP * DIVE_SHARE)]
        if dive.ended or dive.spent >= DIVE_LIMIT:
            turns = [(prove, RACE_STEP)]
        for tree, share in turns:
            left = budget - prove.spent - dive.spent
            if left <= 0:
                break
            tree.grow(tree.spent + int(min(share, left)), left, deadline)
            if tree.ended:
                break
        if budget - prove.spent - dive.spent <= 0:
            break
    nodes, spent = prove.nodes + dive.nodes, prove.spent + dive.spent
    for tree in (dive, prove):
        rung = tree.rung()
        if rung.proved or rung.cover is not None:
            return Rung(sites, rung.proved, rung.cover, nodes, spent)
    return Rung(sites, False, None, nodes, spent)


def _log(rung: Rung) -> None:
    outcome = "cannot" if rung.proved else "can" if rung.cover is not None else "open"
    logger.debug(
        "capacitated cover bound: %d sites %s (%d nodes, %d iterations)",
        rung.sites,
        outcome,
        rung.nodes,
        rung.iterations,
    )
