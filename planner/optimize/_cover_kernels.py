"""Compiled kernels of the maximum-coverage searches: the swap-value table, tabu search, the
greedy reduction of a union of sites (the crossover of the population search) and a polish by
pairs of swaps.

The value of swapping the site in slot ``s`` (column ``j``) for closed column ``k`` is

    delta(k, s) = add[k] - loss[s] + extra[s, k]

where ``add[k]`` is the uncovered weight ``k`` covers, ``loss[s]`` the weight only ``j`` covers
and ``extra[s, k]`` the part of that weight ``k`` also covers. Opening or closing a site updates
the table from the rows whose cover count changed. Choosing a swap scans the whole ``candidates
x p`` table, or, with the column adjacency, only ``add``, ``loss`` and the neighbours of the open
sites (:func:`_best_move_sparse`): ``extra[s, k]`` is zero unless ``k`` shares a row with the
site in slot ``s``.

The kernels are compiled by numba (cached on disk after the first call) because the searches are
sequential move loops: in numpy each move cost about 0.2 ms of call overhead on a 2,000 x 500
instance with p = 30; compiled, about 16-19 us with the whole-table scan and 6-7 us with the
adjacency. :func:`tabu` and :func:`pair_polish` release the GIL, so runs can share threads.
Arrays: ``r_ptr``/``r_idx`` the CSR of the boolean coverage matrix, ``c_ptr``/``c_idx`` its CSC,
``n_ptr``/``n_idx`` the CSR of the column adjacency (empty when not built), ``w`` the row
weights; all int64 / float64.
Randomness comes from a xorshift64* stream seeded by the caller's ``numpy`` generator.
"""

from __future__ import annotations

import heapq
import time

import numpy as np
from numba import njit, objmode

# The kernels' parameters are left unannotated (numba types them at compile time); each
# docstring says what they hold. The tables, in build() order: counts, owner, slot_of, add,
# loss, extra.
_Tables = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@njit(cache=True)
def _next(state: np.ndarray) -> int:  # pragma: no cover - compiled
    """Next 53-bit value of the xorshift64* stream held in ``state[0]``."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return (x * np.uint64(2685821657736338717)) >> np.uint64(11)


@njit(cache=True)
def _below(state: np.ndarray, k: int) -> int:  # pragma: no cover - compiled
    """Uniform integer in ``[0, k)``."""
    return int(_next(state) % np.uint64(k))


@njit(cache=True)
def _now() -> float:  # pragma: no cover - compiled
    with objmode(t="float64"):
        t = time.perf_counter()
    return t


@njit(cache=True)
def _stream(seed):  # type: ignore[no-untyped-def]
    """A xorshift64* state array seeded with ``seed`` (made odd, never zero)."""
    state = np.empty(1, np.uint64)
    state[0] = np.uint64(seed) | np.uint64(1)
    return state


@njit(cache=True)
def _new_tables(m: int, n: int, q: int) -> _Tables:
    """Zeroed tables for ``m`` rows, ``n`` columns and ``q`` slots, in :func:`build` order."""
    return (
        np.zeros(m, np.int64),
        np.zeros(m, np.int64),
        np.zeros(n, np.int64),
        np.zeros(n),
        np.zeros(q),
        np.zeros((q, n)),
    )


@njit(cache=True)
def build(r_ptr, r_idx, c_ptr, c_idx, w, slots, counts, owner, slot_of, add, loss, extra):  # type: ignore[no-untyped-def]
    """Fill the table for the sites in ``slots`` (``-1`` marks a free slot); return the value.

    ``counts`` (per row): open sites covering it; ``owner`` (per row): the slot of its only
    covering site, or -1; ``slot_of`` (per column): its slot or -1.
    """
    m = r_ptr.shape[0] - 1
    slot_of[:] = -1
    for s in range(slots.shape[0]):
        if slots[s] >= 0:
            slot_of[slots[s]] = s
    add[:] = 0.0
    loss[:] = 0.0
    extra[:, :] = 0.0
    value = 0.0
    for i in range(m):
        count = 0
        last = -1
        for e in range(r_ptr[i], r_ptr[i + 1]):
            if slot_of[r_idx[e]] >= 0:
                count += 1
                last = slot_of[r_idx[e]]
        counts[i] = count
        owner[i] = last if count == 1 else -1
        if count == 0:
            for e in range(r_ptr[i], r_ptr[i + 1]):
                add[r_idx[e]] += w[i]
            continue
        value += w[i]
        if count == 1:
            loss[last] += w[i]
            for e in range(r_ptr[i], r_ptr[i + 1]):
                extra[last, r_idx[e]] += w[i]
    return value


@njit(cache=True)
def close_slot(r_ptr, r_idx, c_ptr, c_idx, w, slots, counts, owner, slot_of, add, loss, extra, s):  # type: ignore[no-untyped-def]
    """Close the site in slot ``s`` (the slot becomes free); return the weight left uncovered."""
    j = slots[s]
    slot_of[j] = -1
    slots[s] = -1
    lost = 0.0
    for e in range(c_ptr[j], c_ptr[j + 1]):
        i = c_idx[e]
        counts[i] -= 1
        if counts[i] == 0:
            owner[i] = -1
            lost += w[i]
            for f in range(r_ptr[i], r_ptr[i + 1]):
                add[r_idx[f]] += w[i]
        elif counts[i] == 1:  # its remaining site now covers it alone
            o = -1
            for f in range(r_ptr[i], r_ptr[i + 1]):
                if slot_of[r_idx[f]] >= 0:
                    o = slot_of[r_idx[f]]
                    break
            owner[i] = o
            loss[o] += w[i]
            for f in range(r_ptr[i], r_ptr[i + 1]):
                extra[o, r_idx[f]] += w[i]
    loss[s] = 0.0
    extra[s, :] = 0.0
    return lost


@njit(cache=True)
def open_slot(r_ptr, r_idx, c_ptr, c_idx, w, slots, counts, owner, slot_of, add, loss, extra, k, s):  # type: ignore[no-untyped-def]
    """Open column ``k`` in the free slot ``s``; return the weight it newly covers."""
    slot_of[k] = s
    slots[s] = k
    gained = 0.0
    for e in range(c_ptr[k], c_ptr[k + 1]):
        i = c_idx[e]
        counts[i] += 1
        if counts[i] == 1:
            owner[i] = s
            loss[s] += w[i]
            gained += w[i]
            for f in range(r_ptr[i], r_ptr[i + 1]):
                add[r_idx[f]] -= w[i]
                extra[s, r_idx[f]] += w[i]
        elif counts[i] == 2:  # its former sole site no longer covers it alone
            o = owner[i]
            loss[o] -= w[i]
            for f in range(r_ptr[i], r_ptr[i + 1]):
                extra[o, r_idx[f]] -= w[i]
            owner[i] = -1
    return gained


@njit(cache=True)
def _best_move(slots, slot_of, add, loss, extra, until, move, value, best_value, tol, state):  # type: ignore[no-untyped-def]
    """The best allowed swap (tabu unless it beats ``best_value``), ties broken at random."""
    p, n = extra.shape
    top = -np.inf  # the largest value seen; ties are within tol of it
    chosen = -np.inf  # the value of the swap chosen among the ties
    best_k = -1
    best_s = -1
    ties = 0
    for s in range(p):
        s_tabu = until[slots[s]] > move
        lose = loss[s]
        for k in range(n):
            if slot_of[k] >= 0:
                continue
            d = add[k] - lose + extra[s, k]
            if (s_tabu or until[k] > move) and value + d <= best_value + tol:
                continue
            # inline, as in _best_move_sparse: a shared helper made this loop 3x slower
            if d > top + tol:
                top, chosen, best_k, best_s, ties = d, d, k, s, 1
            elif d >= top - tol:
                ties += 1
                if _below(state, ties) == 0:
                    chosen, best_k, best_s = d, k, s
    return chosen, best_k, best_s


@njit(cache=True)
def _largest_add(add, slot_of, until, move, state):  # type: ignore[no-untyped-def]
    """Closed columns with the largest ``add``: (value, column) over all, then over non-tabu
    ones (column -1 when there is none), ties broken at random.

    Ties are counted in the scan and one is drawn afterwards, rather than by a random draw per
    tie: many columns tie (at 0 when little is uncovered), and the draws were most of the cost.
    """
    top, at, ties = -np.inf, -1, 0
    top_free, at_free, ties_free = -np.inf, -1, 0
    for k in range(add.shape[0]):
        if slot_of[k] >= 0:
            continue
        v = add[k]
        if v > top:
            top, at, ties = v, k, 1
        elif v == top:
            ties += 1
        if until[k] <= move:
            if v > top_free:
                top_free, at_free, ties_free = v, k, 1
            elif v == top_free:
                ties_free += 1
    if ties > 1:
        at = _random_tie(add, slot_of, until, move, top, ties, False, state)
    if ties_free > 1:
        at_free = _random_tie(add, slot_of, until, move, top_free, ties_free, True, state)
    return top, at, top_free, at_free


@njit(cache=True)
def _random_tie(add, slot_of, until, move, top, ties, free_only, state):  # type: ignore[no-untyped-def]
    """A random one of the ``ties`` (> 0) closed columns whose ``add`` is ``top`` (non-tabu
    ones only if ``free_only``)."""
    pick = _below(state, ties)
    for k in range(add.shape[0]):
        if slot_of[k] < 0 and add[k] == top and (not free_only or until[k] <= move):
            if pick == 0:
                return k
            pick -= 1
    return -1


@njit(cache=True)
def _smallest_loss(slots, loss, until, move, state):  # type: ignore[no-untyped-def]
    """Slots with the smallest ``loss``: (loss, slot) over all, then over non-tabu sites (slot
    -1 when there is none); ties broken at random."""
    low, at, ties = np.inf, -1, 0
    low_free, at_free, ties_free = np.inf, -1, 0
    for s in range(slots.shape[0]):
        v = loss[s]
        if v < low:
            low, at, ties = v, s, 1
        elif v == low:
            ties += 1
            if _below(state, ties) == 0:
                at = s
        if until[slots[s]] > move:
            continue
        if v < low_free:
            low_free, at_free, ties_free = v, s, 1
        elif v == low_free:
            ties_free += 1
            if _below(state, ties_free) == 0:
                at_free = s
    return low, at, low_free, at_free


@njit(cache=True)
def _best_move_sparse(  # type: ignore[no-untyped-def]
    slots, slot_of, add, loss, extra, until, move, value, best_value, tol, state, n_ptr, n_idx
):
    """:func:`_best_move` without scanning the whole table (same best value; ties differ).

    ``extra[s, k] > 0`` only when column ``k`` shares a row with the site in slot ``s``, so the
    best swap is the better of (a) the largest ``add`` minus the smallest ``loss``, a lower
    estimate of every pair's value that is exact where ``extra`` is 0, and (b) the exact values
    of the pairs of a slot and a column neighbouring its site (``n_ptr``/``n_idx``: CSR of the
    column adjacency). Tabu and aspiration apply to both as in :func:`_best_move`.
    """
    thr = best_value - value + tol  # a tabu move is allowed when its value exceeds this
    a_all, k_all, _, k_free = _largest_add(add, slot_of, until, move, state)
    l_all, s_all, _, s_free = _smallest_loss(slots, loss, until, move, state)
    best_k, best_s = -1, -1
    if k_all >= 0 and a_all - l_all > thr:  # the overall best estimate beats the best found
        best_k, best_s = k_all, s_all
    elif k_free >= 0 and s_free >= 0:
        best_k, best_s = k_free, s_free
    top = -np.inf  # the largest value seen; ties are within tol of it
    if best_k >= 0:
        top = add[best_k] - loss[best_s] + extra[best_s, best_k]
    chosen = top  # the value of the swap chosen among the ties
    ties = 1
    for s in range(slots.shape[0]):
        j = slots[s]
        s_tabu = until[j] > move
        for e in range(n_ptr[j], n_ptr[j + 1]):
            k = n_idx[e]
            if extra[s, k] <= 0.0 or slot_of[k] >= 0:  # extra 0: no better than part (a)
                continue
            d = add[k] - loss[s] + extra[s, k]
            if (s_tabu or until[k] > move) and d <= thr:
                continue
            if d > top + tol:
                top, chosen, best_k, best_s, ties = d, d, k, s, 1
            elif d >= top - tol:
                ties += 1
                if _below(state, ties) == 0:
                    chosen, best_k, best_s = d, k, s
    return chosen, best_k, best_s


@njit(cache=True)
def _kick(slots, slot_of, size, state):  # type: ignore[no-untyped-def]
    """Replace ``size`` random open sites by random closed columns (``slot_of`` kept valid)."""
    n = slot_of.shape[0]
    p = slots.shape[0]
    for _ in range(size):
        s = _below(state, p)
        k = _below(state, n)
        while slot_of[k] >= 0:
            k = _below(state, n)
        slot_of[slots[s]] = -1
        slots[s] = k
        slot_of[k] = s


@njit(cache=True)
def _choose(sparse, slots, tables, until, moves, value, best_value, tol, state, n_ptr, n_idx):  # type: ignore[no-untyped-def]
    """The next move of :func:`tabu`: ``(value change, column to open, slot to close)``, by
    :func:`_best_move_sparse` when ``sparse``, else by :func:`_best_move`."""
    _, _, slot_of, add, loss, extra = tables
    if sparse:
        return _best_move_sparse(
            slots,
            slot_of,
            add,
            loss,
            extra,
            until,
            moves,
            value,
            best_value,
            tol,
            state,
            n_ptr,
            n_idx,
        )
    return _best_move(slots, slot_of, add, loss, extra, until, moves, value, best_value, tol, state)


@njit(cache=True)
def _swap(r_ptr, r_idx, c_ptr, c_idx, w, slots, tables: _Tables, until, moves, k, s, spans, state):  # type: ignore[no-untyped-def]
    """Swap the site in slot ``s`` for column ``k``: the closed site may not reopen and ``k``
    may not close for random tenures drawn from ``spans`` (open low, open span, shut low, shut
    span)."""
    j = slots[s]
    close_slot(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables, s)
    open_slot(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables, k, s)
    until[j] = moves + spans[2] + _below(state, spans[3])
    until[k] = moves + spans[0] + _below(state, spans[1])


@njit(cache=True)
def _restart(r_ptr, r_idx, c_ptr, c_idx, w, slots, best, tables: _Tables, until, state):  # type: ignore[no-untyped-def]
    """Back to ``best``, kicked by 1 to p/5 random swaps, with fresh tenures; return the value."""
    slots[:] = best
    build(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables)
    _kick(slots, tables[2], 1 + _below(state, max(1, slots.shape[0] // 5)), state)
    value = build(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables)
    until[:] = 0
    return value


@njit(cache=True, nogil=True)
def tabu(  # type: ignore[no-untyped-def]
    r_ptr,
    r_idx,
    c_ptr,
    c_idx,
    w,
    n_ptr,
    n_idx,
    start,
    max_moves,
    patience,
    target,
    seed,
    tol,
    deadline,
    stop,
):
    """Tabu search over single swaps from ``start``; return (best sites sorted, value, moves).

    A column just closed may not reopen, and one just opened may not close, for a random tenure
    (aspiration: a tabu move beating the best is allowed). After ``patience`` moves without a
    new best the search restarts from the best with a random kick of 1 to p/5 sites. It stops
    after ``max_moves`` moves, at ``target``, after ``deadline`` (a ``perf_counter`` value) or
    once another thread sets ``stop[0]`` (both checked every 128 moves).
    With a column adjacency (``n_ptr`` of length ``n + 1``) moves are chosen by
    :func:`_best_move_sparse`, otherwise by scanning the whole table. The table is rebuilt
    every 256 moves so float round-off cannot accumulate.
    """
    n = c_ptr.shape[0] - 1
    p = start.shape[0]
    slots = start.copy()
    tables = _new_tables(r_ptr.shape[0] - 1, n, p)
    value = build(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables)
    best = slots.copy()
    best_value = value
    state = _stream(seed)
    free = n - p
    open_lo, open_span = max(1, p // 6), max(2, p // 3) + 1 - max(1, p // 6)
    shut_lo, shut_span = max(1, free // 25), max(2, free // 8) + 1 - max(1, free // 25)
    spans = (open_lo, open_span, shut_lo, shut_span)
    until = np.zeros(n, np.int64)
    sparse = n_ptr.shape[0] == n + 1
    timed = deadline < np.inf  # reading the clock takes the GIL (numba's object mode)
    stale = 0
    moves = 0
    while moves < max_moves and best_value < target - tol and free > 0:
        moves += 1
        top, k, s = _choose(
            sparse, slots, tables, until, moves, value, best_value, tol, state, n_ptr, n_idx
        )
        if k < 0:  # every swap is tabu: forget the tenures
            until[:] = 0
            continue
        _swap(r_ptr, r_idx, c_ptr, c_idx, w, slots, tables, until, moves, k, s, spans, state)
        value += top
        if value > best_value + tol:
            best[:] = slots
            best_value = value
            stale = 0
        else:
            stale += 1
        if stale >= patience:  # back to the best, kicked, with fresh memory
            value = _restart(r_ptr, r_idx, c_ptr, c_idx, w, slots, best, tables, until, state)
            stale = 0
        elif moves % 256 == 0:
            value = build(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables)
        if moves % 128 == 0 and (stop[0] != 0 or (timed and _now() > deadline)):
            break
    return np.sort(best), best_value, moves


@njit(cache=True, nogil=True)
def greedy(c_ptr, c_idx, w, covered, gains, p, target, eps):  # type: ignore[no-untyped-def]
    """Lazy greedy maximum coverage: up to ``p`` columns, each with the largest weight of rows
    not yet ``covered`` (updated in place), from the columns' initial ``gains``; a popped
    column whose gain has gone stale goes back on the heap. Stops once the covered weight
    reaches ``target``; ties go to the lowest column index. Returns the columns in pick order.
    """
    heap = [(-gains[j], j) for j in range(gains.shape[0])]
    heapq.heapify(heap)
    picked = np.empty(min(p, gains.shape[0]), np.int64)
    count = 0
    total = 0.0
    for i in range(covered.shape[0]):
        if covered[i]:
            total += w[i]
    while len(heap) > 0 and count < p and total < target - eps:
        j = heapq.heappop(heap)[1]
        gain = 0.0
        for at in range(c_ptr[j], c_ptr[j + 1]):
            if not covered[c_idx[at]]:
                gain += w[c_idx[at]]
        if len(heap) > 0 and gain < -heap[0][0] - eps * max(1.0, gain):
            heapq.heappush(heap, (-gain, j))
            continue
        picked[count] = j
        count += 1
        for at in range(c_ptr[j], c_ptr[j + 1]):
            covered[c_idx[at]] = True
        total += gain
    return picked[:count]


@njit(cache=True)
def drop_to(r_ptr, r_idx, c_ptr, c_idx, w, union, p, seed):  # type: ignore[no-untyped-def]
    """Reduce a union of sites to ``p`` by closing, one at a time, the site losing least."""
    q = union.shape[0]
    slots = union.copy()
    tables = _new_tables(r_ptr.shape[0] - 1, c_ptr.shape[0] - 1, q)
    loss = tables[4]
    build(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables)
    state = _stream(seed)
    tol = 1e-9 * max(1.0, w.sum())
    for _ in range(q - p):
        pick = -1
        least = np.inf
        ties = 0
        for s in range(q):
            if slots[s] < 0:
                continue
            if loss[s] < least - tol:
                pick, least, ties = s, loss[s], 1
            elif loss[s] <= least + tol:
                ties += 1
                if _below(state, ties) == 0:
                    pick = s
        close_slot(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables, pick)
    kept = slots[slots >= 0]
    return np.sort(kept)


@njit(cache=True, nogil=True)
def pair_polish(  # type: ignore[no-untyped-def]
    r_ptr, r_idx, c_ptr, c_idx, w, n_ptr, n_idx, start, seed, tol, max_visits, deadline
):
    """Improve ``start`` by pairs of swaps; return (sites sorted, value).

    The first swap replaces a site by a column sharing a row with it, the second is the best
    swap after it (an ejection chain of length two): it finds the moves of two neighbouring sites
    that single swaps cannot reach, since each alone loses. Slots are visited in a cycle, the
    first improving pair of each visit applied; the polish stops after a whole cycle without
    improvement (no such pair is left), after ``max_visits`` slot visits, or at ``deadline``.
    Needs the column adjacency (without it, ``start`` is returned).
    """
    n = c_ptr.shape[0] - 1
    p = start.shape[0]
    slots = start.copy()
    tables = _new_tables(r_ptr.shape[0] - 1, n, p)
    _, _, slot_of, add, loss, extra = tables
    value = build(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables)
    if n_ptr.shape[0] != n + 1 or p == 0:
        return np.sort(slots), value
    state = _stream(seed)
    never = np.zeros(n, np.int64)
    timed = deadline < np.inf
    tries = 0
    quiet = 0  # slot visits since the last improvement
    s1 = 0
    for visit in range(max_visits):
        if quiet >= p or (timed and visit % 8 == 0 and _now() > deadline):
            break
        quiet += 1
        j1 = slots[s1]
        for e in range(n_ptr[j1], n_ptr[j1 + 1]):
            k1 = n_idx[e]
            if slot_of[k1] >= 0:
                continue
            first = add[k1] - loss[s1] + extra[s1, k1]
            close_slot(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables, s1)
            open_slot(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables, k1, s1)
            second, k2, s2 = _best_move_sparse(
                slots, slot_of, add, loss, extra, never, 0, 0.0, 0.0, tol, state, n_ptr, n_idx
            )
            if k2 >= 0 and first + second > tol:
                close_slot(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables, s2)
                open_slot(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables, k2, s2)
                value = build(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables)
                quiet = 0
                break
            close_slot(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables, s1)
            open_slot(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables, j1, s1)
            tries += 1
            if tries % 256 == 0:  # float round-off of the undone swaps
                build(r_ptr, r_idx, c_ptr, c_idx, w, slots, *tables)
        s1 = (s1 + 1) % p
    return np.sort(slots), value
