"""The heuristic search of maximum coverage: greedy + swaps, then an LP-seeded population search.

After lazy greedy and swaps, a population search (:mod:`planner.optimize._cover_tabu`) starts
from the best answer so far, from the best answer of a shorter population search over the LP
core (the LP support and the most promising other columns), and from selections sampled after
the LP values; it runs over the columns that reduced-cost fixing leaves, those that may still be
in an answer as good as the best so far. Its budget grows with how fractional the LP solution
is: a measure of how hard the instance is, for this search as for branch-and-bound (see
:data:`SPREAD_PER_SITE`).
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from planner.optimize._cover_model import reach_columns
from planner.optimize._cover_search import (
    Restricted,
    coverage_counts,
    iterated_swaps,
    lazy_greedy,
    restrict_columns,
    swap_search,
)
from planner.optimize._cover_tabu import (
    START_SHARE,
    Found,
    KernelArrays,
    per_start_moves,
    population_search,
    tabu_run,
)
from planner.optimize._highs import HighsOutcome

logger = logging.getLogger(__name__)

#: Without a move table (see ``TABLE_MAX_CELLS``), an iterated local search runs instead: it
#: stops after ``clip(ILS_PATIENCE_WORK / pairs, 20, 150)`` kicks without improvement, or
#: ``clip(ILS_KICK_WORK / pairs, 50, 600)`` kicks in all.
ILS_PATIENCE_WORK = 3e6
ILS_KICK_WORK = 3e7
#: Above this many pairs the iterated local search is skipped (greedy + swaps only).
ILS_MAX_NNZ = 5_000_000
#: Share of the columns outside the LP support added to the core.
CORE_EXTRA_SHARE = 0.1
#: Share of the search budget spent on a population search over the core columns alone; its
#: best answer then joins the starts of the search over all columns (which gets the rest).
#: Uniform metro optima were found this way that the all-column search missed. (0.1 before the
#: all-column search ran over the columns left by reduced-cost fixing: the same hits, slower.)
CORE_SHARE = 0.05
#: The population search makes ``clip(W / c, 1000, 200000)`` swaps in all, ``c = candidates *
#: p + 2 * column degree * row degree`` standing for the work of one swap and ``W =
#: SEARCH_WORK_PER_PAIR * pairs`` clipped to ``[SEARCH_WORK, SEARCH_WORK_MAX]`` (about 60,000
#: swaps on a 2,000 x 500 metro instance with p = 30; 9,000 on 10,000 x 2,000 with p = 100),
#: times the hardness scale below. It keeps a dense ``candidates x p`` move table, so it is
#: replaced by the iterated local search above ``TABLE_MAX_CELLS`` cells.
SEARCH_WORK = 1e9
SEARCH_WORK_PER_PAIR = 1e4
SEARCH_WORK_MAX = 2e9
TABLE_MAX_CELLS = 2_000_000
#: Hardness scale of the budget: the LP solution's fractional columns per site over this
#: number, clipped to ``[1, SCALE_MAX]``. Measured on 2,000 x 500 metro instances with p = 30:
#: uniform layouts have 0.9-1.8 fractional columns per site (HiGHS proves them optimal in 1-6
#: s), clustered ones 6-8 (43 s to more than 150 s); with the scale the search reached the best
#: known value in 46 of 48 clustered runs instead of 36, at 1.1 s instead of 0.5 s.
SPREAD_PER_SITE = 2.0
SCALE_MAX = 3.0
#: Starts of the population search: the incumbent, the core's best answer when there is an LP
#: core, and samples drawn with probabilities following the LP solution (or, without one, the
#: incumbent with a third of its sites replaced greedily).
POPULATION = 8
#: ... but fewer starts when each would get fewer than this many swaps (large instances, where
#: a swap scans a big table: one long tabu search beats several short ones there).
MIN_START_MOVES = 2_000
#: The first tabu run of the all-column search (from greedy + swaps) gets this many starts'
#: swaps. With two threads or more it is made in the background while HiGHS solves the LP
#: relaxation and the core search runs; its answer and the core's then set how many columns
#: reduced-cost fixing leaves to the rest of the search. On 2,000 x 500 uniform metro
#: instances 1 start gave the same hits as 2 or 3, in 0.14 s instead of 0.16 and 0.19 s.
HEAD_STARTS = 1
#: Least swaps of the search over the columns left by reduced-cost fixing (it makes the
#: all-column search's swaps times the share of columns left).
MIN_FIXED_MOVES = 1_000
#: Share of the all-column search's budget left to its children once the starts are done (the
#: core search keeps ``1 - START_SHARE``): there, children found the best answer in 5 of 65
#: metro runs that reached it, and took a third of the time.
MAIN_CHILDREN_SHARE = 0.1
#: Work cap (matrix entries visited) of the swap search: rounds are capped at ``WORK / pairs``,
#: within [3, 1000].
SWAP_WORK = 1e9


@dataclass(frozen=True, eq=False)
class Head:
    """The tabu run that opens the all-column search, and the kernel arrays it was made on
    (the search goes on with them rather than building them again)."""

    arrays: KernelArrays
    found: Found


def heuristic_selection(
    csr: sp.csr_array, csc: sp.csc_array, w: np.ndarray, p: int, *, deadline: float
) -> np.ndarray:
    """Lazy greedy, then swap search until no single swap improves."""
    greedy, _ = lazy_greedy(csc, w, p)
    selected = pad(greedy, p, csr.shape[1])
    rounds = work_cap(SWAP_WORK, csr.nnz, low=3, high=1000)
    return swap_search(csr, csc, w, selected, deadline=deadline, max_rounds=rounds)


def improve(
    csr: sp.csr_array,
    csc: sp.csc_array,
    w: np.ndarray,
    selected: np.ndarray,
    *,
    rng: np.random.Generator,
    deadline: float,
    target: float = math.inf,
    starts: list[np.ndarray] | None = None,
    work: float = 1.0,
    threads: int = 1,
    head: Head | None = None,
    children_share: float = 1 - START_SHARE,
    moves: int | None = None,
) -> np.ndarray:
    """Population search from ``selected`` and ``starts`` (default: perturbed copies of
    ``selected``) with the ``work`` share of the budget (or ``moves`` swaps),
    ``children_share`` of it left to children, its best answer then polished by pairs of swaps;
    where the move table would be too large, an iterated local search from the best of
    ``selected`` and ``starts``. ``head``: the run from ``selected``, already made (see
    :func:`head_run`)."""
    p = selected.shape[0]
    if csr.shape[1] * p > TABLE_MAX_CELLS:
        # one trajectory, from the best start (the core's answer, say, when there is an LP)
        selected = max([selected, *(starts or [])], key=lambda s: selection_value(csr, w, s))
        if csr.nnz > ILS_MAX_NNZ:
            return selected
        return iterated_swaps(
            csr,
            csc,
            w,
            selected,
            rng=rng,
            patience=work_cap(ILS_PATIENCE_WORK, csr.nnz, low=20, high=150),
            max_kicks=work_cap(ILS_KICK_WORK, csr.nnz, low=50, high=600),
            deadline=deadline,
            target=target,
        )
    if moves is None:
        moves, room = search_size(csr, p, work=work)
    else:
        room = _starts(moves)
    if starts is None:
        starts = [perturbed(csr, csc, w, selected, rng=rng) for _ in range(room - 1)]
    return population_search(
        KernelArrays.of(csr, csc, w) if head is None else head.arrays,
        starts[: room - 1] if head is not None else [selected, *starts[: room - 1]],
        rng=rng,
        per_start=per_start_moves(moves, room),
        children=int(children_share * moves) if room > 1 else 0,
        deadline=deadline,
        target=target,
        threads=threads,
        done=() if head is None else (head.found,),
        polish=True,
    )


def search_size(csr: sp.csr_array, p: int, *, work: float) -> tuple[int, int]:
    """Swaps of a population search given the ``work`` share of the budget, and its starts."""
    per_move = csr.shape[1] * p + 2 * (csr.nnz / csr.shape[1]) * (csr.nnz / max(csr.shape[0], 1))
    budget = work * min(max(SEARCH_WORK, SEARCH_WORK_PER_PAIR * csr.nnz), SEARCH_WORK_MAX)
    moves = work_cap(budget, int(per_move), low=1_000, high=200_000)
    return moves, _starts(moves)


def _starts(moves: int) -> int:
    """Starts of a population search of ``moves`` swaps."""
    return int(min(POPULATION, max(1, START_SHARE * moves // MIN_START_MOVES)))


def with_head(csr: sp.csr_array, p: int) -> bool:
    """Whether the search of this instance opens with :func:`head_run`."""
    return csr.shape[1] * p <= TABLE_MAX_CELLS


def head_run(
    csr: sp.csr_array,
    csc: sp.csc_array,
    w: np.ndarray,
    selected: np.ndarray,
    *,
    seed: int,
    deadline: float,
    stop: np.ndarray | None = None,
) -> Head:
    """The tabu run from greedy + swaps that opens the all-column search: :data:`HEAD_STARTS`
    starts' share of its swaps (at the base budget: it is made before the LP is known), or the
    whole start phase when that search has a single start. ``stop``: a flag that ends it early
    when set (when the LP proves greedy + swaps optimal, say)."""
    p = selected.shape[0]
    moves, room = search_size(csr, p, work=1 - CORE_SHARE)
    moves = min(HEAD_STARTS, room) * per_start_moves(moves, room)
    arrays = KernelArrays.of(csr, csc, w)
    found = tabu_run(arrays, selected, seed=seed, moves=moves, deadline=deadline, stop=stop)
    return Head(arrays, found)


def lp_search(
    csr: sp.csr_array,
    csc: sp.csc_array,
    w: np.ndarray,
    selected: np.ndarray,
    lp: HighsOutcome,
    head: Future[Head] | None,
    *,
    rng: np.random.Generator,
    head_seed: int,
    deadline: float,
    target: float,
    threads: int = 1,
) -> np.ndarray:
    """Population search from ``selected``, the core's best answer and LP samples; then swaps.

    ``head``: the run from ``selected`` (:func:`head_run`), being made in the background; without
    it, that run is made here from ``head_seed`` first. The core search does not wait for it.
    """
    p = selected.shape[0]
    made = None
    if head is None and with_head(csr, p):
        made = head_run(csr, csc, w, selected, seed=head_seed, deadline=deadline)
        if reaches(made.found[1], target):
            return made.found[0]
    n = csr.shape[1]
    x = None if lp.x is None else lp.x[:n]
    scale = search_scale(x, p)
    core = lp_core(lp, n, p)
    starts = []
    if core is not None:
        starts.append(
            _core_best(
                csr,
                w,
                core,
                p,
                rng=rng,
                deadline=deadline,
                target=target,
                threads=threads,
                work=CORE_SHARE * scale,
            )
        )
    if head is not None:
        made = head.result()
        if reaches(made.found[1], target):
            return made.found[0]
    found = _reach_search(
        csr,
        csc,
        w,
        [selected, *starts],
        lp,
        made,
        rng=rng,
        deadline=deadline,
        target=target,
        work=(1 - CORE_SHARE) * scale,
        threads=threads,
    )
    return _finish(csr, csc, w, [found, *starts[:1]], deadline=deadline)


def _finish(
    csr: sp.csr_array, csc: sp.csc_array, w: np.ndarray, found: list[np.ndarray], *, deadline: float
) -> np.ndarray:
    """Swaps from the best of ``found``: the search's answer, then the core's answer if any (a
    search with a single start, on large instances, is the head run alone: the core's answer
    joins it here)."""
    best = max(found, key=lambda sites: selection_value(csr, w, sites))
    rounds = work_cap(SWAP_WORK, csr.nnz, low=3, high=1000)
    return swap_search(csr, csc, w, best, deadline=deadline, max_rounds=rounds)


def _kept_starts(
    cut: Restricted, known: list[np.ndarray], x: np.ndarray, p: int, *, rng: np.random.Generator
) -> list[np.ndarray]:
    """Starts over the columns ``cut`` keeps: the ``known`` answers in that order (the best
    first), each once and when all its sites are kept, then samples of the LP solution ``x``
    over the kept columns up to :data:`POPULATION`."""
    mapped: list[np.ndarray] = []
    for sites in known:
        local = cut.local(sites)
        if local is not None and not any(np.array_equal(local, m) for m in mapped):
            mapped.append(local)
    return mapped + lp_samples(x, p, POPULATION - len(mapped), rng=rng)


def _reach_search(
    csr: sp.csr_array,
    csc: sp.csc_array,
    w: np.ndarray,
    starts: list[np.ndarray],
    lp: HighsOutcome,
    head: Head | None,
    *,
    rng: np.random.Generator,
    deadline: float,
    target: float,
    work: float,
    threads: int,
) -> np.ndarray:
    """The all-column search from ``starts`` (greedy + swaps, then the core's answer if any),
    ``head`` and samples of the LP solution, made over the columns that may still be in an
    answer as good as the best so far (:func:`reach_columns`, reduced-cost fixing by the LP
    dual). The fixing is exact: no better answer is lost. The search then leads with that best
    answer, follows with the other answers when different, draws its LP samples over the columns
    left, and makes the all-column search's swaps times the share of columns left (each swap is
    cheaper too). On 12 uniform 2,000 x 500 metro instances x 24 seeds it kept
    30-70 % of the columns and reached the optimum in 278 of 288 runs in 0.098 s on average,
    against 270 in 0.215 s over all columns (with the three-start first run and 10 % core).
    """
    n, p = csr.shape[1], starts[0].shape[0]
    known = starts if head is None else [*starts, head.found[0]]
    best = max(known, key=lambda sites: selection_value(csr, w, sites))
    keep = reach_columns(lp, p, selection_value(csr, w, best))
    moves, _ = search_size(csr, p, work=work)
    assert lp.x is not None
    if keep is None or keep.shape[0] >= n:
        starts = [*starts, *lp_samples(lp.x, p, POPULATION - len(starts), rng=rng)]
        return improve(
            csr,
            csc,
            w,
            starts[0],
            rng=rng,
            deadline=deadline,
            target=target,
            starts=starts[1:] or None,
            moves=moves,
            threads=threads,
            head=head,
            children_share=MAIN_CHILDREN_SHARE,
        )
    if keep.shape[0] <= p:  # only ``best`` reaches its own value: it is optimal
        return best
    logger.debug("reduced-cost fixing keeps %d of %d columns", keep.shape[0], n)
    # swaps in proportion to the columns left: the neighbourhood shrinks with them
    moves = max(MIN_FIXED_MOVES, int(moves * keep.shape[0] / n))
    cut = restrict_columns(csr, w, keep)
    sub = cut.reduced
    mapped = _kept_starts(cut, [best, *known], lp.x[keep], p, rng=rng)
    found = improve(
        sub.matrix,
        sp.csc_array(sub.matrix),
        sub.weights,
        mapped[0],
        rng=rng,
        deadline=deadline,
        target=target,
        starts=mapped[1:],
        moves=moves,
        threads=threads,
        children_share=MAIN_CHILDREN_SHARE,
    )
    return better(csr, w, keep[found], best)


def better(csr: sp.csr_array, w: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The selection covering more weight (``a`` on a tie)."""
    return a if selection_value(csr, w, a) >= selection_value(csr, w, b) else b


def reaches(value: float, target: float) -> bool:
    """Whether ``value`` reaches a finite ``target`` (within a relative 1e-9)."""
    return math.isfinite(target) and value >= target - 1e-9 * max(1.0, target)


def search_scale(x: np.ndarray | None, p: int) -> float:
    """Budget scale of an instance whose LP solution has column values ``x``: its fractional
    columns per site over :data:`SPREAD_PER_SITE`, clipped to ``[1, SCALE_MAX]``."""
    if x is None:
        return 1.0
    fractional = int(np.count_nonzero((x > 1e-6) & (x < 1 - 1e-6)))
    return float(min(SCALE_MAX, max(1.0, fractional / (SPREAD_PER_SITE * max(p, 1)))))


def lp_core(lp: HighsOutcome, n: int, p: int) -> np.ndarray | None:
    """Columns worth searching first: the LP support plus the best of the rest by reduced cost.

    ``None`` when the LP carries no reduced costs or the core would be every column. The
    optimal sites of MCLP instances lie almost all in the LP support (28 and 30 of 30 on two
    clustered 2,000 x 500 instances), and the others have small reduced costs.
    """
    if lp.x is None or lp.reduced_costs is None:
        return None
    x, reduced = lp.x[:n], lp.reduced_costs[:n]
    support = np.flatnonzero(x > 1e-6)
    rest = np.flatnonzero(x <= 1e-6)
    extra = max(p, int(CORE_EXTRA_SHARE * n), 2 * p - support.shape[0])
    # maximisation: a closed column's reduced cost is <= 0, the closer to 0 the more promising
    best_rest = rest[np.argsort(-reduced[rest], kind="stable")[:extra]]
    core = np.union1d(support, best_rest)
    return core if core.shape[0] < n else None


def _core_best(
    csr: sp.csr_array,
    w: np.ndarray,
    core: np.ndarray,
    p: int,
    *,
    rng: np.random.Generator,
    deadline: float,
    target: float,
    threads: int,
    work: float,
) -> np.ndarray:
    """Greedy, swaps and a population search with ``work`` on the core columns (original
    indices)."""
    sub = restrict_columns(csr, w, core).reduced
    sub_csc = sp.csc_array(sub.matrix)
    start = heuristic_selection(sub.matrix, sub_csc, sub.weights, p, deadline=deadline)
    found = improve(
        sub.matrix,
        sub_csc,
        sub.weights,
        start,
        rng=rng,
        deadline=deadline,
        target=target,
        work=work,
        threads=threads,
    )
    return np.asarray(core[found], dtype=np.int64)


def perturbed(
    csr: sp.csr_array,
    csc: sp.csc_array,
    w: np.ndarray,
    selected: np.ndarray,
    *,
    rng: np.random.Generator,
) -> np.ndarray:
    """``selected`` with a random third of its sites replaced by lazy greedy."""
    p = selected.shape[0]
    keep = np.delete(selected, rng.choice(p, size=max(1, p // 3), replace=False))
    refill, _ = lazy_greedy(csc, w, p - keep.shape[0], covered=coverage_counts(csr, keep) > 0)
    return pad(np.concatenate([keep, refill]), p, csr.shape[1])


def lp_samples(x: np.ndarray, p: int, count: int, *, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` selections of ``p`` columns drawn with probabilities following the LP values
    ``x`` of the columns."""
    weight = np.clip(x, 0.0, None) + 1e-3
    prob = weight / weight.sum()
    return [np.sort(rng.choice(x.shape[0], size=p, replace=False, p=prob)) for _ in range(count)]


def selection_value(csr: sp.csr_array, w: np.ndarray, selected: np.ndarray) -> float:
    """Weight covered by ``selected``."""
    return float(w[coverage_counts(csr, selected) > 0].sum())


def work_cap(work: float, nnz: int, *, low: int, high: int) -> int:
    """Number of O(nnz) passes allowed by a work budget, clipped to ``[low, high]``."""
    return int(min(high, max(low, work // max(nnz, 1))))


def pad(selected: np.ndarray, p: int, n: int) -> np.ndarray:
    """Fill a selection up to ``p`` sites with the lowest unused indices (zero-gain sites)."""
    selected = np.unique(selected)
    if selected.shape[0] >= p:
        return selected[:p] if selected.shape[0] > p else selected
    unused = np.setdiff1d(np.arange(n), selected)[: p - selected.shape[0]]
    return np.sort(np.concatenate([selected, unused]))
