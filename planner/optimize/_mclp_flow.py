"""Compiled max-flow kernel of the capacitated MCLP search (numba, cached on disk after first use).

The served weight of an open set is a maximum flow: source -> row ``i`` (capacity ``w_i``) ->
covering open site ``j`` (no limit of its own: ``z_ij <= min(w_i, cap_j)`` follows from the
other two) -> sink (capacity ``cap_j``). Amounts are integers (weights scaled by the caller), so
every comparison is exact. :func:`augment` raises a feasible flow to a maximum one, direct paths
first, then by shortest augmenting paths from the rows with weight left (breadth-first,
multi-source), so a swap is priced from the incumbent's flow: close a site (its amounts return
to their rows), open another, augment; far cheaper than a flow from zero.

The kernels' parameters are left unannotated (numba types them at compile time): ``rptr`` /
``rcol`` the coverage in CSR order (row -> sites), ``erow`` the row of each pair, ``cptr`` /
``centry`` the CSR entry ids of each site's pairs, ``w`` / ``cap`` the integer weights and
capacities, ``flow`` the amount per CSR entry, ``served`` per row and ``load`` per site (updated
in place), ``is_open`` per site.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)  # type: ignore[misc]
def augment(rptr, rcol, erow, cptr, centry, w, cap, flow, served, load, is_open):  # type: ignore[no-untyped-def]
    """Raise ``flow`` (in place) to a maximum flow on the open sites; returns its value and the
    work done (rows and pairs scanned)."""
    m, n = w.size, cap.size
    sources, count, work = _direct_paths(rptr, rcol, w, cap, flow, served, load, is_open)
    via = np.empty(n, np.int64)  # the pair (entry) by which each site was reached
    back = np.empty(m, np.int64)  # the served pair by which each row was reached; -1 a source
    queue = np.empty(m, np.int64)
    while True:
        via[:] = -1
        back[:] = -2
        head = tail = 0
        work += count
        for k in range(count):
            i = sources[k]
            if served[i] < w[i]:
                back[i] = -1
                queue[tail] = i
                tail += 1
        end = -1
        while head < tail and end < 0:
            i = queue[head]
            head += 1
            work += rptr[i + 1] - rptr[i]
            for e in range(rptr[i], rptr[i + 1]):
                j = rcol[e]
                if not is_open[j] or via[j] >= 0:
                    continue
                via[j] = e
                if load[j] < cap[j]:
                    end = j
                    break
                work += cptr[j + 1] - cptr[j]
                for k in range(cptr[j], cptr[j + 1]):  # rows this site serves
                    e2 = centry[k]
                    if flow[e2] > 0 and back[erow[e2]] == -2:
                        back[erow[e2]] = e2
                        queue[tail] = erow[e2]
                        tail += 1
        if end < 0:
            return served.sum(), work
        _push(rcol, erow, w, cap, flow, served, load, via, back, end)


@njit(cache=True)  # type: ignore[misc]
def _direct_paths(rptr, rcol, w, cap, flow, served, load, is_open):  # type: ignore[no-untyped-def]
    """Serve rows from open sites with room directly (in place); returns the rows with weight
    left that an open site covers (the sources of the augmenting paths), their count, and the
    work done."""
    m = w.size
    sources = np.empty(m, np.int64)
    count = work = 0
    for i in range(m):
        if served[i] < w[i]:
            work += rptr[i + 1] - rptr[i]
            for e in range(rptr[i], rptr[i + 1]):
                j = rcol[e]
                if not is_open[j]:
                    continue
                if count == 0 or sources[count - 1] != i:
                    sources[count] = i
                    count += 1
                if load[j] < cap[j]:
                    amount = min(w[i] - served[i], cap[j] - load[j])
                    flow[e] += amount
                    served[i] += amount
                    load[j] += amount
                    if served[i] == w[i]:
                        break
    return sources, count, work


@njit(cache=True)  # type: ignore[misc]
def _push(rcol, erow, w, cap, flow, served, load, via, back, end):  # type: ignore[no-untyped-def]
    """Push the bottleneck amount along the path a search found to site ``end`` (in place):
    ``via`` the pair by which each site was reached, ``back`` the served pair by which each row
    was (-1: a row with weight left, the path's start)."""
    amount = cap[end] - load[end]
    i = erow[via[end]]
    while back[i] >= 0:
        amount = min(amount, flow[back[i]])
        i = erow[via[rcol[back[i]]]]
    amount = min(amount, w[i] - served[i])
    load[end] += amount
    served[i] += amount
    i = erow[via[end]]
    flow[via[end]] += amount
    while back[i] >= 0:
        flow[back[i]] -= amount
        e = via[rcol[back[i]]]
        flow[e] += amount
        i = erow[e]


@njit(cache=True)  # type: ignore[misc]
def close_site(erow, cptr, centry, flow, served, load, j):  # type: ignore[no-untyped-def]
    """Return site ``j``'s amounts to their rows (in place)."""
    for k in range(cptr[j], cptr[j + 1]):
        e = centry[k]
        served[erow[e]] -= flow[e]
        flow[e] = 0
    load[j] = 0
