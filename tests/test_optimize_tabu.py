"""MCLP searches: the compiled move table; tabu and population search on enumerable instances."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from planner.optimize import _cover_kernels
from planner.optimize._cover_tabu import KernelArrays, population_search

# numba dispatchers are opaque to mypy
kernels: Any = _cover_kernels


def _random(seed: int, m: int, n: int, density: float) -> tuple[sp.csr_array, np.ndarray]:
    rng = np.random.default_rng(seed)
    return sp.csr_array(rng.random((m, n)) < density), rng.random(m) * 10


def _value(csr: sp.csr_array, w: np.ndarray, sites: np.ndarray) -> float:
    return float(w[csr.toarray()[:, sites].any(axis=1)].sum())


def _adjacency(csr: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the columns sharing a row, however dense (the search skips dense ones)."""
    pairs = sp.csr_array((csr.T.astype(float) @ csr.astype(float)) > 0)
    pairs.setdiag(False)
    pairs.eliminate_zeros()
    pairs.sort_indices()
    return pairs.indptr.astype(np.int64), pairs.indices.astype(np.int64)


def _tables(arrays: KernelArrays, slots: np.ndarray) -> tuple[float, tuple[np.ndarray, ...]]:
    m, n = arrays.r_ptr.shape[0] - 1, arrays.n
    tables = (
        np.zeros(m, np.int64),
        np.zeros(m, np.int64),
        np.zeros(n, np.int64),
        np.zeros(n),
        np.zeros(slots.shape[0]),
        np.zeros((slots.shape[0], n)),
    )
    value = kernels.build(*arrays.matrix, slots, *tables)
    return float(value), tables


@pytest.mark.parametrize("seed", range(12))
def test_incremental_moves_match_a_rebuild(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(4, 30))
    p = int(rng.integers(1, n))
    csr, w = _random(seed, int(rng.integers(5, 60)), n, 0.2)
    arrays = KernelArrays.of(csr, sp.csc_array(csr), w)
    slots = rng.choice(n, p, replace=False).astype(np.int64)
    value, tables = _tables(arrays, slots)
    assert value == pytest.approx(_value(csr, w, slots))
    for _ in range(25):
        s = int(rng.integers(p))
        k = int(rng.choice(np.setdiff1d(np.arange(n), slots)))
        lost = kernels.close_slot(*arrays.matrix, slots, *tables, s)
        gained = kernels.open_slot(*arrays.matrix, slots, *tables, k, s)
        value += gained - lost
        assert value == pytest.approx(_value(csr, w, slots))
        fresh_value, fresh = _tables(arrays, slots.copy())
        assert fresh_value == pytest.approx(value)
        for kept, rebuilt in zip(tables, fresh, strict=True):
            np.testing.assert_allclose(kept, rebuilt, atol=1e-9)
        # the move table prices every swap exactly
        _, _, slot_of, add, loss, extra = tables
        delta = extra.T + add[:, None] - loss[None, :]
        k2 = int(rng.choice(np.flatnonzero(slot_of < 0)))
        s2 = int(rng.integers(p))
        swapped = slots.copy()
        swapped[s2] = k2
        assert value + delta[k2, s2] == pytest.approx(_value(csr, w, swapped))


@pytest.mark.parametrize("seed", range(10))
def test_sparse_move_choice_finds_the_best_allowed_swap(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    n, p = int(rng.integers(6, 40)), int(rng.integers(1, 5))
    csr, w = _random(seed, int(rng.integers(10, 80)), n, 0.1)
    arrays = KernelArrays.of(csr, sp.csc_array(csr), w)
    n_ptr, n_idx = _adjacency(csr)
    slots = rng.choice(n, p, replace=False).astype(np.int64)
    value, tables = _tables(arrays, slots)
    _, _, slot_of, add, loss, extra = tables
    until = rng.integers(0, 3, size=n).astype(np.int64)  # tabu where until > move = 1
    best_value = value + float(rng.choice([0.0, 1.0, 5.0]))
    state = kernels._stream(7)
    args = (slots, slot_of, add, loss, extra, until, 1, value, best_value, 1e-9, state)
    dense_top, _, _ = kernels._best_move(*args)
    top, k, s = kernels._best_move_sparse(*args, n_ptr, n_idx)
    assert top == pytest.approx(dense_top)
    if k >= 0:  # the chosen swap is worth what it claims and is allowed
        swapped = slots.copy()
        swapped[s] = k
        assert value + top == pytest.approx(_value(csr, w, swapped))
        tabu = until[k] > 1 or until[slots[s]] > 1
        assert not tabu or value + top > best_value


@pytest.mark.parametrize("seed", range(6))
def test_pair_polish_leaves_no_improving_pair_of_swaps(seed: int) -> None:
    csr, w = _random(400 + seed, 50, 14, 0.15)
    arrays = KernelArrays.of(csr, sp.csc_array(csr), w)
    p = 4
    start = np.arange(p, dtype=np.int64)
    sites, value = kernels.pair_polish(
        *arrays.matrix, *_adjacency(csr), start, 5, arrays.tol, 10**9, np.inf
    )
    assert value == pytest.approx(_value(csr, w, sites))
    assert value >= _value(csr, w, start) - 1e-9
    neighbours = (csr.T @ csr).toarray() > 0
    for s1, k1 in itertools.product(range(p), range(14)):
        if k1 in sites or not neighbours[sites[s1], k1]:
            continue
        first = sites.copy()
        first[s1] = k1
        for s2, k2 in itertools.product(range(p), range(14)):
            if k2 in first:
                continue
            second = first.copy()
            second[s2] = k2
            assert _value(csr, w, second) <= value + 1e-9


def test_pair_polish_stops_at_its_deadline_and_visit_cap() -> None:
    csr, w = _random(400, 50, 14, 0.15)
    arrays = KernelArrays.of(csr, sp.csc_array(csr), w)
    start = np.arange(4, dtype=np.int64)
    for max_visits, deadline in ((10**9, 0.0), (0, np.inf)):  # a deadline passed; no visits
        sites, value = kernels.pair_polish(
            *arrays.matrix, *_adjacency(csr), start, 5, arrays.tol, max_visits, deadline
        )
        np.testing.assert_array_equal(sites, start)
        assert value == pytest.approx(_value(csr, w, start))


def test_tabu_goes_on_when_every_swap_is_tabu() -> None:
    # one closed column: after a swap or two every move is tabu; the run forgets its tenures
    csr, w = _random(8, 40, 6, 0.3)
    arrays = KernelArrays.of(csr, sp.csc_array(csr), w)
    best, value, made = kernels.tabu(
        *arrays.matrix,
        arrays.n_ptr,
        arrays.n_idx,
        np.arange(5, dtype=np.int64),
        200,
        10**6,
        np.inf,
        3,
        arrays.tol,
        np.inf,
        np.zeros(1, dtype=np.uint8),
    )
    assert made == 200
    assert value == pytest.approx(max(_value(csr, w, np.delete(np.arange(6), j)) for j in range(6)))
    assert value == pytest.approx(_value(csr, w, best))


def test_search_without_a_move_table_starts_from_the_best_start(monkeypatch: Any) -> None:
    from planner.optimize import _mclp_search

    csr, w = _random(12, 300, 40, 0.05)
    csc = sp.csc_array(csr)
    p = 5
    poor = np.argsort(np.diff(csc.indptr))[:p]  # the columns covering fewest rows
    good = _mclp_search.heuristic_selection(csr, csc, w, p, deadline=np.inf)
    assert _value(csr, w, good) > _value(csr, w, poor)
    monkeypatch.setattr(_mclp_search, "TABLE_MAX_CELLS", 0)  # iterated local search
    monkeypatch.setattr(_mclp_search, "ILS_MAX_NNZ", 0)  # ... skipped: the start is the answer
    found = _mclp_search.improve(
        csr, csc, w, poor, rng=np.random.default_rng(0), deadline=np.inf, starts=[good]
    )
    assert _value(csr, w, found) == pytest.approx(_value(csr, w, good))


def test_drop_to_closes_the_cheapest_site_first() -> None:
    # rows 0-2 are covered by column 0 only, row 3 by columns 1 and 2, row 4 by column 2 only
    dense = np.zeros((5, 3), dtype=bool)
    dense[0:3, 0] = True
    dense[3, 1:] = True
    dense[4, 2] = True
    csr = sp.csr_array(dense)
    arrays = KernelArrays.of(csr, sp.csc_array(csr), np.array([1.0, 1.0, 1.0, 5.0, 0.5]))
    # column 1 covers nothing alone (loss 0) and goes first; then column 0 (loss 3 < 5.5)
    kept = kernels.drop_to(*arrays.matrix, np.array([0, 1, 2], dtype=np.int64), 2, 7)
    np.testing.assert_array_equal(kept, [0, 2])
    kept = kernels.drop_to(*arrays.matrix, np.array([0, 1, 2], dtype=np.int64), 1, 7)
    np.testing.assert_array_equal(kept, [2])


@pytest.mark.parametrize("seed", range(8))
def test_tabu_reaches_the_enumerated_optimum(seed: int) -> None:
    csr, w = _random(seed, 30, 10, 0.25)
    p = 3
    best = max(_value(csr, w, np.array(c)) for c in itertools.combinations(range(10), p))
    start = np.arange(p)
    # a lone start: one tabu run
    found = population_search(
        KernelArrays.of(csr, sp.csc_array(csr), w),
        [start],
        rng=np.random.default_rng(seed),
        per_start=300,
        children=0,
    )
    assert found.shape == (p,)
    assert np.unique(found).shape == (p,)
    assert _value(csr, w, found) == pytest.approx(best)


def test_tabu_never_returns_worse_than_its_start() -> None:
    csr, w = _random(5, 200, 60, 0.05)
    start = np.arange(0, 60, 6)
    found = population_search(
        KernelArrays.of(csr, sp.csc_array(csr), w),
        [start],
        rng=np.random.default_rng(0),
        per_start=50,
        children=0,
    )
    assert _value(csr, w, found) >= _value(csr, w, start) - 1e-9


def test_tabu_with_every_column_open_is_a_no_op() -> None:
    csr, w = _random(1, 10, 4, 0.5)
    found = population_search(
        KernelArrays.of(csr, sp.csc_array(csr), w),
        [np.array([3, 1, 0, 2])],
        rng=np.random.default_rng(0),
        per_start=10,
        children=0,
    )
    np.testing.assert_array_equal(found, [0, 1, 2, 3])


def test_lp_core_holds_the_lp_support_and_leaves_columns_out() -> None:
    from planner.optimize._cover_model import max_coverage_lp
    from planner.optimize._mclp_search import lp_core

    csr, w = _random(3, 400, 120, 0.03)
    p = 8
    lp = max_coverage_lp(csr, w, p, time_limit_s=None, seed=0)
    assert lp.reduced_costs is not None and lp.x is not None
    core = lp_core(lp, 120, p)
    assert core is not None
    support = np.flatnonzero(lp.x[:120] > 1e-6)
    assert np.isin(support, core).all()
    assert p < core.shape[0] < 120
    # closed columns kept are those with the reduced costs nearest zero
    closed_in = np.setdiff1d(core, support)
    closed_out = np.setdiff1d(np.arange(120), core)
    reduced = lp.reduced_costs[:120]
    assert reduced[closed_in].min() >= reduced[closed_out].max() - 1e-9


def test_heuristic_beats_or_matches_lazy_greedy_on_a_clustered_instance() -> None:
    from planner.optimize import coverage_from_points, solve_max_coverage
    from planner.optimize._cover_search import lazy_greedy
    from tests.optimize_instances import clustered_layout

    lay = clustered_layout(600, 150, side_m=30_000.0, n_clusters=5, seed=2)
    cover = coverage_from_points(lay.demand_xy, lay.cand_xy, 3_000.0)
    result = solve_max_coverage(cover, lay.weights, 10, method="heuristic")
    _, greedy_covered = lazy_greedy(sp.csc_array(cover), lay.weights, 10)
    assert result.objective >= float(lay.weights[greedy_covered].sum())
    assert result.bound >= result.objective
    recomputed = lay.weights[cover.toarray()[:, result.selected].any(axis=1)].sum()
    assert result.objective == pytest.approx(recomputed)


def test_searches_stop_at_a_reached_target() -> None:
    from planner.optimize._cover_search import iterated_swaps

    csr, w = _random(4, 60, 20, 0.15)
    csc = sp.csc_array(csr)
    start = np.arange(4)
    value = _value(csr, w, start)
    # a target already met: both searches return their start untouched
    same = population_search(
        KernelArrays.of(csr, csc, w),
        [start],
        rng=np.random.default_rng(0),
        per_start=100,
        children=0,
        target=value,
    )
    np.testing.assert_array_equal(same, start)
    kept = iterated_swaps(
        csr,
        csc,
        w,
        start,
        rng=np.random.default_rng(0),
        patience=10,
        max_kicks=10,
        deadline=np.inf,
        target=value,
    )
    np.testing.assert_array_equal(kept, start)


@pytest.mark.parametrize("seed", range(6))
def test_population_search_reaches_the_enumerated_optimum(seed: int) -> None:
    csr, w = _random(50 + seed, 40, 14, 0.2)
    p = 4
    best = max(_value(csr, w, np.array(c)) for c in itertools.combinations(range(14), p))
    csc = sp.csc_array(csr)
    starts = [np.arange(p), np.arange(p, 2 * p), np.arange(14 - p, 14)]
    found = population_search(
        KernelArrays.of(csr, csc, w),
        starts,
        rng=np.random.default_rng(seed),
        per_start=100,
        children=300,
    )
    assert found.shape == (p,)
    assert np.unique(found).shape == (p,)
    assert _value(csr, w, found) == pytest.approx(best)
    # never worse than its best start
    assert _value(csr, w, found) >= max(_value(csr, w, s) for s in starts) - 1e-9


def test_searches_are_reproducible_from_their_seed() -> None:
    csr, w = _random(9, 300, 80, 0.04)
    csc = sp.csc_array(csr)
    starts = [np.arange(8), np.arange(8, 16)]

    def run(seed: int, threads: int) -> np.ndarray:
        return population_search(
            KernelArrays.of(csr, csc, w),
            starts,
            rng=np.random.default_rng(seed),
            per_start=100,
            children=200,
            threads=threads,
            polish=True,
        )

    np.testing.assert_array_equal(run(3, 1), run(3, 1))
    # children are bred in fixed batches: the answer does not depend on the thread count
    np.testing.assert_array_equal(run(3, 1), run(3, 2))


def test_max_coverage_answer_does_not_depend_on_threads() -> None:
    from planner.optimize import coverage_from_points, solve_max_coverage
    from tests.optimize_instances import clustered_layout

    lay = clustered_layout(600, 150, side_m=30_000.0, n_clusters=5, seed=3)
    cover = coverage_from_points(lay.demand_xy, lay.cand_xy, 3_000.0)
    one, two = (
        solve_max_coverage(cover, lay.weights, 12, method="heuristic", seed=4, threads=threads)
        for threads in (1, 2)
    )
    np.testing.assert_array_equal(one.selected, two.selected)
    assert one.objective == two.objective


def test_search_budget_grows_with_the_lp_spread() -> None:
    from planner.optimize._mclp_search import SCALE_MAX, SPREAD_PER_SITE, search_scale

    p = 10
    integral = np.zeros(200)
    integral[:p] = 1.0
    assert search_scale(integral, p) == 1.0  # an integral LP solution: the base budget
    spread = np.zeros(200)
    spread[: int(3 * SPREAD_PER_SITE * p)] = 1 / (3 * SPREAD_PER_SITE)
    assert search_scale(spread, p) == pytest.approx(min(3.0, SCALE_MAX))
    assert search_scale(np.full(200, p / 200), p) == SCALE_MAX  # capped
    assert search_scale(None, p) == 1.0


def test_single_start_search_keeps_the_core_answer_and_its_budget(monkeypatch: Any) -> None:
    """With one start (large instances), the head run is that start, with the start phase's
    swaps (not three starts' worth), and the core search's answer still joins the result."""
    from planner.optimize import _mclp_search, solve_max_coverage
    from planner.optimize._cover_model import max_coverage_lp
    from planner.optimize._cover_search import swap_search

    csr, w = _random(11, 300, 60, 0.05)
    csc = sp.csc_array(csr)
    p = 6
    monkeypatch.setattr(_mclp_search, "MIN_START_MOVES", 10**9)  # a single start
    moves, room = _mclp_search.search_size(csr, p, work=1 - _mclp_search.CORE_SHARE)
    assert room == 1
    made: list[int] = []
    real_tabu_run = _mclp_search.tabu_run

    def counting_tabu_run(arrays: Any, start: np.ndarray, **kw: Any) -> Any:
        made.append(kw["moves"])
        return real_tabu_run(arrays, start, **kw)

    monkeypatch.setattr(_mclp_search, "tabu_run", counting_tabu_run)
    start = np.arange(p, dtype=np.int64)
    _mclp_search.head_run(csr, csc, w, start, seed=1, deadline=np.inf)
    assert made == [moves]
    # a head run that found nothing better than its start, and a core search that found a
    # better answer than swaps from that start reach
    oracle = solve_max_coverage(csr, w, p, method="heuristic").selected
    assert _value(csr, w, oracle) > _value(csr, w, swap_search(csr, csc, w, start, deadline=np.inf))
    weak = _mclp_search.Head(KernelArrays.of(csr, csc, w), (start, _value(csr, w, start), 0))
    monkeypatch.setattr(_mclp_search, "head_run", lambda *a, **k: weak)
    monkeypatch.setattr(_mclp_search, "_core_best", lambda *a, **k: oracle)
    lp = max_coverage_lp(csr, w, p, time_limit_s=None, seed=0)
    found = _mclp_search.lp_search(
        csr,
        csc,
        w,
        start,
        lp,
        None,
        rng=np.random.default_rng(0),
        head_seed=1,
        deadline=np.inf,
        target=np.inf,
    )
    assert _value(csr, w, found) >= _value(csr, w, oracle) - 1e-9


def test_a_set_stop_flag_ends_a_tabu_run_at_its_next_check() -> None:
    from planner.optimize._cover_tabu import stop_flag, tabu_run

    csr, w = _random(4, 200, 40, 0.08)
    arrays = KernelArrays.of(csr, sp.csc_array(csr), w)
    stop = stop_flag()
    stop[0] = 1
    _, _, made = tabu_run(arrays, np.arange(5, dtype=np.int64), seed=1, moves=10_000, stop=stop)
    assert made == 128
    _, _, made = tabu_run(arrays, np.arange(5, dtype=np.int64), seed=1, moves=1_000)
    assert made == 1_000


def test_head_run_answer_counts_when_the_lp_fails(monkeypatch: Any) -> None:
    """With two threads the head run is made while the LP is tried; if the LP then fails, its
    answer still joins the result."""
    from planner.optimize import _mclp_search, mclp, solve_max_coverage

    csr, w = _random(12, 300, 40, 0.05)
    p = 5
    oracle = solve_max_coverage(csr, w, p, method="heuristic").selected
    arrays = KernelArrays.of(csr, sp.csc_array(csr), w)
    monkeypatch.setattr(mclp, "_lp_relaxation", lambda *a, **k: None)
    monkeypatch.setattr(
        mclp,
        "head_run",
        lambda *a, **k: _mclp_search.Head(arrays, (oracle, _value(csr, w, oracle), 0)),
    )
    monkeypatch.setattr(mclp, "improve", lambda csr, csc, w, selected, **k: selected)
    monkeypatch.setattr(mclp, "heuristic_selection", lambda *a, **k: np.arange(p))
    result = solve_max_coverage(csr, w, p, method="heuristic", threads=2)
    assert result.objective >= _value(csr, w, oracle) - 1e-9
    assert result.bound >= result.objective


def test_single_thread_lp_limit_is_planned_after_greedy(monkeypatch: Any) -> None:
    """On a clock that greedy + swaps move 0.4 s on (a fake one: no test waits), the LP's limit
    is half of what they left of the second."""
    import time
    from types import SimpleNamespace

    from planner.optimize import _cover_model, mclp, solve_max_coverage

    now = [time.perf_counter()]
    clock = SimpleNamespace(perf_counter=lambda: now[0])
    monkeypatch.setattr(_cover_model, "time", clock)
    monkeypatch.setattr(mclp, "time", clock)
    csr, w = _random(13, 300, 40, 0.05)
    limits: list[float | None] = []
    real_lp, real_greedy = mclp._lp_relaxation, mclp.heuristic_selection

    def slow_greedy(*a: Any, **k: Any) -> np.ndarray:
        now[0] += 0.4
        return np.asarray(real_greedy(*a, **k))

    def recording_lp(*a: Any, time_limit_s: float | None, **k: Any) -> Any:
        limits.append(time_limit_s)
        return real_lp(*a, time_limit_s=time_limit_s, **k)

    monkeypatch.setattr(mclp, "heuristic_selection", slow_greedy)
    monkeypatch.setattr(mclp, "_lp_relaxation", recording_lp)
    solve_max_coverage(csr, w, 5, method="heuristic", threads=1, time_limit_s=1.0)
    assert len(limits) == 1 and limits[0] is not None
    assert limits[0] == pytest.approx(0.5 * 0.6)  # half of what greedy left, not of 1 s


@pytest.mark.parametrize("layout_seed", [34, 38])
def test_search_over_the_columns_left_by_reduced_cost_fixing_finds_the_optimum(
    layout_seed: int, caplog: pytest.LogCaptureFixture
) -> None:
    """On these instances the all-column search runs over the few columns that may still beat
    the best answer so far; its answer, mapped back to the original columns, is the enumerated
    optimum."""
    from planner.optimize import coverage_from_points, solve_max_coverage
    from tests.optimize_instances import uniform_layout

    lay = uniform_layout(300, 24, side_m=20_000.0, seed=layout_seed)
    csr = coverage_from_points(lay.demand_xy, lay.cand_xy, 3_000.0)
    with caplog.at_level("DEBUG", logger="planner.optimize._mclp_search"):
        result = solve_max_coverage(csr, lay.weights, 4, method="heuristic")
    assert any("reduced-cost fixing keeps" in message for message in caplog.messages)
    best = max(
        _value(csr, lay.weights, np.array(sites)) for sites in itertools.combinations(range(24), 4)
    )
    assert result.objective == pytest.approx(best)
    assert result.bound >= best
    assert _value(csr, lay.weights, result.selected) == pytest.approx(result.objective)


def _reach_from(start: np.ndarray, csr: sp.csr_array, w: np.ndarray, lp: Any) -> np.ndarray:
    """The search over the columns reduced-cost fixing leaves, from ``start`` alone."""
    from planner.optimize import _mclp_search

    return _mclp_search._reach_search(
        csr,
        sp.csc_array(csr),
        w,
        [start],
        lp,
        None,
        rng=np.random.default_rng(0),
        deadline=np.inf,
        target=np.inf,
        work=1.0,
        threads=1,
    )


def test_reach_search_maps_its_answer_back_to_the_original_columns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """From a runner-up start, the search over the kept columns returns the optimum in the
    original column numbering (not the kept columns' positions)."""
    from planner.optimize import coverage_from_points
    from planner.optimize._cover_model import max_coverage_lp
    from tests.optimize_instances import uniform_layout

    lay = uniform_layout(300, 24, side_m=20_000.0, seed=34)
    csr = coverage_from_points(lay.demand_xy, lay.cand_xy, 3_000.0)
    w = lay.weights
    ranked = sorted(
        itertools.combinations(range(24), 4),
        key=lambda sites: -_value(csr, w, np.array(sites)),
    )
    best = _value(csr, w, np.array(ranked[0]))
    runner_up = next(np.array(s) for s in ranked if _value(csr, w, np.array(s)) < best - 1e-9)
    lp = max_coverage_lp(csr, w, 4, time_limit_s=None, seed=0)
    with caplog.at_level("DEBUG", logger="planner.optimize._mclp_search"):
        found = _reach_from(runner_up, csr, w, lp)
    assert any("reduced-cost fixing keeps" in message for message in caplog.messages)
    assert _value(csr, w, found) == pytest.approx(best)


@pytest.mark.parametrize("layout_seed", [34, 38])
def test_auto_escalates_to_highs_on_the_columns_left_by_fixing(
    layout_seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``method="auto"`` hands HiGHS only the columns that may beat the heuristic's answer; the
    answer it proves optimal there is the enumerated optimum, in the original numbering."""
    from planner.optimize import coverage_from_points, mclp, solve_max_coverage
    from tests.optimize_instances import uniform_layout

    lay = uniform_layout(300, 24, side_m=20_000.0, seed=layout_seed)
    csr = coverage_from_points(lay.demand_xy, lay.cand_xy, 3_000.0)
    columns: list[int] = []
    real_exact = mclp._exact

    def spying_exact(model: sp.csr_array, *args: Any, **kwargs: Any) -> Any:
        columns.append(model.shape[1])
        return real_exact(model, *args, **kwargs)

    monkeypatch.setattr(mclp, "_exact", spying_exact)
    # a weak heuristic (greedy + swaps only), so that the exact engine has work to do
    monkeypatch.setattr(
        mclp,
        "_search",
        lambda pool, csr, csc, w, p, **kw: (
            mclp.heuristic_selection(csr, csc, w, p, deadline=np.inf),
            mclp._lp_relaxation(csr, w, p, time_limit_s=None, seed=0),
        ),
    )
    result = solve_max_coverage(csr, lay.weights, 4, method="auto")
    best = max(
        _value(csr, lay.weights, np.array(sites)) for sites in itertools.combinations(range(24), 4)
    )
    assert columns and columns[0] < 24
    assert result.objective == pytest.approx(best)
    assert result.status == "optimal" and result.bound == pytest.approx(best)
    assert _value(csr, lay.weights, result.selected) == pytest.approx(result.objective)


def test_a_kept_set_of_p_columns_proves_the_incumbent_optimal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When fixing leaves exactly the incumbent's ``p`` columns, no other selection reaches its
    value: the search returns it as is, and ``auto`` reports it optimal without HiGHS."""
    from planner.optimize import _mclp_search, mclp
    from planner.optimize._cover_model import max_coverage_lp

    csr, w = _random(5, 40, 12, 0.2)
    w = np.round(w)
    lp = max_coverage_lp(csr, w, 3, time_limit_s=None, seed=0)
    incumbent = np.array([1, 4, 7])
    monkeypatch.setattr(_mclp_search, "reach_columns", lambda lp, p, value: incumbent)
    monkeypatch.setattr(mclp, "reach_columns", lambda lp, p, value: incumbent)
    monkeypatch.setattr(mclp, "_exact", lambda *a, **k: pytest.fail("HiGHS was called"))
    found = _reach_from(incumbent, csr, w, lp)
    np.testing.assert_array_equal(found, incumbent)
    escalated = mclp._auto_exact(csr, w, incumbent, lp, deadline=np.inf, seed=0, integral=True)
    assert escalated is not None
    sites, bound, engine, status = escalated
    np.testing.assert_array_equal(sites, incumbent)
    assert bound == _value(csr, w, incumbent) and (engine, status) == ("heuristic", "optimal")


@pytest.mark.parametrize("seed", range(6))
def test_compiled_lazy_greedy_matches_a_plain_greedy(seed: int) -> None:
    """Each pick has the largest gain over the rows not yet covered (weights without ties),
    rows covered at the start count as covered, and the picks stop at ``target``."""
    from planner.optimize._cover_search import lazy_greedy

    csr, w = _random(600 + seed, 120, 30, 0.08)
    dense = csr.toarray()
    start = np.zeros(120, dtype=bool)
    start[: 10 * seed] = True
    target = 0.8 * float(w.sum()) if seed % 2 else np.inf
    picked, covered = lazy_greedy(sp.csc_array(csr), w, 8, covered=start, target=target)
    expected: list[int] = []
    now = start.copy()
    while len(expected) < 8 and float(w[now].sum()) < target:
        gains = (dense & ~now[:, None]).T.astype(float) @ w
        best = int(np.argmax(gains))
        expected.append(best)
        now |= dense[:, best]
    np.testing.assert_array_equal(picked, expected)
    np.testing.assert_array_equal(covered, now)
    assert not start[10 * seed :].any()  # the caller's array is left alone
