"""What every strategy shares: the plan it returns and its registry entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.core.errors import InputError, describe
from planner.ground.model import Ground

#: Largest seed numpy and scikit-learn take.
MAX_SEED = 2**32 - 1

# Columns every strategy's ``Plan.sites`` carries (more are allowed and are exported too).
SITE_COLUMNS = (
    "site_id",  # str, unique within the plan
    "kind",  # str, e.g. "dc_fast", "community_l2", "pile_station", "service_area", "swap_station"
    "node_idx",  # int, ground node the site stands on
    "x_m",  # float, projected
    "y_m",
    "lon",  # float, WGS84
    "lat",
    "ports",  # int, charging ports (piles) at the site; 0 for a swap-only station
    "dc_ports",  # int
    "ac_ports",  # int
    "power_kw",  # float, rated power per port of the site's fastest kind
    "demand_served",  # float, demand assigned to the site (ground demand unit or swaps/day)
    "existing",  # bool, an existing station counted as open
    "corridor",  # str, corridor id for corridor sites, "" otherwise
    "state",  # str, region code (US state / Chinese province), "" if unknown
    "capex_usd",  # float
)
# National plans also carry ``iso_3166_2`` (str, ISO 3166-2 code of the state / province polygon
# the site stands in, e.g. "US-CA", "CN-44"; ``state`` is then that polygon's region code): set by
# planner.ground.sites.settle_sites after the strategy runs.


@dataclass(frozen=True, eq=False)
class Plan:
    """A strategy's result on one ground.

    Attributes
    ----------
    strategy
        Registered strategy name.
    ground
        The ground it was planned on.
    sites
        One row per site with at least :data:`SITE_COLUMNS`.
    corridors
        One row per corridor: ``corridor``, ``length_mi``, ``max_gap_mi``, ``compliant``,
        ``stations``; empty where the strategy has no corridor rule.
    regions
        Per-region table (``region``, EVs, ports by kind, sites, capex), may be empty.
    summary
        JSON-serialisable figures and the parameters used.
    """

    strategy: str
    ground: Ground
    sites: pd.DataFrame
    corridors: pd.DataFrame
    regions: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


StrategyFn = Callable[..., Plan]


@dataclass(frozen=True)
class StrategySpec:
    """A registry entry: ``run(ground, params, *, seed) -> Plan``."""

    name: str
    title: str
    params_type: type
    run: StrategyFn
    has_cost_model: bool

    def plan(self, ground: Ground, params: Any, *, seed: int = 0) -> Plan:
        """Run the strategy after checking ``seed`` (:func:`check_seed`); national sites are
        then settled as real places (:func:`planner.ground.sites.settle_plan`) unless the strategy
        did."""
        from planner.ground.sites import settle_plan

        return settle_plan(self.run(ground, params, seed=check_seed(seed)))


def check_seed(seed: object) -> int:
    """``seed`` as an int when it is a whole number 0 to 2**32 - 1 (as numpy and scikit-learn
    take it); else :class:`InputError`."""
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not (0 <= int(seed) <= MAX_SEED)
    ):
        raise InputError(
            f"seed: expected a whole number 0 to {MAX_SEED}, got {describe(seed)}; pass e.g. seed=0"
        )
    return int(seed)


def kind_totals(sites: pd.DataFrame) -> dict[str, dict[str, int]]:
    """``ports_by_kind`` and ``sites_by_kind`` of a site table, for a plan's summary."""
    by_kind = sites.groupby("kind")
    return {
        "ports_by_kind": {str(k): int(v) for k, v in by_kind["ports"].sum().items()},
        "sites_by_kind": {str(k): int(v) for k, v in by_kind.size().items()},
    }


def corridor_compliance(corridors: pd.DataFrame, gap_column: str) -> dict[str, Any]:
    """``corridors``, ``corridors_compliant`` and the largest finite ``gap_column`` (``None``
    without one) of a corridor table, for a plan's summary."""
    gaps = pd.to_numeric(corridors[gap_column]).to_numpy(dtype=float)
    gaps = gaps[np.isfinite(gaps)]
    return {
        "corridors": len(corridors),
        "corridors_compliant": int(corridors["compliant"].sum()),
        gap_column: float(gaps.max()) if gaps.size else None,
    }


def rounded_timings(timings: dict[str, float]) -> dict[str, float]:
    """Wall-clock seconds of named steps rounded to milliseconds, for a plan's summary."""
    return {k: round(v, 3) for k, v in timings.items()}
