"""Station spacing along a corridor: the fewest stations that keep every gap within a limit.

Pure array functions on *chainage* (distance along the route, metres). A corridor is served when

* consecutive stations are at most ``max_gap_m`` apart (NEVI: 50 miles), and
* each corridor end is at most ``max_end_gap_m`` from its nearest station (half the spacing, so
  two corridors joined end to end still keep the spacing rule).

:func:`min_stations_for_spacing` picks the fewest stations among discrete candidate positions by
the greedy "farthest feasible candidate" rule, which is exact for this one-dimensional covering
problem: the rightmost station placed so far is the only state that matters, and a farther one
never hurts. Stations that already exist (``fixed_m``) are free and are taken whenever they are in
reach. The US NEVI corridor rule and China's expressway service areas both use it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from planner.core.errors import InputError, describe

logger = logging.getLogger(__name__)

_TOL_M = 1e-6  # slack for float round-off in chainage comparisons (metres)

OnInfeasible = Literal["raise", "bridge"]


class Route(Protocol):
    """A route of a network: ordered node indices with their chainage (e.g. a ``Corridor``)."""

    @property
    def corridor_id(self) -> str:
        """Route id."""
        ...

    @property
    def node_idx(self) -> np.ndarray:
        """Node indices in route order."""
        ...

    @property
    def chainage_m(self) -> np.ndarray:
        """Distance along the route at each node, metres, non-decreasing."""
        ...


@dataclass(frozen=True)
class SpacingReport:
    """How well a set of stations serves one corridor.

    Attributes
    ----------
    stations
        Number of stations on the corridor.
    max_gap_m
        Largest distance between consecutive stations (0 with one station, ``inf`` with none).
    start_gap_m, end_gap_m
        Distance from each corridor end to its nearest station (``inf`` with no station).
    compliant
        Every gap and both end gaps within their limits.
    """

    stations: int
    max_gap_m: float
    start_gap_m: float
    end_gap_m: float
    compliant: bool


def min_stations_for_spacing(
    chainage_m: np.ndarray,
    *,
    max_gap_m: float,
    max_end_gap_m: float,
    fixed_m: np.ndarray | None = None,
    on_infeasible: OnInfeasible = "raise",
) -> np.ndarray:
    """Fewest candidate positions that, with the fixed stations, meet the spacing rule.

    Parameters
    ----------
    chainage_m
        Candidate positions along the corridor, non-decreasing; the first and last are the
        corridor's ends.
    max_gap_m
        Largest allowed distance between consecutive stations (> 0).
    max_end_gap_m
        Largest allowed distance from each end to its nearest station (> 0).
    fixed_m
        Positions of stations that exist already (or were placed for another corridor at a shared
        junction); they count without being chosen. Must lie within the corridor.
    on_infeasible
        When two consecutive candidates are farther apart than ``max_gap_m`` no placement is
        compliant: ``"raise"`` raises :class:`InputError`; ``"bridge"`` places the first
        candidate after the hole (so the hole is as short as the candidates allow) and carries
        on; check the result with :func:`spacing_report`.

    Returns
    -------
    numpy.ndarray
        Sorted indices into ``chainage_m`` of the stations to add (int64).
    """
    c = _check_chainage(chainage_m)
    f = _check_fixed(fixed_m, start_m=float(c[0]), end_m=float(c[-1]))
    _check_limits(max_gap_m, max_end_gap_m)
    if on_infeasible not in ("raise", "bridge"):
        raise InputError(f"on_infeasible: expected 'raise' or 'bridge', got {on_infeasible!r}")
    end = float(c[-1])
    chosen: list[int] = []
    pos = -math.inf  # the rightmost station so far
    reach = float(c[0]) + max_end_gap_m  # the next station must stand at or before this
    while True:
        j = int(np.searchsorted(f, reach + _TOL_M, side="right")) - 1
        if j >= 0 and f[j] > pos:  # an existing station in reach: take the farthest, for free
            pos, reach = float(f[j]), float(f[j]) + max_gap_m
            continue
        nothing_ahead = int(np.searchsorted(f, pos, side="right")) == f.size
        if pos > -math.inf and nothing_ahead and end - pos <= max_end_gap_m + _TOL_M:
            break
        i = int(np.searchsorted(c, reach + _TOL_M, side="right")) - 1
        if i >= 0 and c[i] > pos:  # the farthest candidate in reach
            chosen.append(i)
            pos, reach = float(c[i]), float(c[i]) + max_gap_m
            continue
        pos = _bridge(c, f, pos, chosen, on_infeasible=on_infeasible, max_gap_m=max_gap_m)
        reach = pos + max_gap_m
    return np.asarray(chosen, dtype=np.int64)


def _bridge(
    c: np.ndarray,
    f: np.ndarray,
    pos: float,
    chosen: list[int],
    *,
    on_infeasible: OnInfeasible,
    max_gap_m: float,
) -> float:
    """Step over a hole wider than ``max_gap_m``: to the next fixed station or candidate."""
    k = int(np.searchsorted(c, pos, side="right"))
    hole = float(c[k] - pos) if k < c.size else math.inf
    if on_infeasible == "raise":
        raise InputError(
            f"chainage_m: no candidate within max_gap_m={max_gap_m:.0f} m after the station at "
            f"{pos:.0f} m (next candidate {hole:.0f} m away); the spacing rule cannot be met: "
            "add candidate positions or pass on_infeasible='bridge' to report the gap"
        )
    nf = int(np.searchsorted(f, pos, side="right"))
    if nf < f.size and (k >= c.size or f[nf] <= c[k]):
        return float(f[nf])
    chosen.append(k)
    logger.debug("bridged a %.0f m hole after %.0f m", hole, pos)
    return float(c[k])


def place_network_stations(
    routes: Sequence[Route],
    *,
    max_gap_m: float,
    max_end_gap_m: float,
    fixed_nodes: np.ndarray | None = None,
) -> dict[int, str]:
    """Fewest stations on every route of a network; a station at a node serves every route.

    Routes are processed longest first (ties by id, so the result is deterministic); stations
    already placed on a route's nodes, by an earlier route at a junction or in ``fixed_nodes``,
    count for it. Each route's placement is the exact minimum given the stations already on it;
    the network total is a heuristic (sharing junctions optimally is a harder covering problem).
    Holes wider than ``max_gap_m`` between a route's nodes are bridged (``on_infeasible="bridge"``):
    check the result with :func:`route_spacing`.

    Returns
    -------
    dict of int to str
        Station node -> id of the route that placed it (``""`` for ``fixed_nodes``).
    """
    fixed = [] if fixed_nodes is None else np.asarray(fixed_nodes, dtype=np.int64).tolist()
    placed: dict[int, str] = dict.fromkeys(fixed, "")
    order = sorted(routes, key=lambda r: (-_route_length(r), r.corridor_id))
    for route in order:
        nodes = np.asarray(route.node_idx, dtype=np.int64)
        if nodes.size == 0:
            continue
        chain = np.asarray(route.chainage_m, dtype=float)
        have = np.isin(nodes, np.fromiter(placed, dtype=np.int64, count=len(placed)))
        new = min_stations_for_spacing(
            chain,
            max_gap_m=max_gap_m,
            max_end_gap_m=max_end_gap_m,
            fixed_m=chain[have],
            on_infeasible="bridge",
        )
        for node in nodes[new].tolist():
            placed.setdefault(int(node), route.corridor_id)
    return placed


def route_spacing(
    routes: Sequence[Route], station_nodes: np.ndarray, *, max_gap_m: float, max_end_gap_m: float
) -> list[SpacingReport]:
    """:func:`spacing_report` of every route, its stations being the nodes in ``station_nodes``."""
    stations = np.asarray(station_nodes, dtype=np.int64)
    reports = []
    for route in routes:
        nodes = np.asarray(route.node_idx, dtype=np.int64)
        chain = np.asarray(route.chainage_m, dtype=float)
        start = float(chain[0]) if chain.size else 0.0
        reports.append(
            spacing_report(
                chain[np.isin(nodes, stations)],
                _route_length(route),
                start_m=start,
                max_gap_m=max_gap_m,
                max_end_gap_m=max_end_gap_m,
            )
        )
    return reports


def _route_length(route: Route) -> float:
    chain = np.asarray(route.chainage_m, dtype=float)
    return float(chain[-1] - chain[0]) if chain.size else 0.0


def station_gaps_m(station_m: np.ndarray, length_m: float, *, start_m: float = 0.0) -> np.ndarray:
    """Distances ``[start -> first, between consecutive stations..., last -> end]``.

    The corridor runs from ``start_m`` to ``start_m + length_m``; ``station_m`` need not be
    sorted. With no station the result is ``[inf, inf]``.
    """
    s = np.sort(np.asarray(station_m, dtype=float).ravel())
    end_m = start_m + float(length_m)
    if s.size == 0:
        return np.array([math.inf, math.inf])
    return np.concatenate([[s[0] - start_m], np.diff(s), [end_m - s[-1]]])


def max_gap_m(station_m: np.ndarray, length_m: float, *, start_m: float = 0.0) -> float:
    """Largest distance between consecutive stations (0 with one station, ``inf`` with none)."""
    gaps = station_gaps_m(station_m, length_m, start_m=start_m)
    if not np.isfinite(gaps[0]):
        return math.inf
    inner = gaps[1:-1]
    return float(inner.max()) if inner.size else 0.0


def end_gaps_m(
    station_m: np.ndarray, length_m: float, *, start_m: float = 0.0
) -> tuple[float, float]:
    """Distance from the corridor's start and from its end to the nearest station."""
    gaps = station_gaps_m(station_m, length_m, start_m=start_m)
    return float(gaps[0]), float(gaps[-1])


def spacing_report(
    station_m: np.ndarray,
    length_m: float,
    *,
    max_gap_m: float,
    max_end_gap_m: float,
    start_m: float = 0.0,
) -> SpacingReport:
    """Gaps of ``station_m`` on a corridor of ``length_m`` and whether they meet the limits."""
    _check_limits(max_gap_m, max_end_gap_m)
    gaps = station_gaps_m(station_m, length_m, start_m=start_m)
    inner = gaps[1:-1]
    worst = math.inf if not np.isfinite(gaps[0]) else (float(inner.max()) if inner.size else 0.0)
    start_gap, end_gap = float(gaps[0]), float(gaps[-1])
    compliant = (
        worst <= max_gap_m + _TOL_M
        and start_gap <= max_end_gap_m + _TOL_M
        and end_gap <= max_end_gap_m + _TOL_M
    )
    return SpacingReport(
        stations=int(np.asarray(station_m).size),
        max_gap_m=worst,
        start_gap_m=start_gap,
        end_gap_m=end_gap,
        compliant=bool(compliant),
    )


def _check_chainage(chainage_m: np.ndarray) -> np.ndarray:
    """Return ``chainage_m`` as floats; raise unless 1-D, finite, non-decreasing, non-empty."""
    c = np.asarray(chainage_m, dtype=float)
    if c.ndim != 1 or c.size == 0:
        raise InputError(
            f"chainage_m: expected a non-empty 1-D array of positions, got shape {c.shape}; "
            "pass the corridor's node chainage in metres"
        )
    if not np.all(np.isfinite(c)):
        raise InputError("chainage_m: expected finite numbers, found NaN or inf; fix the corridor")
    if c.size > 1 and np.any(np.diff(c) < 0):
        raise InputError(
            "chainage_m: expected non-decreasing positions along the route, got a decrease; "
            "sort the corridor's nodes in route order"
        )
    return c


def _check_fixed(fixed_m: np.ndarray | None, *, start_m: float, end_m: float) -> np.ndarray:
    """Sorted fixed-station positions; raise unless finite and within ``[start_m, end_m]``."""
    if fixed_m is None:
        return np.empty(0)
    f = np.sort(np.asarray(fixed_m, dtype=float).ravel())
    if f.size and not np.all(np.isfinite(f)):
        raise InputError("fixed_m: expected finite positions, found NaN or inf")
    if f.size and (f[0] < start_m - _TOL_M or f[-1] > end_m + _TOL_M):
        raise InputError(
            f"fixed_m: expected positions within the corridor [{start_m:.0f}, {end_m:.0f}] m, got "
            f"{describe([float(f[0]), float(f[-1])])}; pass only stations on this corridor"
        )
    return f


def _check_limits(max_gap: float, max_end_gap: float) -> None:
    """Raise :class:`InputError` unless both limits are finite and positive."""
    for name, value in (("max_gap_m", max_gap), ("max_end_gap_m", max_end_gap)):
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"{name}: expected a finite distance > 0 in metres, got {value!r}")
