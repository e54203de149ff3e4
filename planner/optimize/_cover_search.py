"""Array kernels for coverage models: row reduction, lazy greedy, swap search, Lagrangian bound.

All functions take a boolean CSR coverage matrix ``C`` (demand x candidates), its CSC copy and
non-negative row weights ``w``; none of them loops over matrix entries in Python.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import scipy.sparse as sp

from planner.optimize import _cover_kernels as kernels

logger = logging.getLogger(__name__)

_EPS = 1e-9
# the compiled lazy greedy (numba dispatchers are opaque to mypy)
_GREEDY = cast(Callable[..., np.ndarray], kernels.greedy)


@dataclass(frozen=True, eq=False)
class Reduced:
    """A coverage instance with useless rows dropped and identical rows merged.

    ``matrix`` is the reduced CSR, ``weights`` the merged weights; ``rows[k]`` is the reduced row
    of original row ``k`` (``-1`` when dropped: zero weight or no candidate covers it).
    """

    matrix: sp.csr_array
    weights: np.ndarray
    rows: np.ndarray


def reduce_rows(coverage: sp.csr_array, weights: np.ndarray, *, seed: int = 0) -> Reduced:
    """Drop rows that cannot matter and merge rows covered by the same candidate set.

    Rows with zero weight or no covering candidate are dropped; rows with identical candidate
    sets are merged (their weights summed). Identity is tested by a 128-bit random hash of the
    set, then confirmed by comparing length and the set itself, so the merge is exact.
    """
    m, n = coverage.shape
    degree = np.diff(coverage.indptr)
    keep = np.flatnonzero((weights > 0) & (degree > 0))
    sub = sp.csr_array(coverage[keep])
    sub.sort_indices()
    rng = np.random.default_rng(seed)
    codes = rng.integers(1, 2**62, size=(2, n), dtype=np.int64)
    key = np.empty((keep.shape[0], 3), dtype=np.int64)
    if keep.size:
        with np.errstate(over="ignore"):
            for k in range(2):  # wrapping int64 sums of random codes: a 128-bit set hash
                key[:, k] = np.add.reduceat(codes[k][sub.indices], sub.indptr[:-1])
    key[:, 2] = np.diff(sub.indptr)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    same = _rows_equal(sub, np.arange(keep.shape[0]), first[inverse])
    # Any hash collision (never expected) keeps the colliding row on its own.
    group = np.where(same, inverse, first.shape[0] + np.arange(keep.shape[0]))
    uniq, group = np.unique(group, return_inverse=True)
    representative = np.zeros(uniq.shape[0], dtype=np.int64)
    representative[group[::-1]] = np.arange(keep.shape[0])[::-1]
    merged_w = np.bincount(group, weights=weights[keep], minlength=uniq.shape[0])
    matrix = sp.csr_array(sub[representative])
    rows = np.full(m, -1, dtype=np.int64)
    rows[keep] = group
    logger.debug("reduced coverage %s -> %s rows", coverage.shape, matrix.shape[0])
    return Reduced(matrix=matrix, weights=merged_w, rows=rows)


@dataclass(frozen=True, eq=False)
class Restricted:
    """A coverage instance cut down to the columns ``keep`` (rows reduced again, see
    :func:`reduce_rows`); ``at[j]`` is the position of original column ``j`` among them (-1
    when left out). A selection found on ``reduced`` is ``keep[found]`` in the original."""

    reduced: Reduced
    keep: np.ndarray
    at: np.ndarray

    def local(self, sites: np.ndarray) -> np.ndarray | None:
        """``sites`` numbered among the kept columns; ``None`` when one was left out."""
        mapped = self.at[sites]
        return mapped if bool(np.all(mapped >= 0)) else None


def restrict_columns(
    coverage: sp.csr_array, weights: np.ndarray, keep: np.ndarray, *, seed: int = 0
) -> Restricted:
    """The instance on the columns ``keep`` only (sorted original indices)."""
    at = np.full(coverage.shape[1], -1, dtype=np.int64)
    at[keep] = np.arange(keep.shape[0])
    reduced = reduce_rows(sp.csr_array(coverage[:, keep]), weights, seed=seed)
    return Restricted(reduced=reduced, keep=keep, at=at)


def _rows_equal(matrix: sp.csr_array, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Vectorised test that rows ``a[k]`` and ``b[k]`` of a sorted CSR hold the same columns."""
    len_a = np.diff(matrix.indptr)[a]
    len_b = np.diff(matrix.indptr)[b]
    equal = len_a == len_b
    cand = np.flatnonzero(equal & (a != b))
    if cand.size == 0:
        return equal
    lengths = len_a[cand]
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    step = np.arange(lengths.sum()) - offsets
    pos_a = np.repeat(matrix.indptr[a[cand]], lengths) + step
    pos_b = np.repeat(matrix.indptr[b[cand]], lengths) + step
    diff = matrix.indices[pos_a] != matrix.indices[pos_b]
    bad_entry_owner = np.repeat(np.arange(cand.shape[0]), lengths)[diff]
    equal[cand[np.unique(bad_entry_owner)]] = False
    return equal


def column_weights(csc: sp.csc_array, values: np.ndarray) -> np.ndarray:
    """Return ``C.T @ values`` for a boolean CSC ``C`` (sum of row values per column)."""
    per_entry = values[csc.indices]
    sums = np.zeros(csc.shape[1])
    counts = np.diff(csc.indptr)
    nonempty = np.flatnonzero(counts)
    if nonempty.size:
        sums[nonempty] = np.add.reduceat(per_entry, csc.indptr[nonempty])
    return sums


def lazy_greedy(
    csc: sp.csc_array,
    weights: np.ndarray,
    p: int,
    *,
    covered: np.ndarray | None = None,
    target: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy maximum coverage with lazy (priority-queue) marginal-gain evaluation.

    Picks up to ``p`` columns, each with the largest weight of still-uncovered rows, stopping
    early once the covered weight reaches ``target``. Ties go to the lowest column index.

    Returns
    -------
    selected, covered
        Chosen columns in pick order; boolean covered flag per row.
    """
    covered = np.zeros(csc.shape[0], dtype=bool) if covered is None else covered.copy()
    gains = column_weights(csc, np.where(covered, 0.0, weights))
    selected = _GREEDY(
        csc.indptr,
        csc.indices,
        np.ascontiguousarray(weights, dtype=np.float64),
        covered,
        gains,
        int(p),
        float(target),
        _EPS,
    )
    return np.asarray(selected, dtype=np.int64), covered


def coverage_counts(csr: sp.csr_array, selected: np.ndarray) -> np.ndarray:
    """Return how many selected columns cover each row."""
    mask = np.zeros(csr.shape[1], dtype=np.int32)
    mask[selected] = 1
    per_entry = mask[csr.indices]
    counts = np.zeros(csr.shape[0], dtype=np.int32)
    lengths = np.diff(csr.indptr)
    nonempty = np.flatnonzero(lengths)
    if nonempty.size:
        counts[nonempty] = np.add.reduceat(per_entry, csr.indptr[nonempty])
    return counts


def _sole_owner(csr: sp.csr_array, selected: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """For rows covered exactly once, the selected column covering them (-1 elsewhere)."""
    label = np.full(csr.shape[1], -1, dtype=np.int64)
    label[selected] = selected
    rows = np.flatnonzero(counts == 1)
    owner = np.full(csr.shape[0], -1, dtype=np.int64)
    if rows.size == 0:
        return owner
    lengths = np.diff(csr.indptr)[rows]
    starts = np.repeat(csr.indptr[rows], lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    entry_label = label[csr.indices[starts + offsets]]
    owner_rows = np.repeat(rows, lengths)
    hit = entry_label >= 0
    owner[owner_rows[hit]] = entry_label[hit]
    return owner


def _swap_proposals(
    csc: sp.csc_array,
    entry_col: np.ndarray,
    weights: np.ndarray,
    selected: np.ndarray,
    counts: np.ndarray,
    owner: np.ndarray,
    *,
    block_nnz: int = 8_000_000,
    dense_cells: int = 20_000_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Best single swap (add k, drop j) for every unselected column k, by exact delta.

    delta(k, j) = add(k) + extra(k, j) - loss(j): ``add`` is the uncovered weight k covers,
    ``loss`` the weight only j covers, ``extra`` the part of that weight k also covers.
    ``entry_col`` is the column of each CSC entry. Returns (best delta, site to drop) per column.
    """
    n = csc.shape[1]
    p = selected.shape[0]
    add = column_weights(csc, np.where(counts == 0, weights, 0.0))
    sole = owner >= 0
    loss = np.bincount(owner[sole], weights=weights[sole], minlength=n)
    position = np.full(n, -1, dtype=np.int64)
    position[selected] = np.arange(p)
    worst = int(selected[np.argmin(loss[selected])])
    best_val = add - loss[worst]
    best_drop = np.full(n, worst, dtype=np.int64)
    total = csc.indices.shape[0]
    for start in range(0, total, block_nnz):
        rows = csc.indices[start : start + block_nnz]
        hit = np.flatnonzero(sole[rows])
        if hit.size == 0:
            continue
        rows = rows[hit]
        cols = entry_col[start : start + block_nnz][hit].astype(np.int64)
        slot = position[owner[rows]]
        if n * p <= dense_cells:
            extra = np.bincount(cols * p + slot, weights=weights[rows], minlength=n * p)
            value = extra.reshape(n, p) - loss[selected][None, :]
            arg = np.argmax(value, axis=1)
            top = value[np.arange(n), arg] + add
            better = top > best_val
            best_val[better] = top[better]
            best_drop[better] = selected[arg[better]]
            continue
        pair = sp.coo_array((weights[rows], (cols, slot)), shape=(n, p)).tocsr()
        pair.sum_duplicates()
        value = pair.data - loss[selected][pair.indices]
        lengths = np.diff(pair.indptr)
        nz = np.flatnonzero(lengths)
        seg_max = np.maximum.reduceat(value, pair.indptr[nz])
        seg_id = np.repeat(np.arange(nz.size), lengths[nz])
        first = np.unique(seg_id[value >= seg_max[seg_id]], return_index=True)[1]
        arg = pair.indices[np.flatnonzero(value >= seg_max[seg_id])[first]]
        better = seg_max + add[nz] > best_val[nz]
        best_val[nz[better]] = seg_max[better] + add[nz[better]]
        best_drop[nz[better]] = selected[arg[better]]
    best_val[selected] = -np.inf
    return best_val, best_drop


def swap_search(
    csr: sp.csr_array,
    csc: sp.csc_array,
    weights: np.ndarray,
    selected: np.ndarray,
    *,
    deadline: float = np.inf,
    max_rounds: int = 1000,
) -> np.ndarray:
    """Improve a maximum-coverage solution by single swaps until none improves (or time is up).

    Each round evaluates the best swap of every unselected column exactly (one pass over the
    matrix), then applies the improving ones best-first, re-checking each against the current
    solution before applying it. Returns the improved selection (same size).
    """
    selected = np.asarray(selected, dtype=np.int64).copy()
    in_sel = np.zeros(csr.shape[1], dtype=bool)
    in_sel[selected] = True
    counts = coverage_counts(csr, selected)
    mark = np.zeros(csr.shape[0], dtype=bool)
    indptr, indices = csc.indptr, csc.indices
    entry_col = np.repeat(np.arange(csc.shape[1], dtype=np.int32), np.diff(indptr))
    tol = _EPS * max(1.0, float(weights.sum()))
    for round_no in range(max_rounds):
        if time.perf_counter() > deadline:
            break
        owner = _sole_owner(csr, selected, counts)
        value, drop = _swap_proposals(csc, entry_col, weights, selected, counts, owner)
        cand = np.flatnonzero(value > tol)
        if cand.size == 0:
            break
        cand = cand[np.argsort(-value[cand], kind="stable")]
        applied = 0
        for k, j in zip(cand.tolist(), drop[cand].tolist(), strict=True):
            if in_sel[k] or not in_sel[j]:
                continue
            rows_k = indices[indptr[k] : indptr[k + 1]]
            rows_j = indices[indptr[j] : indptr[j + 1]]
            mark[rows_k] = True
            gain = float(weights[rows_k][counts[rows_k] == 0].sum())
            lost = rows_j[(counts[rows_j] == 1) & ~mark[rows_j]]
            mark[rows_k] = False
            if gain - float(weights[lost].sum()) <= tol:
                continue
            counts[rows_j] -= 1
            counts[rows_k] += 1
            in_sel[j], in_sel[k] = False, True
            applied += 1
            if time.perf_counter() > deadline:
                break
        selected = np.flatnonzero(in_sel)
        logger.debug("swap round %d: %d swaps applied", round_no, applied)
        if applied == 0:
            break
    return np.sort(selected)


def lagrangian_bound(
    csc: sp.csc_array,
    weights: np.ndarray,
    p: int,
    covered: np.ndarray,
    lower: float,
    *,
    iterations: int = 2000,
    deadline: float = np.inf,
) -> float:
    """Upper bound on maximum coverage by Lagrangian relaxation of ``y_i <= sum_j C_ij x_j``.

    For multipliers ``0 <= lam_i <= w_i``,
    ``L(lam) = sum_i (w_i - lam_i) + (sum of the p largest (C.T lam)_j)`` bounds the optimum
    and its minimum equals the LP relaxation bound. The descent starts at ``lam = w`` on the rows
    the heuristic left uncovered and 0 elsewhere, where ``L`` is the classic bound ``f(S) +
    top-p marginal gains``, and takes projected subgradient steps with deflection (direction
    ``g + 0.5 d_prev``) and a Polyak step towards ``lower`` (the heuristic value), halving the
    step after 60 iterations without progress. (Starting from ``lam = w / 2`` instead left a
    21,162 x 1,490 city instance at 3.2 % after 400 steps; from the classic bound it reaches
    1.5 %.) Any ``lam`` gives a valid bound; the smallest value seen is returned.
    """
    lam = np.where(covered, 0.0, weights)
    best = float(weights.sum())  # L at lam = 0
    theta, since = 2.0, 0
    direction: np.ndarray | None = None
    for _ in range(max(iterations, 1)):
        value, top, _ = lagrangian_value(csc, weights, p, lam)
        if value < best - 1e-12 * max(1.0, abs(best)):
            best, since = value, 0
        else:
            since += 1
            if since >= 60:
                theta, since = theta / 2, 0
        if best - lower <= 1e-9 * max(1.0, lower) or theta < 1e-6:
            break
        if time.perf_counter() > deadline:
            break
        chosen_rows = np.concatenate([csc.indices[csc.indptr[j] : csc.indptr[j + 1]] for j in top])
        grad = np.bincount(chosen_rows, minlength=csc.shape[0]) - 1.0
        # project: components pushing lam out of [0, w] do not move
        grad[((lam <= 0) & (grad > 0)) | ((lam >= weights) & (grad < 0))] = 0.0
        direction = grad if direction is None else grad + 0.5 * direction
        norm = float(direction @ direction)
        if norm == 0:
            break
        lam = np.clip(lam - theta * (value - lower) / norm * direction, 0.0, weights)
    return float(min(best, weights.sum()))


def lagrangian_value(
    csc: sp.csc_array, weights: np.ndarray, p: int, lam: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """``L(lam) = sum_i (w_i - lam_i) + (sum of the p largest (C.T lam)_j)``, an upper bound on
    maximum coverage for any ``0 <= lam <= w``; the ``p`` columns attaining its inner maximum;
    and ``C.T lam``."""
    colsum = column_weights(csc, lam)
    top = np.argpartition(-colsum, p - 1)[:p] if p < colsum.shape[0] else np.arange(colsum.shape[0])
    return float((weights - lam).sum() + colsum[top].sum()), top, colsum


def iterated_swaps(
    csr: sp.csr_array,
    csc: sp.csc_array,
    weights: np.ndarray,
    selected: np.ndarray,
    *,
    rng: np.random.Generator,
    patience: int,
    max_kicks: int,
    deadline: float,
    target: float = np.inf,
) -> np.ndarray:
    """Iterated local search: drop a few random sites, refill greedily, swap-search, keep the best.

    Stops after ``patience`` kicks without improvement, ``max_kicks`` kicks, at ``deadline``, or
    once the best value reaches ``target`` (a proven bound: nothing better exists).
    """
    p, n = selected.shape[0], csc.shape[1]
    best = np.sort(selected)
    best_value = float(weights[coverage_counts(csr, best) > 0].sum())
    current, current_value = best, best_value
    stale = kicks = 0
    reached = best_value >= target - _EPS * max(1.0, abs(target))
    while (
        not reached
        and stale < patience
        and kicks < max_kicks
        and time.perf_counter() < deadline
        and p < n
    ):
        kicks += 1
        size = min(int(rng.integers(1, max(1, p // 5) + 1)), p, n - p)
        drop = rng.choice(p, size=size, replace=False)
        keep = np.delete(current, drop)
        refill, _ = lazy_greedy(csc, weights, size, covered=coverage_counts(csr, keep) > 0)
        if np.array_equal(np.sort(refill), np.sort(current[drop])):
            closed = np.setdiff1d(np.arange(n), keep)
            refill = rng.choice(closed, size=size, replace=False)
        trial = np.unique(np.concatenate([keep, refill]))
        if trial.shape[0] < p:
            closed = np.setdiff1d(np.arange(n), trial)
            trial = np.sort(np.concatenate([trial, closed[: p - trial.shape[0]]]))
        trial = swap_search(csr, csc, weights, trial, deadline=deadline)
        value = float(weights[coverage_counts(csr, trial) > 0].sum())
        if value >= current_value:
            current, current_value = trial, value
        if value > best_value + 1e-9 * max(1.0, best_value):
            best, best_value, stale = trial, value, 0
            reached = best_value >= target - _EPS * max(1.0, abs(target))
        else:
            stale += 1
    return best
