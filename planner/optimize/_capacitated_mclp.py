"""Capacitated maximum coverage: an LP-guided multi-start swap search priced by max-flow.

The served weight of an open set is a maximum flow (source -> rows, capacity the weight; row ->
covering open site; site -> sink, the capacity), computed in integers (weights scaled to
:data:`FLOW_SCALE` per unit of the total weight: exact comparisons, within 10^-9 of the
assignment LP) by the compiled kernels of :mod:`planner.optimize._mclp_flow`; a swap is priced
from the incumbent's flow (close one site, open another, augment): 0.08 ms on average on random
1,000 x 250, Python included, against 4-10 ms for the LP (loaded machine).

:func:`pool_search` restricts the swaps to a *pool* of sites: the support of the LP relaxation
(sites open at some positive level), the incumbent, and the closed sites whose reduced-cost
loss (what forcing them open costs the LP bound) is within :data:`POOL_LOSS_SHARE` of the gap
left (without an LP: the sites that could serve the most alone). On random 1,000 x 250, p = 20,
HiGHS's best answers open 19-20 sites of that pool, while the 1-swap local optima over every
candidate reached from greedy stay 1-3 % short (seed 3: 531,296 served against 541,797). The
neighbourhood is complete inside the pool (every open site against every closed pool site, first
improvement in a cyclic order), and the search restarts from the LP's top ``p`` sites, from
seeded roundings of the LP (sites drawn with probabilities following their LP level) and from
kicks of the best set met, until :data:`STALL_STARTS` starts in a row bring nothing or its work
(:data:`POOL_SEARCH_WORK`, rows and pairs scanned: a count, never seconds) is spent.
"""

from __future__ import annotations

import logging
import math
import time
from typing import NamedTuple

import numpy as np

from planner.optimize._capacitated_cover_bound import _NodeLP, bound_budget, search_rung
from planner.optimize._capacitated_model import Model
from planner.optimize._highs import HighsOutcome
from planner.optimize._mclp_flow import augment, close_site

logger = logging.getLogger(__name__)

#: Work of :func:`certify` (as :func:`~planner.optimize._capacitated_cover_bound.bound_budget`):
#: the set cover bound's budget before it was raised for its proofs.
CERTIFY_WORK = 1.5e10
CERTIFY_ITERATIONS = 700_000
#: Integer units per unit of the total weight in the max-flow (int64 amounts).
FLOW_SCALE = 2.0**40
#: Work of :func:`pool_search`: rows and pairs its max-flow kernel scans, plus the pairs of the
#: flows it copies. Random 1,000 x 250, p = 20: about 60,000 per swap (0.08 ms), 51,578 swaps
#: and 17 starts on seed 3 (4 s of CPU on a loaded machine).
POOL_SEARCH_WORK = 3e9
#: Consecutive starts that do not improve the best set before the search stops.
STALL_STARTS = 20
#: No search when the incumbent is within this share of the LP bound (proven optimal).
PROVEN_GAP = 1e-6
#: Closed sites outside the LP support added to the pool: those whose reduced-cost loss is
#: within this share of the gap between the LP bound and the incumbent, at most
#: ``POOL_EXTRA_SHARE * p`` of them, least loss first (HiGHS's best answer on random 1,000 x 250
#: seed 0 opens two sites at level 0, of loss 0 and 359 in a gap of 11,500).
POOL_LOSS_SHARE = 0.05
POOL_EXTRA_SHARE = 2.0
#: Pool without an LP: this many times ``p`` sites, by what each could serve alone.
POOL_WITHOUT_LP = 2
#: Sites a kick swaps (random open sites for random closed pool sites).
KICK_SIZE = 3
#: Level added to every pool site's LP level when a rounding draws sites.
ROUNDING_FLOOR = 0.05


#: Certified gap :func:`certify` aims at when the LP bound leaves more (issue 21's 1 %).
CERTIFY_GAP = 0.01


class Flow(NamedTuple):
    """An open set and a maximum flow on it (integer amounts per pair, per row, per site)."""

    sites: np.ndarray
    value: int
    flow: np.ndarray
    served: np.ndarray
    load: np.ndarray


class FlowPricer:
    """Maximum flows of open sets and of swaps (from the incumbent's flow), with the work spent
    (see :data:`POOL_SEARCH_WORK`)."""

    def __init__(self, model: Model, budget: float, deadline: float = math.inf) -> None:
        self.m, self.n = model.m, model.n
        self.rptr = model.csr.indptr.astype(np.int64)
        self.rcol, self.erow = model.col, model.row.astype(np.int64)
        self.centry = np.argsort(self.rcol, kind="stable").astype(np.int64)
        self.cptr = np.concatenate([[0], np.cumsum(np.bincount(self.rcol, minlength=self.n))])
        self.per_site = np.diff(self.cptr)
        self.scale = FLOW_SCALE / max(float(model.w.sum()), 1e-300)
        colw = np.bincount(self.rcol, weights=model.w[self.erow], minlength=self.n)
        self.w = np.floor(model.w * self.scale).astype(np.int64)
        self.cap = np.floor(np.minimum(model.cap, colw) * self.scale).astype(np.int64)
        self.budget, self.deadline, self.spent = budget, deadline, 0.0

    @property
    def spent_out(self) -> bool:
        return self.spent >= self.budget or time.perf_counter() > self.deadline

    def start(self, sites: np.ndarray) -> Flow:
        """A maximum flow on ``sites`` from zero."""
        flow = np.zeros(self.rcol.size, np.int64)
        served, load = np.zeros(self.m, np.int64), np.zeros(self.n, np.int64)
        return self._augment(sites, flow, served, load)

    def swap(self, state: Flow, out: int, into: int) -> Flow:
        """A maximum flow on ``state.sites`` with ``out`` closed and ``into`` opened."""
        flow, served, load = state.flow.copy(), state.served.copy(), state.load.copy()
        close_site(self.erow, self.cptr, self.centry, flow, served, load, out)
        sites = np.sort(np.concatenate([state.sites[state.sites != out], [into]]))
        return self._augment(sites, flow, served, load)

    def _augment(
        self, sites: np.ndarray, flow: np.ndarray, served: np.ndarray, load: np.ndarray
    ) -> Flow:
        is_open = np.zeros(self.n, np.bool_)
        is_open[sites] = True
        value, work = augment(
            self.rptr, self.rcol, self.erow, self.cptr, self.centry, self.w, self.cap,
            flow, served, load, is_open,
        )  # fmt: skip
        self.spent += float(work + self.rcol.size)  # the search's and the copies' work
        return Flow(sites, int(value), flow, served, load)


def pool_search(
    model: Model,
    selected: np.ndarray,
    p: int,
    *,
    lp: HighsOutcome | None,
    seed: int,
    deadline: float = math.inf,
) -> np.ndarray:
    """The best open set of ``p`` sites found by swap searches over the pool.

    Parameters
    ----------
    model
        The capacitated model.
    selected
        The incumbent (``p`` sites), the first start.
    p
        Number of sites.
    lp
        The LP relaxation's solution (site levels ``x_j``, and reduced costs: what forcing a
        closed site open would cost the bound), or ``None``.
    seed
        Seeds the roundings and kicks.
    deadline
        A caller's time limit (``perf_counter`` time); the work budget applies first.
    """
    sites = np.unique(np.asarray(selected, dtype=np.int64))
    if sites.size != p or p >= model.n:
        return sites
    flow = FlowPricer(model, POOL_SEARCH_WORK, deadline)
    level = loss = None
    if lp is not None and lp.x is not None and lp.reduced_costs is not None:
        level = np.clip(lp.x[model.nnz :], 0.0, 1.0)
        loss = np.clip(-lp.reduced_costs[model.nnz :], 0.0, None)
    incumbent = flow.start(sites)
    gap = lp.bound - incumbent.value / flow.scale if lp is not None else math.inf
    pool = _pool(model, sites, p, level, loss, gap)
    if pool.size <= p or (lp is not None and gap <= PROVEN_GAP * lp.bound):
        return sites  # nothing to swap, or the LP bound proves the incumbent
    rng = np.random.default_rng(seed)
    weight = (level[pool] if level is not None else np.ones(pool.size)) + ROUNDING_FLOOR
    starts = [sites]
    if level is not None:
        starts.append(np.sort(pool[np.argsort(-level[pool], kind="stable")[:p]]))
    best = incumbent
    turn = stall = 0
    while not flow.spent_out and stall < STALL_STARTS:
        if turn < len(starts):
            start = starts[turn]
        elif turn % 2:
            start = np.sort(rng.choice(pool, size=p, replace=False, p=weight / weight.sum()))
        else:
            start = _kick(best.sites, pool, rng)
        turn += 1
        found = _climb(flow, flow.start(start), pool)
        stall += 1
        if found.value > best.value:
            best, stall = found, 0
    logger.debug(
        "capacitated MCLP pool search: pool %d, %d starts, work %g, served %.6g",
        pool.size,
        turn,
        flow.spent,
        best.value / flow.scale,
    )
    return best.sites


def better_of(model: Model, selected: np.ndarray, found: np.ndarray, *, seed: int) -> np.ndarray:
    """``found`` (e.g. HiGHS's answer) when it opens as many sites as ``selected`` and its best
    assignment serves at least as much; else ``selected``."""
    if found.shape[0] != selected.shape[0]:
        return selected
    better = model.served(found, seed=seed) >= model.served(selected, seed=seed)
    return found if better else selected


def certify(
    model: Model,
    selected: np.ndarray,
    p: int,
    bound: float,
    *,
    seed: int,
    deadline: float = math.inf,
) -> tuple[float, np.ndarray]:
    """Tighten ``bound`` to a certified gap of :data:`CERTIFY_GAP` when the LP leaves more.

    A proving branch-and-bound (:func:`planner.optimize._capacitated_cover_bound.search_rung`,
    "can ``p`` sites serve ``need``?") with ``need`` the served weight of ``selected`` raised by
    just under :data:`CERTIFY_GAP`: every node's LP relaxation below ``need`` proves that no
    ``p`` sites serve that much, so ``need`` is an upper bound. A set the search meets that
    serves ``need`` replaces ``selected``. Work in simplex iterations, as the set cover bound
    (never seconds); ``deadline`` is a caller's time limit, checked between nodes.

    Returns the bound (``bound`` unchanged when nothing was proved) and the answer.
    """
    served = model.served(selected, seed=seed)
    need = served * (1.0 + CERTIFY_GAP * (1.0 - 1e-3))
    budget = bound_budget(model, work=CERTIFY_WORK, most=CERTIFY_ITERATIONS)
    if not (math.isfinite(bound) and bound > need and served > 0.0) or budget == 0:
        return bound, selected
    lp = _NodeLP(model, p, seed=seed)
    rung = search_rung(lp, p, need, budget=budget, seed=seed, prove=True, deadline=deadline)
    logger.debug(
        "capacitated MCLP certificate at %.2f %%: %s (%d nodes, %d iterations)",
        100 * CERTIFY_GAP,
        "proved" if rung.proved else "better set" if rung.cover is not None else "open",
        rung.nodes,
        rung.iterations,
    )
    if rung.proved:
        return need, selected
    if rung.cover is not None:
        return bound, better_of(model, selected, rung.cover, seed=seed)
    return bound, selected


def single_site_bound(model: Model, p: int) -> float:
    """An upper bound on the served weight: the ``p`` best single-site servings."""
    colw = np.bincount(model.col, weights=model.w[model.row], minlength=model.n)
    single = np.minimum(colw, model.cap)
    return min(float(np.sort(single)[::-1][:p].sum()), float(model.w.sum()))


def _pool(
    model: Model,
    sites: np.ndarray,
    p: int,
    level: np.ndarray | None,
    loss: np.ndarray | None,
    gap: float,
) -> np.ndarray:
    """The sites the search may open: the LP support, ``sites`` and the closed sites of least
    ``loss``; without an LP, ``sites`` and the sites that could serve the most alone."""
    if level is None or loss is None:
        colw = np.bincount(model.col, weights=model.w[model.row], minlength=model.n)
        alone = np.minimum(colw, model.cap)
        top = np.argsort(-alone, kind="stable")[: POOL_WITHOUT_LP * p]
        return np.union1d(sites, top[alone[top] > 0])
    core = np.union1d(np.flatnonzero(level > 1e-6), sites)
    rest = np.setdiff1d(np.arange(model.n), core)
    rest = rest[np.argsort(loss[rest], kind="stable")[: math.ceil(POOL_EXTRA_SHARE * p)]]
    return np.union1d(core, rest[loss[rest] <= POOL_LOSS_SHARE * gap])


def _kick(sites: np.ndarray, pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``sites`` with :data:`KICK_SIZE` random open sites swapped for random closed pool sites."""
    closed = np.setdiff1d(pool, sites)
    size = min(KICK_SIZE, closed.size, sites.size)
    out = rng.choice(sites, size=size, replace=False)
    into = rng.choice(closed, size=size, replace=False)
    return np.sort(np.concatenate([np.setdiff1d(sites, out), into]))


def _climb(flow: FlowPricer, state: Flow, pool: np.ndarray) -> Flow:
    """First-improvement swaps from ``state``: every (closed pool site, open site) pair is tried
    in a cyclic order that resumes after the last swap made, to a local optimum (a full cycle
    without improvement) or until the work is spent."""
    position, since = 0, 0  # position in the cycle over (into, out) pairs; pairs since a swap
    closed = np.setdiff1d(pool, state.sites)
    while not flow.spent_out:
        sites = state.sites
        pairs = closed.size * sites.size
        if since >= pairs:
            break
        position %= pairs
        trial = flow.swap(state, sites[position % sites.size], closed[position // sites.size])
        if trial.value > state.value:
            state, since = trial, 0
            closed = np.setdiff1d(pool, state.sites)
        else:
            since += 1
        position += 1
    return state
