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
def column_reduced_sums(col, row, cost, u, n):  # type: ignore[no-untyped-def]
    """``rho_j = sum_i min(0, c_ij - u_i)`` over the allowed pairs."""
    rho = np.zeros(n)
    for e in range(col.shape[0]):
        v = cost[e] - u[row[e]]
        if v < 0.0:
            rho[col[e]] += v
    return rho


@njit(cache=True)
def chosen_cover_counts(col_ptr, col_row, col_cost, u, chosen, m):  # type: ignore[no-untyped-def]
    """Per row, how many ``chosen`` candidates have ``c_ij < u_i`` (the subgradient's count)."""
    counts = np.zeros(m)
    for k in chosen:
        for t in range(col_ptr[k], col_ptr[k + 1]):
            if col_cost[t] - u[col_row[t]] < 0.0:
                counts[col_row[t]] += 1.0
    return counts
