"""Tabu search and a population search over single swaps for maximum coverage.

A tabu search improves one selection (Glover's short-term memory with aspiration, random
tenures, kicked restarts from the best; :func:`planner.optimize._cover_kernels.tabu`).
:func:`population_search` runs it from several starts (a lone start: one tabu run), then
breeds: two parents' sites are pooled, the pool is reduced to ``p`` by greedily closing the
site whose loss is smallest, and the child is improved by a shorter tabu search; it replaces the
worst member when better and new (a memetic algorithm, as Alp, Erkut and Drezner (2003) do for
p-median with their merge-and-drop crossover). Local optima of metro MCLPs differ by up to half
their sites, so single-trajectory searches stall; pooling sites of good solutions crosses those
basins. The best answer can then be polished by pairs of swaps, an ejection chain of length two
(:func:`planner.optimize._cover_kernels.pair_polish`). Tabu runs of one phase run on a thread
pool; the kernels of :mod:`planner.optimize._cover_kernels` release the GIL.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

import numpy as np
import scipy.sparse as sp

from planner.optimize import _cover_kernels as kernels

logger = logging.getLogger(__name__)

# numba's dispatchers are opaque to mypy: the kernels' signatures, as documented there
_TABU = cast(Callable[..., tuple[np.ndarray, float, int]], kernels.tabu)
_DROP_TO = cast(Callable[..., np.ndarray], kernels.drop_to)
_PAIR_POLISH = cast(Callable[..., tuple[np.ndarray, float]], kernels.pair_polish)

#: Share of a population search's moves spent improving its starts; the rest breed children.
START_SHARE = 0.5
#: The column adjacency speeds up move choice (see :func:`_cover_kernels._best_move_sparse`)
#: when it holds at most this share of all column pairs, and costs at most this many entry
#: products (the sum of squared row degrees) to build.
ADJACENCY_MAX_SHARE = 0.25
ADJACENCY_MAX_WORK = 5e7
#: The pair polish visits each site of the answer at most this many times (it stops sooner once
#: a whole cycle improves nothing): a 20,000 x 4,000 instance with p = 200 spent 14 s in an
#: unbounded polish.
POLISH_CYCLES = 4
#: Children bred at once (from the population as it stood before them).
BATCH = 2
#: A search restarts from its best after ``moves // PATIENCE_DIVISOR`` moves without progress.
PATIENCE_DIVISOR = 12


@dataclass(frozen=True, eq=False)
class KernelArrays:
    """The coverage matrix in both layouts as int64 arrays, with float64 weights, and the
    column adjacency (columns sharing a row) when it is sparse enough to speed up the moves
    (see :data:`ADJACENCY_MAX_SHARE`; otherwise ``n_ptr`` and ``n_idx`` are empty)."""

    r_ptr: np.ndarray
    r_idx: np.ndarray
    c_ptr: np.ndarray
    c_idx: np.ndarray
    w: np.ndarray
    n_ptr: np.ndarray
    n_idx: np.ndarray

    @classmethod
    def of(cls, csr: sp.csr_array, csc: sp.csc_array, weights: np.ndarray) -> KernelArrays:
        """Convert a CSR/CSC pair and its row weights."""
        n_ptr, n_idx = _adjacency(csr)
        return cls(
            np.ascontiguousarray(csr.indptr, dtype=np.int64),
            np.ascontiguousarray(csr.indices, dtype=np.int64),
            np.ascontiguousarray(csc.indptr, dtype=np.int64),
            np.ascontiguousarray(csc.indices, dtype=np.int64),
            np.ascontiguousarray(weights, dtype=np.float64),
            n_ptr,
            n_idx,
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


def _adjacency(csr: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the columns sharing a row with each column, or two empty arrays when building it
    would cost more than :data:`ADJACENCY_MAX_WORK` or it is denser than
    :data:`ADJACENCY_MAX_SHARE` of all pairs (a move then scans the whole table anyway)."""
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    n = csr.shape[1]
    row_degree = np.diff(csr.indptr).astype(np.float64)
    if n == 0 or float(row_degree @ row_degree) > ADJACENCY_MAX_WORK:
        return empty
    ones = sp.csr_array(
        (np.ones(csr.nnz, dtype=np.float32), csr.indices, csr.indptr), shape=csr.shape
    )
    adjacency = sp.csr_array(ones.T @ ones)
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    if adjacency.nnz > ADJACENCY_MAX_SHARE * n * n:
        return empty
    adjacency.sort_indices()
    return (
        np.ascontiguousarray(adjacency.indptr, dtype=np.int64),
        np.ascontiguousarray(adjacency.indices, dtype=np.int64),
    )


def new_seed(rng: np.random.Generator) -> int:
    """A seed for a tabu run, drawn from ``rng``."""
    return int(rng.integers(1, 2**62))


#: A tabu run's outcome: best sites (sorted), their value, swaps made.
Found = tuple[np.ndarray, float, int]


@dataclass(frozen=True)
class _Run:
    """One tabu run to make: its start, swap budget and random seed."""

    start: np.ndarray
    moves: int
    seed: int


def _tabu(
    arrays: KernelArrays,
    run: _Run,
    *,
    deadline: float,
    target: float,
    stop: np.ndarray | None = None,
) -> Found:
    """One compiled tabu run: (best sites, their value, moves made); it ends early once
    ``stop[0]`` is set (see :func:`stop_flag`)."""
    best, value, made = _TABU(
        *arrays.matrix,
        arrays.n_ptr,
        arrays.n_idx,
        np.ascontiguousarray(np.sort(run.start), dtype=np.int64),
        int(max(1, run.moves)),
        int(max(10, run.moves // PATIENCE_DIVISOR)),
        float(target),
        run.seed,
        arrays.tol,
        float(deadline),
        stop_flag() if stop is None else stop,
    )
    return np.asarray(best, dtype=np.int64), float(value), int(made)


def stop_flag() -> np.ndarray:
    """A flag another thread sets (``flag[0] = 1``) to end a tabu run early."""
    return np.zeros(1, dtype=np.uint8)


def _run_all(
    arrays: KernelArrays,
    runs: list[_Run],
    pool: ThreadPoolExecutor | None,
    *,
    deadline: float,
    target: float,
) -> list[Found]:
    """The tabu runs, in order; concurrently on ``pool`` (the kernel releases the GIL)."""
    if pool is None:
        return [_tabu(arrays, run, deadline=deadline, target=target) for run in runs]
    futures = [pool.submit(_tabu, arrays, run, deadline=deadline, target=target) for run in runs]
    return [future.result() for future in futures]


def population_search(
    arrays: KernelArrays,
    starts: list[np.ndarray],
    *,
    rng: np.random.Generator,
    per_start: int,
    children: int,
    deadline: float = math.inf,
    target: float = math.inf,
    threads: int = 1,
    done: Sequence[Found] = (),
    polish: bool = False,
) -> np.ndarray:
    """Tabu search of ``per_start`` swaps from every start, then merge-and-drop children of
    random parent pairs (``per_start // 2`` swaps each) until ``children`` swaps are spent.

    ``done`` holds runs already made (by :func:`tabu_run`, e.g. while the caller waited for an
    LP): they join the population. Children are bred :data:`BATCH` at a time from the
    population as it stood before the batch, so the answer does not depend on ``threads``, the
    number of tabu runs made at once. With ``polish`` the best answer is then improved by pairs
    of swaps (:func:`planner.optimize._cover_kernels.pair_polish`; only where the column
    adjacency is built, see :data:`ADJACENCY_MAX_SHARE`). Stops early at ``deadline``
    or once a solution reaches ``target``. Returns the best selection found, sorted.
    """
    p = int(starts[0].shape[0]) if starts else int(done[0][0].shape[0])
    if p == 0 or p >= arrays.n:
        return np.sort(starts[0] if starts else done[0][0])
    pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
    try:
        runs = [_Run(start, per_start, new_seed(rng)) for start in starts]
        found = [*done, *_run_all(arrays, runs, pool, deadline=deadline, target=target)]
        population = [(value, sites) for sites, value, _ in found]
        best_value, best = max(population, key=lambda member: member[0])
        used = 0
        made_children = 0
        while (
            used < children
            and best_value < target - arrays.tol
            and len(population) > 1
            and not _past(deadline)
        ):
            runs = [
                _child(arrays, population, p, rng=rng, moves=per_start // 2) for _ in range(BATCH)
            ]
            for child, value, made in _run_all(
                arrays, runs, pool, deadline=deadline, target=target
            ):
                used += max(made, 1)
                made_children += 1
                if value > best_value + arrays.tol:
                    best_value, best = value, child
                _admit(population, child, value)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)  # on an error, start no further runs
    if polish and best_value < target - arrays.tol and not _past(deadline):
        seed = new_seed(rng)
        best, best_value = _polished(arrays, best, best_value, seed=seed, deadline=deadline)
    logger.debug(
        "population search: %d starts, %d children, best %.6g",
        len(found),
        made_children,
        best_value,
    )
    return best


def _polished(
    arrays: KernelArrays, best: np.ndarray, value: float, *, seed: int, deadline: float
) -> tuple[np.ndarray, float]:
    """``best`` improved by pairs of swaps (at most :data:`POLISH_CYCLES` cycles over its
    sites), with its value."""
    polished, polished_value = _PAIR_POLISH(
        *arrays.matrix,
        arrays.n_ptr,
        arrays.n_idx,
        best,
        seed,
        arrays.tol,
        POLISH_CYCLES * best.shape[0],
        float(deadline),
    )
    if polished_value > value + arrays.tol:
        logger.debug("pair polish: %.6g -> %.6g", value, polished_value)
        return np.asarray(polished, dtype=np.int64), float(polished_value)
    return best, value


def per_start_moves(moves: int, starts: int) -> int:
    """Swaps of each start's tabu run in a population search of ``moves`` swaps."""
    share = START_SHARE if starts > 1 else 1.0  # a lone start has no one to breed with
    return max(1, int(share * moves) // max(starts, 1))


def tabu_run(
    arrays: KernelArrays,
    start: np.ndarray,
    *,
    seed: int,
    moves: int,
    deadline: float = math.inf,
    target: float = math.inf,
    stop: np.ndarray | None = None,
) -> Found:
    """One tabu run of ``moves`` swaps from ``start``: (best sites, value, swaps made); ``stop``:
    a :func:`stop_flag` that ends it early when set."""
    return _tabu(arrays, _Run(start, moves, seed), deadline=deadline, target=target, stop=stop)


def _admit(population: list[tuple[float, np.ndarray]], child: np.ndarray, value: float) -> None:
    """Put ``child`` in place of the worst member when it is better and not already a member."""
    worst = min(range(len(population)), key=lambda at: population[at][0])
    new = not any(np.array_equal(child, sites) for _, sites in population)
    if new and value > population[worst][0]:
        population[worst] = (value, child)


def _child(
    arrays: KernelArrays,
    population: list[tuple[float, np.ndarray]],
    p: int,
    *,
    rng: np.random.Generator,
    moves: int,
) -> _Run:
    """The tabu run of a child of two random members: their pooled sites dropped greedily to
    ``p``."""
    first, second = rng.choice(len(population), size=2, replace=False)
    pool = np.union1d(population[first][1], population[second][1])
    if pool.shape[0] == p:  # identical parents: widen the pool with random columns
        closed = np.setdiff1d(np.arange(arrays.n), pool)
        extra = rng.choice(closed, size=min(max(1, p // 5), closed.shape[0]), replace=False)
        pool = np.union1d(pool, extra)
    child = _DROP_TO(*arrays.matrix, pool.astype(np.int64), p, new_seed(rng))
    return _Run(np.asarray(child, dtype=np.int64), moves, new_seed(rng))


def _past(deadline: float) -> bool:
    return time.perf_counter() > deadline
