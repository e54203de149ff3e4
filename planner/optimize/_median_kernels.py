"""Compiled kernels of the p-median searches: nearest open sites, swap profits, Lagrangian steps.

Each is one pass over the allowed (row, candidate, weighted cost) entries of
:class:`planner.optimize._median_search.Entries`, compiled by numba (cached on disk) because
the interchange recomputes them after every pass and the numpy versions spent most of their time
on temporaries (a 20,000 x 2,000 instance with 3.6 M pairs: 88 ms a profit pass, 50 ms an
assignment, 28 ms a Lagrangian step). Parameters are left unannotated (numba types them).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def assign(indptr, col, cost, is_open, penalty):  # type: ignore[no-untyped-def]
    """Nearest (``c1``, ``d1``) and second-nearest (``c2``, ``d2``) open candidate of each row.

    Ties go to the earlier entry of the row; a row without an open candidate gets ``-1`` and
    ``penalty`` (likewise its second site).
    """
    m = indptr.shape[0] - 1
    c1 = np.full(m, -1, np.int64)
    c2 = np.full(m, -1, np.int64)
    d1 = np.full(m, penalty)
    d2 = np.full(m, penalty)
    for i in range(m):
        for e in range(indptr[i], indptr[i + 1]):
            k = col[e]
            if not is_open[k]:
                continue
            v = cost[e]
            if v < d1[i]:
                d2[i], c2[i] = d1[i], c1[i]
                d1[i], c1[i] = v, k
            elif v < d2[i]:
                d2[i], c2[i] = v, k
    return c1, d1, c2, d2


@njit(cache=True)
def profits(col_ptr, col_row, col_cost, c1, d1, d2, is_open):  # type: ignore[no-untyped-def]
    """Best swap for every closed candidate ``k``: (profit, open site to close).

    ``profit(k, r) = gain(k) - loss(r) + extra(k, r)``: ``gain`` is what opening ``k`` saves,
    ``loss`` what closing ``r`` costs its rows (moving to their second-nearest site), ``extra``
    gives back, for rows of ``r`` closer to ``k`` than to their second site, the difference.
    Open candidates get ``-inf``. ``col_row`` / ``col_cost`` are the entries sorted by column,
    ``col_ptr`` delimiting each column's run.
    """
    n = col_ptr.shape[0] - 1
    m = c1.shape[0]
    loss = np.zeros(n)
    for i in range(m):
        if c1[i] >= 0:
            loss[c1[i]] += d2[i] - d1[i]
    cheapest = -1
    for r in range(n):
        if is_open[r] and (cheapest < 0 or loss[r] < loss[cheapest]):
            cheapest = r
    profit = np.full(n, -np.inf)
    drop = np.full(n, cheapest, np.int64)
    extra = np.zeros(n)
    seen = np.zeros(n, np.bool_)
    touched = np.empty(n, np.int64)
    for k in range(n):
        if is_open[k]:
            continue
        gain = 0.0
        count = 0
        for t in range(col_ptr[k], col_ptr[k + 1]):
            i = col_row[t]
            v = col_cost[t]
            if v < d1[i]:
                gain += d1[i] - v
            r = c1[i]
            if r >= 0 and v < d2[i]:
                if not seen[r]:
                    seen[r] = True
                    touched[count] = r
                    count += 1
                extra[r] += d2[i] - max(v, d1[i])
        # the best site to close: the cheapest overall, unless one whose rows k takes over
        # does strictly better (ties among those: the lowest index)
        top = -np.inf
        top_r = -1
        for q in range(count):
            r = touched[q]
            value = extra[r] - loss[r]
            if value > top or (value == top and r < top_r):
                top = value
                top_r = r
            extra[r] = 0.0
            seen[r] = False
        profit[k] = gain - loss[cheapest]
        if top_r >= 0 and gain + top > profit[k]:
            profit[k] = gain + top
            drop[k] = top_r
    return profit, drop


@njit(cache=True)
def sorted_reduced_sums(indptr, col, cost, u, n):  # type: ignore[no-untyped-def]
    """``rho_j = sum_i min(0, c_ij - u_i)``, each row's entries sorted by cost (early exit)."""
    rho = np.zeros(n)
    for i in range(indptr.shape[0] - 1):
        ui = u[i]
        for e in range(indptr[i], indptr[i + 1]):
            v = cost[e] - ui
            if v >= 0.0:
                break
            rho[col[e]] += v
    return rho


@njit(cache=True)
def sorted_cover_counts(indptr, col, cost, u, is_chosen):  # type: ignore[no-untyped-def]
    """Per row, how many chosen candidates have ``c_ij < u_i`` (rows sorted by cost)."""
    m = indptr.shape[0] - 1
    counts = np.zeros(m)
    for i in range(m):
        ui = u[i]
        for e in range(indptr[i], indptr[i + 1]):
            if cost[e] >= ui:
                break
            if is_chosen[col[e]]:
                counts[i] += 1.0
    return counts


@njit(cache=True)
def _lagrangian(indptr, col, cost, u, n, p):  # type: ignore[no-untyped-def]
    """``L(u)``, the reduced sums and the ``p`` columns of smallest reduced sum (a mask)."""
    rho = sorted_reduced_sums(indptr, col, cost, u, n)
    order = np.argsort(rho, kind="mergesort")
    is_chosen = np.zeros(n, np.bool_)
    value = u.sum()
    for q in range(p):
        is_chosen[order[q]] = True
        value += rho[order[q]]
    return value, rho, is_chosen


@njit(cache=True)
def volume_ascent(indptr, col, cost, u0, n, p, upper, stop, iterations, alpha, f0, xbar0, ybar0):  # type: ignore[no-untyped-def]
    """Volume algorithm (Barahona and Anbil 2000) on the p-median Lagrangian dual.

    The step follows ``1 - x_bar``, where ``x_bar`` (per row: how many chosen candidates serve
    it) averages the relaxation's solutions with weight ``alpha``; its length is Polyak's
    towards ``upper`` times ``f`` (first ``f0``), which grows by 10 % after an improving step
    whose own direction agrees and shrinks by a third after 20 steps without improvement. Stops
    after ``iterations`` steps, once the value reaches ``stop`` or when ``f`` falls below 1e-6.
    Returns the best value, its multipliers, its reduced sums, its chosen columns (a mask), the
    same average of the chosen masks (a fractional opening, for rounding), the last ``f`` and
    ``x_bar`` (``f0``, ``xbar0`` and ``ybar0`` continue an ascent; empty ones start afresh).
    """
    best_u = u0.copy()
    best, best_rho, best_chosen = _lagrangian(indptr, col, cost, best_u, n, p)
    xbar = sorted_cover_counts(indptr, col, cost, best_u, best_chosen)
    ybar = best_chosen.astype(np.float64)
    if xbar0.shape[0] == xbar.shape[0]:  # a continued ascent keeps its averages
        xbar, ybar = xbar0.copy(), ybar0.copy()
    f = f0
    reds = 0
    for _ in range(iterations):
        if best >= stop or f < 1e-6:
            break
        grad = 1.0 - xbar
        norm = (grad * grad).sum()
        if norm == 0.0:
            break
        u = best_u + (f * (upper - best) / norm) * grad
        value, rho, is_chosen = _lagrangian(indptr, col, cost, u, n, p)
        x = sorted_cover_counts(indptr, col, cost, u, is_chosen)
        xbar = alpha * x + (1.0 - alpha) * xbar
        ybar = alpha * is_chosen + (1.0 - alpha) * ybar
        if value > best:
            if ((1.0 - x) * grad).sum() >= 0.0:
                f = min(2.0, f * 1.1)
            best, best_u, best_rho, best_chosen = value, u, rho, is_chosen
            reds = 0
        else:
            reds += 1
            if reds >= 20:
                f *= 0.66
                reds = 0
    return best, best_u, best_rho, best_chosen, ybar, f, xbar
