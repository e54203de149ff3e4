"""Tests of planner.ground.spacing: the greedy corridor spacing against brute force and
invariants."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from planner.core.errors import InputError
from planner.ground.model import Corridor
from planner.ground.spacing import (
    SpacingReport,
    end_gaps_m,
    max_gap_m,
    min_stations_for_spacing,
    place_network_stations,
    route_spacing,
    spacing_report,
    station_gaps_m,
)

MI = 1609.344


def _feasible(stations: np.ndarray, start: float, end: float, gap: float, end_gap: float) -> bool:
    """Independent check of the spacing rule on a set of station positions."""
    s = np.sort(np.asarray(stations, dtype=float))
    if s.size == 0:
        return False
    ok_inner = all(b - a <= gap + 1e-6 for a, b in itertools.pairwise(s))
    return ok_inner and s[0] - start <= end_gap + 1e-6 and end - s[-1] <= end_gap + 1e-6


def _brute_min(c: np.ndarray, fixed: np.ndarray, gap: float, end_gap: float) -> int | None:
    """Smallest number of candidates that, with ``fixed``, meet the rule; None if impossible."""
    for k in range(c.size + 1):
        for combo in itertools.combinations(range(c.size), k):
            if _feasible(np.r_[c[list(combo)], fixed], c[0], c[-1], gap, end_gap):
                return k
    return None


def _random_corridor(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    steps = rng.exponential(scale, size=n - 1)
    return np.r_[0.0, np.cumsum(steps)]


def test_straight_corridor_known_answer() -> None:
    # 0..200 mi every mile, 50-mile spacing, 25-mile ends: stations at 25, 75, 125, 175.
    c = np.arange(0, 201) * MI
    idx = min_stations_for_spacing(c, max_gap_m=50 * MI, max_end_gap_m=25 * MI)
    assert list(idx) == [25, 75, 125, 175]


def test_single_node_corridor_gets_one_station() -> None:
    idx = min_stations_for_spacing(np.array([0.0]), max_gap_m=10.0, max_end_gap_m=5.0)
    assert list(idx) == [0]


def test_fixed_station_in_reach_is_used_for_free() -> None:
    c = np.arange(0, 91) * MI
    free = min_stations_for_spacing(c, max_gap_m=50 * MI, max_end_gap_m=25 * MI)
    with_fixed = min_stations_for_spacing(
        c, max_gap_m=50 * MI, max_end_gap_m=25 * MI, fixed_m=np.array([20.0 * MI])
    )
    assert free.size == 2
    assert list(with_fixed) == [70]  # 20 covers the start, 70 is the farthest in reach
    assert _feasible(np.r_[c[with_fixed], 20 * MI], 0, 90 * MI, 50 * MI, 25 * MI)


@pytest.mark.parametrize("seed", range(60))
def test_greedy_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 10))
    c = _random_corridor(rng, n, scale=20.0)
    n_fixed = int(rng.integers(0, 3))
    fixed = np.sort(rng.uniform(c[0], c[-1], size=n_fixed))
    gap, end_gap = 40.0, float(rng.choice([10.0, 20.0, 30.0]))
    best = _brute_min(c, fixed, gap, end_gap)
    if best is None:
        with pytest.raises(InputError, match="chainage_m"):
            min_stations_for_spacing(c, max_gap_m=gap, max_end_gap_m=end_gap, fixed_m=fixed)
        return
    idx = min_stations_for_spacing(c, max_gap_m=gap, max_end_gap_m=end_gap, fixed_m=fixed)
    assert idx.size == best
    assert _feasible(np.r_[c[idx], fixed], c[0], c[-1], gap, end_gap)


@pytest.mark.parametrize("seed", range(200))
def test_feasible_and_sorted_on_long_corridors(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    c = _random_corridor(rng, int(rng.integers(2, 400)), scale=3.0 * MI)
    gap = 50 * MI
    # make the instance feasible: no step longer than the gap
    c = np.r_[0.0, np.cumsum(np.minimum(np.diff(c), gap))]
    idx = min_stations_for_spacing(c, max_gap_m=gap, max_end_gap_m=gap / 2)
    assert np.all(np.diff(idx) > 0)
    assert _feasible(c[idx], c[0], c[-1], gap, gap / 2)
    # no fewer than the length bound: k stations cover at most 2*end + (k-1)*gap
    lower = max(1, math.ceil((c[-1] - c[0] - gap) / gap + 1e-12))
    assert idx.size >= lower
    rep = spacing_report(c[idx], c[-1], max_gap_m=gap, max_end_gap_m=gap / 2)
    assert rep.compliant and rep.stations == idx.size


def test_infeasible_raises_naming_argument() -> None:
    c = np.array([0.0, 10.0, 100.0, 110.0])
    with pytest.raises(InputError, match=r"chainage_m: no candidate within max_gap_m"):
        min_stations_for_spacing(c, max_gap_m=50.0, max_end_gap_m=25.0)


def test_bridge_reports_the_hole_and_keeps_going() -> None:
    c = np.array([0.0, 10.0, 20.0, 100.0, 110.0, 200.0, 210.0])
    idx = min_stations_for_spacing(c, max_gap_m=50.0, max_end_gap_m=25.0, on_infeasible="bridge")
    rep = spacing_report(c[idx], c[-1], max_gap_m=50.0, max_end_gap_m=25.0)
    assert not rep.compliant
    assert rep.max_gap_m == pytest.approx(90.0)  # 110 -> 200: the widest hole between candidates
    assert rep.start_gap_m <= 25.0 and rep.end_gap_m <= 25.0


def test_bridge_uses_fixed_station_beyond_hole() -> None:
    c = np.array([0.0, 10.0, 100.0, 110.0])
    idx = min_stations_for_spacing(
        c, max_gap_m=50.0, max_end_gap_m=25.0, fixed_m=np.array([95.0]), on_infeasible="bridge"
    )
    assert list(c[idx]) == [10.0]  # 10 -> fixed 95 (hole 85) -> end 110 is 15 away


def test_shared_junction_station_saves_a_station() -> None:
    # A: 0..100 mi; B crosses it at A's mile 25, which is also B's mile 25 of 50.
    a = Corridor("A", np.arange(101), np.arange(101) * MI, np.zeros(100))
    b_nodes = np.r_[np.arange(101, 126), 25, np.arange(126, 151)]
    b = Corridor("B", b_nodes, np.arange(51) * MI, np.zeros(50))
    placed = place_network_stations([a, b], max_gap_m=50 * MI, max_end_gap_m=25 * MI)
    assert placed == {25: "A", 75: "A"}
    reports = route_spacing(
        [a, b], np.array(list(placed)), max_gap_m=50 * MI, max_end_gap_m=25 * MI
    )
    assert [r.compliant for r in reports] == [True, True]


def test_network_stations_with_fixed_node_and_hole() -> None:
    # A fixed station at node 50 (mile 50) serves A; C has a 70-mile hole and is reported.
    a = Corridor("A", np.arange(101), np.arange(101) * MI, np.zeros(100))
    c = Corridor("C", np.array([200, 201, 202]), np.array([0.0, 10.0, 80.0]) * MI, np.zeros(2))
    placed = place_network_stations(
        [a, c], max_gap_m=50 * MI, max_end_gap_m=25 * MI, fixed_nodes=np.array([50])
    )
    # A: 25 covers the start, 50 is free, 100 the end; C: 10, then across the hole to 80
    assert placed == {50: "", 25: "A", 100: "A", 201: "C", 202: "C"}
    rep_a, rep_c = route_spacing(
        [a, c], np.array(list(placed)), max_gap_m=50 * MI, max_end_gap_m=25 * MI
    )
    assert rep_a.compliant and rep_a.stations == 3
    assert not rep_c.compliant and rep_c.max_gap_m == pytest.approx(70 * MI)


def test_gap_helpers() -> None:
    s = np.array([30.0, 10.0, 70.0])
    assert list(station_gaps_m(s, 100.0)) == [10.0, 20.0, 40.0, 30.0]
    assert max_gap_m(s, 100.0) == 40.0
    assert end_gaps_m(s, 100.0) == (10.0, 30.0)
    assert max_gap_m(np.array([5.0]), 10.0) == 0.0
    assert math.isinf(max_gap_m(np.array([]), 10.0))
    rep = spacing_report(np.array([]), 10.0, max_gap_m=5.0, max_end_gap_m=5.0)
    assert rep == SpacingReport(0, math.inf, math.inf, math.inf, False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chainage_m": np.array([0.0, 5.0, 3.0])}, "chainage_m: expected non-decreasing"),
        ({"chainage_m": np.array([])}, "chainage_m: expected a non-empty"),
        ({"chainage_m": np.array([0.0, np.nan])}, "chainage_m: expected finite"),
        ({"max_gap_m": 0.0}, "max_gap_m: expected a finite distance > 0"),
        ({"max_end_gap_m": -1.0}, "max_end_gap_m"),
        ({"fixed_m": np.array([50.0])}, "fixed_m: expected positions within"),
        ({"on_infeasible": "skip"}, "on_infeasible"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "chainage_m": np.array([0.0, 10.0, 20.0]),
        "max_gap_m": 10.0,
        "max_end_gap_m": 5.0,
    }
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        min_stations_for_spacing(**args)  # type: ignore[arg-type]


# ---- exact placement at exits over a network ---------------------------------------------------


def _brute_minimum(routes, candidate, max_gap_m, max_end_gap_m):
    """Fewest candidate nodes meeting the rule on every route, by trying every subset."""
    from planner.ground.spacing import route_spacing

    nodes = np.flatnonzero(candidate)
    for k in range(1, nodes.size + 1):
        for subset in itertools.combinations(nodes.tolist(), k):
            reports = route_spacing(
                routes, np.array(subset), max_gap_m=max_gap_m, max_end_gap_m=max_end_gap_m
            )
            if all(r.compliant for r in reports):
                return k
    return None


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_place_at_exits_is_minimal_against_brute_force(seed: int) -> None:
    """Two crossing routes with random exits: the solve's count equals the brute-force minimum."""
    from planner.strategies._exits import place_at_exits

    rng = np.random.default_rng(seed)
    a_pos = np.sort(rng.uniform(0, 200, 9)).round(1)
    b_pos = np.sort(rng.uniform(0, 150, 7)).round(1)
    a_pos[0], a_pos[-1], b_pos[0], b_pos[-1] = 0.0, 200.0, 0.0, 150.0
    a_nodes = np.arange(a_pos.size)
    cross = int(a_nodes[a_pos.size // 2])  # B crosses A at one of A's exits
    b_nodes = np.r_[a_pos.size + np.arange(b_pos.size // 2), cross]
    b_nodes = np.r_[b_nodes, a_pos.size + b_pos.size // 2 + np.arange(b_pos.size - b_nodes.size)]
    b_pos = np.sort(b_pos)
    n = int(max(a_nodes.max(), b_nodes.max())) + 1
    routes = [
        Corridor("A", a_nodes, a_pos * 1000.0, np.zeros(a_pos.size - 1)),
        Corridor("B", b_nodes, b_pos * 1000.0, np.zeros(b_pos.size - 1)),
    ]
    candidate = np.ones(n, dtype=bool)
    candidate[[0, a_pos.size - 1]] = False  # route ends are not exits
    gap, end = 60_000.0, 30_000.0
    brute = _brute_minimum(routes, candidate, gap, end)
    placed = place_at_exits(
        routes, candidate=candidate, weight=rng.uniform(0, 1, n), max_gap_m=gap, max_end_gap_m=end
    )
    if brute is None:  # some stretch has no exit in reach: stations flank it, count >= 1
        assert placed.forced > 0
    else:
        assert placed.nodes.size == brute == placed.lower_bound
    assert candidate[placed.nodes].all()
    on_both = [r for n_, r in zip(placed.nodes, placed.routes, strict=True) if n_ == cross]
    assert all(r == "A;B" for r in on_both)


def test_place_at_exits_prefers_heavier_exits_among_minimum_solutions() -> None:
    """One 100 km route, exits every 10 km: 2 stations are needed either way; the preferred
    exits (weight 1) win wherever the rule allows them."""
    from planner.strategies._exits import place_at_exits

    pos = np.arange(0, 101, 10) * 1000.0
    route = Corridor("R", np.arange(pos.size), pos, np.zeros(pos.size - 1))
    weight = np.zeros(pos.size)
    weight[[3, 7]] = 1.0  # 30 km and 70 km: gap 40, ends 30 and 30
    placed = place_at_exits(
        [route],
        candidate=np.ones(pos.size, bool),
        weight=weight,
        max_gap_m=50_000.0,
        max_end_gap_m=30_000.0,
    )
    assert placed.nodes.size == 2
    assert set(placed.nodes.tolist()) == {3, 7}


def test_place_at_exits_between_exits_only_inside_stretches_without_exits() -> None:
    """A 200 km route, nodes every 10 km, exits only up to 30 km and from 150 km: at exits the
    120 km hole cannot comply; with ``between_exits`` the fewest stations (5: the first <= 20
    km, the last >= 180 km, 3 gaps of <= 50 km cannot span 160 km) comply, and only the nodes
    inside the hole hold stations off the exits."""
    from planner.ground.spacing import route_spacing
    from planner.strategies._exits import between_exit_candidates, place_at_exits

    pos = np.arange(0, 201, 10) * 1000.0
    route = Corridor("R", np.arange(pos.size), pos, np.zeros(pos.size - 1))
    exits = (pos <= 30_000.0) | (pos >= 150_000.0)
    between = np.ones(pos.size, bool)
    between[9] = False  # 90 km: not on the road (say, outside the country)
    rule = {"max_gap_m": 50_000.0, "max_end_gap_m": 25_000.0}
    at_exits = place_at_exits([route], candidate=exits, weight=np.zeros(pos.size), **rule)
    assert at_exits.forced == 2 and at_exits.at_exit.all()
    assert not route_spacing([route], at_exits.nodes, **rule)[0].compliant
    extra = between_exit_candidates([route], exits, between, **rule)
    assert np.flatnonzero(extra).tolist() == [4, 5, 6, 7, 8, 10, 11, 12, 13, 14]
    placed = place_at_exits(
        [route], candidate=exits, weight=np.zeros(pos.size), between_exits=between, **rule
    )
    assert placed.nodes.size == placed.lower_bound == 5
    assert route_spacing([route], placed.nodes, **rule)[0].compliant
    assert (placed.at_exit == exits[placed.nodes]).all() and not placed.at_exit.all()
    assert extra[placed.nodes[~placed.at_exit]].all()


def _brute_fewest_off_exit(routes, allowed, exits, max_gap_m, max_end_gap_m):
    """Fewest stations meeting the rule on ``allowed`` nodes, then fewest off the exits: the
    pair ``(count, off-exit count)`` of the best subset, by trying every subset."""
    from planner.ground.spacing import route_spacing

    nodes = np.flatnonzero(allowed)
    for k in range(1, nodes.size + 1):
        best = None
        for subset in itertools.combinations(nodes.tolist(), k):
            reports = route_spacing(
                routes, np.array(subset), max_gap_m=max_gap_m, max_end_gap_m=max_end_gap_m
            )
            if all(r.compliant for r in reports):
                off = int((~exits[list(subset)]).sum())
                best = off if best is None else min(best, off)
        if best is not None:
            return k, best
    return None


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_place_at_exits_puts_fewest_stations_between_exits(seed: int) -> None:
    """A route with sparse random exits and nodes every 10 km between them: the solve keeps the
    fewest stations (brute force over every subset of the nodes it may use) and, among those
    minimum solutions, the fewest between exits, whatever the preference weights say (the
    weights favour the nodes between exits here, so a count-then-preference objective would
    put more stations off the exits)."""
    from planner.ground.spacing import route_spacing
    from planner.strategies._exits import between_exit_candidates, place_at_exits

    rng = np.random.default_rng(seed)
    pos = np.arange(0, 181, 10) * 1000.0
    route = Corridor("R", np.arange(pos.size), pos, np.zeros(pos.size - 1))
    exits = np.zeros(pos.size, bool)
    exits[rng.choice(np.arange(1, pos.size - 1), size=5, replace=False)] = True
    between = ~exits
    weight = np.where(exits, 0.0, 1.0)
    rule = {"max_gap_m": 50_000.0, "max_end_gap_m": 25_000.0}
    allowed = exits | between_exit_candidates([route], exits, between, **rule)
    brute = _brute_fewest_off_exit([route], allowed, exits, **rule)
    assert brute is not None
    placed = place_at_exits([route], candidate=exits, weight=weight, between_exits=between, **rule)
    assert route_spacing([route], placed.nodes, **rule)[0].compliant
    assert (placed.nodes.size, int((~placed.at_exit).sum())) == brute
    assert placed.lower_bound == brute[0]
