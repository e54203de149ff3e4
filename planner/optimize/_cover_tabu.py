"""Tabu search over single swaps for maximum coverage, with incrementally kept move values.

The value of swapping open site ``s`` (column ``j``) for closed column ``k`` is

    delta(k, s) = add[k] - loss[s] + extra[k, s]

where ``add[k]`` is the uncovered weight ``k`` covers, ``loss[s]`` the weight only ``j`` covers
and ``extra[k, s]`` the part of that weight ``k`` also covers. The three arrays are updated
after each move from the rows whose cover count changed (those of the two swapped columns), so
an iteration costs ``O(candidates x p)`` for the move choice plus the entries of the touched
rows, not a pass over the whole matrix. They are rebuilt from scratch every
:data:`REFRESH_EVERY` moves so that float round-off cannot accumulate.

Tabu rules (Glover's short-term memory): a column just closed may not reopen, and a column just
opened may not close, for a random tenure; a tabu move is still taken when it beats the best
solution seen (aspiration). Ties are broken at random through the explicit ``rng``. After
``patience`` moves without a new best, the search restarts from the best solution.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from planner.optimize._cover_search import column_weights, coverage_counts

logger = logging.getLogger(__name__)

#: Moves between two full rebuilds of the move-value arrays.
REFRESH_EVERY = 256


@dataclass(eq=False)
class _Moves:
    """Mutable working state of one search (private; never leaves this module)."""

    counts: np.ndarray  # cover count per row
    owner: np.ndarray  # sole covering column of rows covered once, else -1
    slot_of: np.ndarray  # slot of each open column, -1 when closed
    slots: np.ndarray  # column held by each of the p slots
    add: np.ndarray  # (n,) uncovered weight per column
    loss: np.ndarray  # (p,) weight only the slot's column covers
    extra: np.ndarray  # (n, p) weight only slot s covers that column k also covers


def _row_entries(csr: sp.csr_array, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (row, column) pairs of the given rows' entries."""
    lengths = np.diff(csr.indptr)[rows]
    total = int(lengths.sum())
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    cols = csr.indices[np.repeat(csr.indptr[rows], lengths) + offsets]
    return np.repeat(rows, lengths), cols


def _build(csr: sp.csr_array, csc: sp.csc_array, w: np.ndarray, slots: np.ndarray) -> _Moves:
    """Move-value arrays of a selection, computed from scratch."""
    m, n = csr.shape
    p = slots.shape[0]
    slot_of = np.full(n, -1, dtype=np.int64)
    slot_of[slots] = np.arange(p)
    counts = coverage_counts(csr, slots).astype(np.int64)
    owner = np.full(m, -1, dtype=np.int64)
    once = np.flatnonzero(counts == 1)
    r, c = _row_entries(csr, once)
    hit = slot_of[c] >= 0
    owner[r[hit]] = c[hit]
    add = column_weights(csc, np.where(counts == 0, w, 0.0))
    loss = np.bincount(slot_of[owner[once]], weights=w[once], minlength=p).astype(np.float64)
    extra = np.zeros((n, p))
    np.add.at(extra, (c, slot_of[owner[r]]), w[r])
    return _Moves(counts, owner, slot_of, slots.copy(), add, loss, extra)


def _close(csr: sp.csr_array, csc: sp.csc_array, w: np.ndarray, st: _Moves, j: int) -> int:
    """Close column ``j``; return the slot it frees."""
    s = int(st.slot_of[j])
    rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
    st.counts[rows] -= 1
    st.slot_of[j] = -1
    lost = rows[st.counts[rows] == 0]  # were covered by j alone
    r, c = _row_entries(csr, lost)
    np.add.at(st.add, c, w[r])
    st.owner[lost] = -1
    single = rows[st.counts[rows] == 1]  # now covered by one remaining column
    r, c = _row_entries(csr, single)
    hit = st.slot_of[c] >= 0
    st.owner[r[hit]] = c[hit]
    new_slot = st.slot_of[st.owner[single]]
    np.add.at(st.loss, new_slot, w[single])
    np.add.at(st.extra, (c, st.slot_of[st.owner[r]]), w[r])
    st.loss[s] = 0.0
    st.extra[:, s] = 0.0
    return s


def _open(csr: sp.csr_array, csc: sp.csc_array, w: np.ndarray, st: _Moves, k: int, s: int) -> None:
    """Open column ``k`` in the free slot ``s``."""
    rows = csc.indices[csc.indptr[k] : csc.indptr[k + 1]]
    st.counts[rows] += 1
    fresh = rows[st.counts[rows] == 1]  # were uncovered
    r, c = _row_entries(csr, fresh)
    np.add.at(st.add, c, -w[r])
    st.slot_of[k] = s
    st.slots[s] = k
    st.owner[fresh] = k
    st.loss[s] = float(w[fresh].sum())
    np.add.at(st.extra[:, s], c, w[r])
    shared = rows[st.counts[rows] == 2]  # lose their sole owner
    old = st.slot_of[st.owner[shared]]
    np.add.at(st.loss, old, -w[shared])
    r, c = _row_entries(csr, shared)
    np.add.at(st.extra, (c, st.slot_of[st.owner[r]]), -w[r])
    st.owner[shared] = -1


def tabu_search(
    csr: sp.csr_array,
    csc: sp.csc_array,
    weights: np.ndarray,
    selected: np.ndarray,
    *,
    rng: np.random.Generator,
    max_moves: int,
    patience: int,
    deadline: float = np.inf,
    target: float = np.inf,
) -> np.ndarray:
    """Improve a maximum-coverage selection by tabu search over single swaps.

    Parameters
    ----------
    csr, csc
        Boolean coverage matrix (demand rows x candidate columns) in both layouts.
    weights
        Row weights.
    selected
        Starting selection of ``p`` distinct columns (``p < columns``).
    rng
        Source of the random tenures and tie breaks.
    max_moves, patience, deadline, target
        Stop after ``max_moves`` swaps, at ``deadline`` or once the best value reaches
        ``target`` (a proven bound); restart from the best solution after ``patience`` swaps
        without a new best.

    Returns
    -------
    numpy.ndarray
        The best selection seen, sorted.
    """
    n = csr.shape[1]
    p = int(selected.shape[0])
    if p == 0 or p >= n:
        return np.sort(selected)
    st = _build(csr, csc, weights, np.asarray(selected, dtype=np.int64))
    value = float(weights[st.counts > 0].sum())
    best, best_value = np.sort(st.slots), value
    tol = 1e-9 * max(1.0, float(weights.sum()))
    free = n - p
    tenure_open = (max(1, p // 6), max(2, p // 3) + 1)
    tenure_closed = (max(1, free // 25), max(2, free // 8) + 1)
    until = np.zeros(n, dtype=np.int64)
    stale = 0
    move = 0
    for move in range(1, max_moves + 1):
        if best_value >= target - tol:
            break
        delta = st.extra + st.add[:, None] - st.loss[None, :]
        delta[st.slots] = -np.inf
        allowed = delta.copy()
        allowed[until > move] = -np.inf
        allowed[:, until[st.slots] > move] = -np.inf
        aspire = value + delta > best_value + tol
        allowed[aspire] = delta[aspire]
        top = float(allowed.max())
        if not np.isfinite(top):
            break
        ties = np.flatnonzero(allowed >= top - tol)
        k, s = divmod(int(ties[rng.integers(ties.shape[0])]), p)
        j = int(st.slots[s])
        _open(csr, csc, weights, st, k, _close(csr, csc, weights, st, j))
        value += top
        until[j] = move + rng.integers(*tenure_closed)
        until[k] = move + rng.integers(*tenure_open)
        if value > best_value + tol:
            value = float(weights[st.counts > 0].sum())
            best, best_value, stale = np.sort(st.slots), value, 0
        else:
            stale += 1
        if stale >= patience:  # intensify: back to the best solution, fresh memory
            st, stale = _build(csr, csc, weights, best), 0
            value = best_value
            until[:] = 0
        elif move % REFRESH_EVERY == 0:
            st = _build(csr, csc, weights, st.slots)
            value = float(weights[st.counts > 0].sum())
        if time.perf_counter() > deadline:
            break
    logger.debug("tabu search: %d moves, best %.6g", move, best_value)
    return best
