"""Capacitated coverage searches over open sites with exact reassignment.

* :func:`reduce_sites` — from a cover, close one site and repair the share with swaps (close an
  open site, open a closed one), each move priced by the exact best assignment (a max-flow LP on
  the open set); a repaired cover of one site fewer replaces the cover and the search goes on.
  Its work is counted in LP entries (:data:`COVER_SEARCH_WORK`), never seconds.
* :func:`improve_served` — maximum coverage's iterated swap search (the same swaps and kicks,
  maximising the served weight at ``p`` sites).

The lower bound (and an LP-guided search for smaller covers) is in
:mod:`planner.optimize._capacitated_cover_bound`.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from planner.optimize._capacitated_model import Model
from planner.optimize._result import RTOL

logger = logging.getLogger(__name__)

#: Work of :func:`reduce_sites`: the entries of its assignment LPs, summed (an LP on the open
#: set has one entry per covered (row, open site) pair). Random 1,000 x 250 (10,199 pairs), a
#: 90 % cover of 23 sites: about 2,300 entries per LP.
COVER_SEARCH_WORK = 2e6
#: Work of :func:`improve_served` (maximum coverage), in the same unit.
MCLP_SEARCH_WORK = 5e5
#: Perturbations of a failed repair (each a new swap search) before the search gives up, and
#: the sites each swaps.
KICKS = 8
KICK_SIZE = 2
#: Sites each way in a repair round: the closed sites that could serve the most unserved demand
#: against the open sites with the least load.
REPAIR_WIDTH = 6


class _Pricer:
    """Exact assignments of open sets, with the work they cost (LP entries) counted."""

    def __init__(
        self, model: Model, need: float, seed: int, budget: float, deadline: float = math.inf
    ) -> None:
        self.model, self.need, self.seed, self.budget = model, need, seed, budget
        self.deadline = deadline
        self.per_site = np.bincount(model.col, minlength=model.n)
        self.spent = 0.0

    @property
    def spent_out(self) -> bool:
        return self.spent >= self.budget or time.perf_counter() > self.deadline

    def served(self, sites: np.ndarray) -> tuple[float, np.ndarray]:
        """Weight the best assignment to ``sites`` serves, and its amounts (zero on failure)."""
        self.spent += float(self.per_site[sites].sum())
        z = self.model.assign(sites, seed=self.seed) if sites.size else None
        if z is None:
            return 0.0, np.zeros(self.model.nnz)
        return float(z.sum()), z

    def enough(self, served: float) -> bool:
        return served >= self.need * (1 - RTOL)


def reduce_sites(
    model: Model, sites: np.ndarray, need: float, *, seed: int, deadline: float = math.inf
) -> np.ndarray:
    """Fewer sites serving ``need``: close the least loaded open site and repair the share by
    an iterated swap search (:func:`_repair`), repeated until a repair fails within
    :data:`KICKS` kicks, the work is spent or ``deadline`` (a caller's time limit) passes."""
    sites = np.unique(np.asarray(sites, dtype=np.int64))
    pricer = _Pricer(model, need, seed, COVER_SEARCH_WORK, deadline)
    served, z = pricer.served(sites)
    if not pricer.enough(served):
        return sites
    rng = np.random.default_rng(seed)
    while sites.size > 1 and not pricer.spent_out:
        load = np.bincount(model.col, weights=z, minlength=model.n)
        start = sites[sites != sites[np.argmin(load[sites])]]
        repaired = _repair(pricer, start, rng)
        if repaired is None:
            break
        sites, z = repaired
        logger.debug("capacitated cover: %d sites (work %g)", sites.size, pricer.spent)
    return sites


def _repair(
    pricer: _Pricer, sites: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray] | None:
    """An open set of ``sites.size`` sites serving the share, and its amounts: swap search
    (:func:`_climb`) from ``sites``, then from :data:`KICKS` perturbations of the best set met
    (:data:`KICK_SIZE` random open sites swapped for random closed ones among those that could
    serve the most unserved demand); ``None`` when none reaches the share."""
    best = _climb(pricer, sites, *pricer.served(sites))
    for _ in range(KICKS):
        if pricer.enough(best[2]) or pricer.spent_out:
            break
        kicked = _kick(pricer.model, best[0], best[1], rng)
        found = _climb(pricer, kicked, *pricer.served(kicked))
        if found[2] > best[2]:
            best = found
    return (best[0], best[1]) if pricer.enough(best[2]) else None


def improve_served(
    model: Model, sites: np.ndarray, *, seed: int, deadline: float = math.inf
) -> np.ndarray:
    """Maximum coverage's iterated search after the swap search: :data:`KICKS` kicks
    (:func:`_kick`) each followed by the swaps of :func:`_climb`, the best set met kept; within
    :data:`MCLP_SEARCH_WORK` LP entries or until ``deadline``."""
    sites = np.unique(np.asarray(sites, dtype=np.int64))
    if sites.size == 0 or sites.size == model.n:
        return sites
    pricer = _Pricer(model, math.inf, seed, MCLP_SEARCH_WORK, deadline)
    rng = np.random.default_rng(seed)
    best = _climb(pricer, sites, *pricer.served(sites))
    for _ in range(KICKS):
        if pricer.spent_out:
            break
        kicked = _kick(model, best[0], best[1], rng)
        found = _climb(pricer, kicked, *pricer.served(kicked))
        if found[2] > best[2] * (1 + 1e-9):
            best = found
    return best[0]


def _offer(model: Model, sites: np.ndarray, z: np.ndarray) -> np.ndarray:
    """What each closed site could serve of the demand ``z`` leaves unserved (``-inf`` open)."""
    left = np.clip(model.w - np.bincount(model.row, weights=z, minlength=model.m), 0, None)
    offer = np.minimum(
        np.bincount(model.col, weights=left[model.row], minlength=model.n), model.cap
    )
    offer[sites] = -np.inf
    return offer


def _kick(model: Model, sites: np.ndarray, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``sites`` with :data:`KICK_SIZE` random open sites swapped for random closed sites among
    the ``3 * REPAIR_WIDTH`` that could serve the most unserved demand."""
    offer = _offer(model, sites, z)
    pool = np.argsort(-offer, kind="stable")[: 3 * REPAIR_WIDTH]
    pool = pool[np.isfinite(offer[pool])]
    size = min(KICK_SIZE, pool.size, sites.size)
    out = rng.choice(sites, size=size, replace=False)
    into = rng.choice(pool, size=size, replace=False)
    return np.sort(np.concatenate([np.setdiff1d(sites, out), into]))


def _climb(
    pricer: _Pricer, sites: np.ndarray, served: float, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Swaps keeping ``sites.size`` sites, first improvement of the served weight, until the
    share is served, no swap of the :data:`REPAIR_WIDTH` best each way improves, or the work is
    spent; closed sites ranked by what they could serve of the unserved demand, open ones by
    their load."""
    model = pricer.model
    improved = True
    while improved and not pricer.enough(served) and not pricer.spent_out:
        load = np.bincount(model.col, weights=z, minlength=model.n)
        offer = _offer(model, sites, z)
        ins = np.argsort(-offer, kind="stable")[:REPAIR_WIDTH]
        ins = ins[offer[ins] > 0]
        outs = sites[np.argsort(load[sites], kind="stable")[:REPAIR_WIDTH]]
        score = offer[ins][None, :] - load[outs][:, None]
        improved = False
        for flat in np.argsort(-score, axis=None, kind="stable"):
            a, b = np.unravel_index(int(flat), score.shape)
            trial = np.sort(np.concatenate([sites[sites != outs[a]], [ins[b]]]))
            value, zt = pricer.served(trial)
            if value > served * (1 + 1e-9):
                sites, z, served, improved = trial, zt, value, True
                break
            if pricer.spent_out:
                break
    return sites, z, served
