"""Compiled kernels of the capacitated p-median search (numba, cached on disk after first use).

* :func:`regret_assign` — a single-source assignment of every row to an open set: rows placed
  by largest regret (the cost of losing their best site with room), then shift moves (a row to
  a cheaper site with room) and exchange moves (two rows of different sites trade places) until
  neither improves. A fast estimate, an upper bound on the exact value; the search ranks open
  sets with it and prices the best ones exactly.
* :func:`interchange` — swap search over the open set with that estimate: the best improving
  ``(close, open)`` swap of each pass is taken until none improves or ``passes`` run out.

The kernels' parameters are left unannotated (numba types them at compile time): ``cost``
(m x n), ``demand`` (m), ``cap`` (n), ``sites`` (int64, open sites).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Improvement rounds of shift and exchange moves after the regret construction.
LOCAL_ROUNDS = 50


@njit(cache=True)  # type: ignore[misc]
def regret_assign(cost, demand, cap, sites):  # type: ignore[no-untyped-def]
    """Total cost and site (index into ``sites``) per row; ``inf`` when a row finds no room."""
    m, k = cost.shape[0], sites.shape[0]
    room = np.empty(k)
    for s in range(k):
        room[s] = cap[sites[s]]
    where = np.full(m, -1, dtype=np.int64)
    for _ in range(m):
        pick, pick_site, pick_regret = -1, -1, -1.0
        for i in range(m):
            if where[i] >= 0:
                continue
            first, second, site = np.inf, np.inf, -1
            for s in range(k):
                if room[s] + 1e-12 < demand[i]:
                    continue
                c = cost[i, sites[s]]
                if c < first:
                    first, second, site = c, first, s
                elif c < second:
                    second = c
            if site < 0:
                return np.inf, where
            regret = second - first if second < np.inf else 1e300
            if regret > pick_regret or (regret == pick_regret and demand[i] > demand[pick]):
                pick, pick_site, pick_regret = i, site, regret
        where[pick] = pick_site
        room[pick_site] -= demand[pick]
    _improve(cost, demand, sites, room, where)
    total = 0.0
    for i in range(m):
        total += cost[i, sites[where[i]]]
    return total, where


@njit(cache=True)  # type: ignore[misc]
def _improve(cost, demand, sites, room, where):  # type: ignore[no-untyped-def]
    """Shift and exchange moves, first improvement, for at most :data:`LOCAL_ROUNDS` rounds."""
    m, k = where.shape[0], sites.shape[0]
    for _ in range(LOCAL_ROUNDS):
        moved = False
        for i in range(m):
            a = where[i]
            for s in range(k):
                fits = s != a and room[s] + 1e-12 >= demand[i]
                if fits and cost[i, sites[s]] < cost[i, sites[a]] - 1e-12:
                    room[s] -= demand[i]
                    room[a] += demand[i]
                    where[i] = s
                    a = s
                    moved = True
        for i in range(m):
            for h in range(i + 1, m):
                a, b = where[i], where[h]
                if a == b:
                    continue
                delta = (
                    cost[i, sites[b]] + cost[h, sites[a]] - cost[i, sites[a]] - cost[h, sites[b]]
                )
                if delta >= -1e-12:
                    continue
                if room[b] + demand[h] - demand[i] < -1e-12:
                    continue
                if room[a] + demand[i] - demand[h] < -1e-12:
                    continue
                room[b] += demand[h] - demand[i]
                room[a] += demand[i] - demand[h]
                where[i], where[h] = b, a
                moved = True
        if not moved:
            return


@njit(cache=True)  # type: ignore[misc]
def _replacements(cost, where, inside, a, width):  # type: ignore[no-untyped-def]
    """The (at most) ``width`` closed sites that would serve the rows of open position ``a``
    (``where``: position per row) at the least total cost."""
    score = np.zeros(cost.shape[1])
    for i in range(where.shape[0]):
        if where[i] == a:
            score += cost[i]
    closed = 0
    for j in range(cost.shape[1]):
        if inside[j]:
            score[j] = np.inf
        else:
            closed += 1
    return np.argsort(score)[: min(width, closed)]


@njit(cache=True)  # type: ignore[misc]
def interchange(cost, demand, cap, sites, passes, width):  # type: ignore[no-untyped-def]
    """Best-improvement swap search from ``sites`` priced by :func:`regret_assign`; returns the
    final open set and its estimated value. Closing a site is tried only against the ``width``
    closed sites that would serve its rows at the least total cost."""
    n = cost.shape[1]
    current = sites.copy()
    value, where = regret_assign(cost, demand, cap, current)
    inside = np.zeros(n, dtype=np.bool_)
    for s in current:
        inside[s] = True
    for _ in range(passes):
        if value == np.inf:
            break
        best_value, best_out, best_in = value, -1, -1
        for a in range(current.shape[0]):
            old = current[a]
            for j in _replacements(cost, where, inside, a, width):
                current[a] = j
                trial, _ = regret_assign(cost, demand, cap, current)
                if trial < best_value - 1e-9 * max(1.0, abs(best_value)):
                    best_value, best_out, best_in = trial, a, j
            current[a] = old
        if best_out < 0:
            break
        inside[current[best_out]] = False
        inside[best_in] = True
        current[best_out] = best_in
        value, where = regret_assign(cost, demand, cap, current)
    return np.sort(current), value


@njit(cache=True)  # type: ignore[misc]
def swap_estimates(cost, demand, cap, sites, width):  # type: ignore[no-untyped-def]
    """Every swap :func:`interchange` would try from ``sites``: the position closed, the site
    opened and the estimated value after the swap (``inf`` when a row finds no room)."""
    n, k = cost.shape[1], sites.shape[0]
    _, where = regret_assign(cost, demand, cap, sites)
    inside = np.zeros(n, dtype=np.bool_)
    for s in sites:
        inside[s] = True
    out = np.empty(k * width, dtype=np.int64)
    into = np.empty(k * width, dtype=np.int64)
    value = np.full(k * width, np.inf)
    trial_sites = sites.copy()
    count = 0
    for a in range(k):
        for j in _replacements(cost, where, inside, a, width):
            trial_sites[a] = j
            value[count], _ = regret_assign(cost, demand, cap, trial_sites)
            out[count], into[count] = a, j
            count += 1
        trial_sites[a] = sites[a]
    return out[:count], into[:count], value[:count]
