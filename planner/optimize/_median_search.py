"""Array kernels for p-median: lazy greedy, fast interchange, iterated search.

The instance is held as the list of allowed (row, candidate, weighted cost) entries in row order
(CSR); a forbidden pair is simply absent. A row without an open allowed candidate costs
``penalty``, a number larger than any feasible total, so the search treats it as infeasible
without special cases.

References: Whitaker (1983) fast interchange; Resende and Werneck (2007), "A fast swap-based
local search procedure for location problems". The bound is in
:mod:`planner.optimize._median_bound`.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import scipy.sparse as sp

from planner.optimize import _median_kernels as kernels

logger = logging.getLogger(__name__)

# compiled kernels (numba dispatchers are opaque to mypy; signatures in _median_kernels)
_ASSIGN = cast(Callable[..., tuple[np.ndarray, ...]], kernels.assign)
_PROFITS = cast(Callable[..., tuple[np.ndarray, np.ndarray]], kernels.profits)


@dataclass(frozen=True, eq=False)
class Entries:
    """Allowed pairs of a p-median instance, row-major.

    ``indptr`` delimits each row's entries; ``row``, ``col`` and ``cost`` (weight x cost) are
    per entry; ``penalty`` is the cost of leaving a row unassigned; ``shape`` is (rows, cols).
    ``col_row`` and ``col_cost`` hold the same entries sorted by column, ``col_ptr`` delimiting
    each column's run.
    """

    indptr: np.ndarray
    row: np.ndarray
    col: np.ndarray
    cost: np.ndarray
    penalty: float
    shape: tuple[int, int]
    col_row: np.ndarray
    col_cost: np.ndarray
    col_ptr: np.ndarray

    def column_rows(self, j: int) -> np.ndarray:
        """Rows that may be served by candidate ``j``."""
        return self.col_row[self.col_ptr[j] : self.col_ptr[j + 1]]

    @classmethod
    def from_csr(cls, weighted: sp.csr_array) -> Entries:
        """Build from a CSR of weighted costs whose stored entries are the allowed pairs."""
        m, n = weighted.shape
        indptr = weighted.indptr.astype(np.int64)
        row = np.repeat(np.arange(m, dtype=np.int64), np.diff(indptr))
        cost = weighted.data.astype(np.float64)
        row_max = np.zeros(m)
        nonempty = np.flatnonzero(np.diff(indptr))
        if nonempty.size:
            row_max[nonempty] = np.maximum.reduceat(cost, indptr[nonempty])
        penalty = 2.0 * float(row_max.sum()) + 1.0
        col = weighted.indices.astype(np.int64)
        order = np.argsort(col, kind="stable")
        col_ptr = np.concatenate([[0], np.cumsum(np.bincount(col, minlength=n))])
        return cls(indptr, row, col, cost, penalty, (m, n), row[order], cost[order], col_ptr)


@dataclass(frozen=True, eq=False)
class State:
    """Nearest (``c1``, ``d1``) and second-nearest (``c2``, ``d2``) open candidate of each row."""

    c1: np.ndarray
    d1: np.ndarray
    c2: np.ndarray
    d2: np.ndarray

    @property
    def total(self) -> float:
        """Weighted cost of the assignment (penalties included)."""
        return float(self.d1.sum())


def state_of(entries: Entries, is_open: np.ndarray) -> State:
    """Assign every row to its cheapest open candidate; record the second cheapest cost."""
    c1, d1, c2, d2 = _ASSIGN(
        entries.indptr, entries.col, entries.cost, np.ascontiguousarray(is_open), entries.penalty
    )
    return State(c1, d1, c2, d2)


def lazy_greedy(entries: Entries, p: int) -> np.ndarray:
    """Add candidates one at a time, each cutting the total cost most (lazy evaluation).

    The saving of a candidate only shrinks as others open, so stale savings are upper bounds.
    """
    col_ptr, rows_c, cost_c = entries.col_ptr, entries.col_row, entries.col_cost
    d1 = np.full(entries.shape[0], entries.penalty)
    savings = np.zeros(entries.shape[1])
    counts = np.diff(col_ptr)
    nonempty = np.flatnonzero(counts)
    if nonempty.size:
        savings[nonempty] = np.add.reduceat(entries.penalty - cost_c, col_ptr[nonempty])
    heap = [(-s, j) for j, s in enumerate(savings.tolist())]
    heapq.heapify(heap)
    selected: list[int] = []
    while heap and len(selected) < p:
        _, j = heapq.heappop(heap)
        rows = rows_c[col_ptr[j] : col_ptr[j + 1]]
        cost = cost_c[col_ptr[j] : col_ptr[j + 1]]
        saving = float(np.maximum(d1[rows] - cost, 0.0).sum())
        if heap and saving < -heap[0][0] - 1e-12 * max(1.0, saving):
            heapq.heappush(heap, (-saving, j))
            continue
        selected.append(j)
        d1[rows] = np.minimum(d1[rows], cost)
    return np.sort(np.asarray(selected, dtype=np.int64))


def swap_profits(
    entries: Entries, is_open: np.ndarray, state: State
) -> tuple[np.ndarray, np.ndarray]:
    """Best swap for every closed candidate ``k``: (profit, open site to close).

    profit(k, r) = gain(k) - loss(r) + extra(k, r): ``gain`` is what opening ``k`` saves,
    ``loss`` what closing ``r`` costs its rows (moving to their second-nearest site), ``extra``
    gives back, for rows of ``r`` closer to ``k`` than to their second site, the difference.
    """
    profit, drop = _PROFITS(
        entries.col_ptr,
        entries.col_row,
        entries.col_cost,
        state.c1,
        state.d1,
        state.d2,
        np.ascontiguousarray(is_open),
    )
    return profit, drop


def interchange(
    entries: Entries, selected: np.ndarray, *, deadline: float = math.inf
) -> tuple[np.ndarray, State]:
    """Swap local search until no swap lowers the cost (or time is up).

    Each pass evaluates every swap, then applies the improving ones best-first as long as they
    touch disjoint rows (so each one's profit is still exact): on a large map many far-apart
    swaps are made per pass. The best swap is always among them.
    """
    is_open = np.zeros(entries.shape[1], dtype=bool)
    is_open[selected] = True
    state = state_of(entries, is_open)
    tol = 1e-10 * max(1.0, abs(state.total))
    touched = np.zeros(entries.shape[0], dtype=bool)
    while time.perf_counter() < deadline:
        profit, drop = swap_profits(entries, is_open, state)
        order = np.flatnonzero(profit > tol)
        if order.size == 0:
            break
        order = order[np.argsort(-profit[order], kind="stable")]
        by_first = _rows_by_site(state.c1, entries.shape[1])
        by_second = _rows_by_site(state.c2, entries.shape[1])
        touched[:] = False
        changed = np.zeros(entries.shape[1], dtype=bool)
        for k, r in zip(order.tolist(), drop[order].tolist(), strict=True):
            if changed[k] or changed[r]:
                continue
            rows = np.concatenate([entries.column_rows(k), by_first(r), by_second(r)])
            if touched[rows].any():
                continue
            touched[rows] = True
            changed[k] = changed[r] = True
            is_open[k], is_open[r] = True, False
        state = state_of(entries, is_open)
    return np.flatnonzero(is_open), state


def _rows_by_site(label: np.ndarray, n: int) -> Callable[[int], np.ndarray]:
    """A lookup ``site -> rows whose label is that site`` (labels of -1 are skipped)."""
    valid = np.flatnonzero(label >= 0)
    order = valid[np.argsort(label[valid], kind="stable")]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(label[valid], minlength=n))])

    def rows(site: int) -> np.ndarray:
        return order[ptr[site] : ptr[site + 1]]

    return rows


def iterated_search(
    entries: Entries,
    selected: np.ndarray,
    *,
    rng: np.random.Generator,
    deadline: float,
    patience: int,
    max_kicks: int,
    target: float,
) -> tuple[np.ndarray, State]:
    """Iterated local search: random k-swap kicks, interchange, keep the better.

    Stops after ``patience`` kicks without improvement, ``max_kicks`` kicks, at ``deadline``, or
    when the cost reaches ``target`` (a proven lower bound: nothing better exists).
    """
    best, best_state = interchange(entries, selected, deadline=deadline)
    n = entries.shape[1]
    p = best.shape[0]
    stale = kicks = 0
    kick = 1
    while stale < patience and kicks < max_kicks and best_state.total > target:
        if p == n or time.perf_counter() > deadline:
            break
        kicks += 1
        size = min(kick, p, n - p)
        closed = np.setdiff1d(np.arange(n), best)
        trial = best.copy()
        trial[rng.choice(p, size=size, replace=False)] = rng.choice(
            closed, size=size, replace=False
        )
        trial, state = interchange(entries, np.sort(trial), deadline=deadline)
        if state.total < best_state.total - 1e-10 * max(1.0, best_state.total):
            best, best_state, stale, kick = trial, state, 0, 1
        else:
            stale += 1
            kick = kick % 3 + 1
    return best, best_state
