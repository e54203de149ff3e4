"""Tabu search and a population search over single swaps for maximum coverage.

A tabu search improves one selection (Glover's short-term memory with aspiration, random
tenures, kicked restarts from the best; :func:`planner.optimize._cover_kernels.tabu`).
:func:`population_search` runs it from several starts (a lone start: one tabu run), then
breeds: two parents' sites are pooled, the pool is reduced to ``p`` by greedily closing the
site whose loss is smallest, and the child is improved by a shorter tabu search; it replaces the
worst member when better and new (a memetic algorithm, as Alp, Erkut and Drezner (2003) do for
p-median with their merge-and-drop crossover). Local optima of metro MCLPs differ by up to half
their sites, so single-trajectory searches stall; pooling sites of good solutions crosses those
basins. The moves run in the compiled kernels of :mod:`planner.optimize._cover_kernels`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import scipy.sparse as sp

from planner.optimize import _cover_kernels as kernels

logger = logging.getLogger(__name__)

# numba's dispatchers are opaque to mypy: the kernels' signatures, as documented there
_TABU = cast(Callable[..., tuple[np.ndarray, float, int]], kernels.tabu)
_DROP_TO = cast(Callable[..., np.ndarray], kernels.drop_to)

#: Share of a population search's moves spent improving its starts; the rest breed children.
START_SHARE = 0.5
#: A search restarts from its best after ``moves // PATIENCE_DIVISOR`` moves without progress.
PATIENCE_DIVISOR = 6


@dataclass(frozen=True, eq=False)
class KernelArrays:
    """The coverage matrix in both layouts as int64 arrays, with float64 weights."""

    r_ptr: np.ndarray
    r_idx: np.ndarray
    c_ptr: np.ndarray
    c_idx: np.ndarray
    w: np.ndarray

    @classmethod
    def of(cls, csr: sp.csr_array, csc: sp.csc_array, weights: np.ndarray) -> KernelArrays:
        """Convert a CSR/CSC pair and its row weights."""
        return cls(
            np.ascontiguousarray(csr.indptr, dtype=np.int64),
            np.ascontiguousarray(csr.indices, dtype=np.int64),
            np.ascontiguousarray(csc.indptr, dtype=np.int64),
            np.ascontiguousarray(csc.indices, dtype=np.int64),
            np.ascontiguousarray(weights, dtype=np.float64),
        )

    @property
    def matrix(self) -> tuple[np.ndarray, ...]:
        """The five arrays in kernel argument order."""
        return (self.r_ptr, self.r_idx, self.c_ptr, self.c_idx, self.w)

    @property
    def n(self) -> int:
        """Number of candidate columns."""
        return int(self.c_ptr.shape[0] - 1)

    @property
    def tol(self) -> float:
        """Tolerance of value comparisons."""
        return 1e-9 * max(1.0, float(self.w.sum()))


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(1, 2**62))


def _tabu(
    arrays: KernelArrays,
    start: np.ndarray,
    *,
    rng: np.random.Generator,
    moves: int,
    patience: int,
    deadline: float,
    target: float,
) -> tuple[np.ndarray, float, int]:
    """One compiled tabu run: (best sites, their value, moves made)."""
    best, value, made = _TABU(
        *arrays.matrix,
        np.ascontiguousarray(start, dtype=np.int64),
        int(moves),
        int(max(1, patience)),
        float(target),
        _seed(rng),
        arrays.tol,
        float(deadline),
    )
    return np.asarray(best, dtype=np.int64), float(value), int(made)


def population_search(
    csr: sp.csr_array,
    csc: sp.csc_array,
    weights: np.ndarray,
    starts: list[np.ndarray],
    *,
    rng: np.random.Generator,
    moves: int,
    deadline: float = math.inf,
    target: float = math.inf,
) -> np.ndarray:
    """Tabu search from every start, then merge-and-drop children of random parent pairs.

    ``moves`` caps the swaps of the whole search: :data:`START_SHARE` of them go to the starts
    (equally), the rest to children (half a start's share each); a lone start gets them all.
    Stops early at ``deadline`` or once a solution reaches ``target``. Returns the best
    selection found, sorted.
    """
    p = int(starts[0].shape[0])
    if p == 0 or p >= csr.shape[1]:
        return np.sort(starts[0])
    arrays = KernelArrays.of(csr, csc, weights)
    share = START_SHARE if len(starts) > 1 else 1.0  # a lone start has no one to breed with
    per_start = max(1, int(share * moves) // len(starts))
    found = []
    for start in starts:
        found.append(
            _tabu(
                arrays,
                np.sort(start),
                rng=rng,
                moves=per_start,
                patience=max(10, per_start // PATIENCE_DIVISOR),
                deadline=deadline,
                target=target,
            )
        )
        if found[-1][1] >= target - arrays.tol or _past(deadline):
            break
    population = [(value, sites) for sites, value, _ in found]
    used = sum(made for _, _, made in found)
    best_value, best = max(population, key=lambda member: member[0])
    children = 0
    while (
        used < moves
        and best_value < target - arrays.tol
        and len(population) > 1
        and not _past(deadline)
    ):
        child, value, made = _breed(
            arrays,
            population,
            p,
            rng=rng,
            moves=per_start // 2,
            deadline=deadline,
            target=target,
        )
        used += max(made, 1)
        children += 1
        if value > best_value + arrays.tol:
            best_value, best = value, child
        worst = min(range(len(population)), key=lambda at: population[at][0])
        new = not any(np.array_equal(child, sites) for _, sites in population)
        if new and value > population[worst][0]:
            population[worst] = (value, child)
    logger.debug(
        "population search: %d starts, %d children, %d moves, best %.6g",
        len(starts),
        children,
        used,
        best_value,
    )
    return best


def _breed(
    arrays: KernelArrays,
    population: list[tuple[float, np.ndarray]],
    p: int,
    *,
    rng: np.random.Generator,
    moves: int,
    deadline: float,
    target: float,
) -> tuple[np.ndarray, float, int]:
    """A child of two random members: pooled sites dropped greedily to ``p``, then tabu."""
    first, second = rng.choice(len(population), size=2, replace=False)
    pool = np.union1d(population[first][1], population[second][1])
    if pool.shape[0] == p:  # identical parents: widen the pool with random columns
        closed = np.setdiff1d(np.arange(arrays.n), pool)
        extra = rng.choice(closed, size=min(max(1, p // 5), closed.shape[0]), replace=False)
        pool = np.union1d(pool, extra)
    child = _DROP_TO(*arrays.matrix, pool.astype(np.int64), p, _seed(rng))
    return _tabu(
        arrays,
        np.asarray(child, dtype=np.int64),
        rng=rng,
        moves=max(1, moves),
        patience=max(10, moves // PATIENCE_DIVISOR),
        deadline=deadline,
        target=target,
    )


def _past(deadline: float) -> bool:
    return time.perf_counter() > deadline
