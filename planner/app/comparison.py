"""Compare strategies on the same ground with one yardstick.

Metrics (one row per strategy, :func:`plan_metrics`):

* ``share_within_{1,3,5,10}km``: demand share within that distance of any charging site
  (a site with at least one port);
* ``mean_fast_km`` / ``p95_fast_km``: demand-weighted mean and 95th percentile distance to the
  nearest fast charging (a DC port or a battery-swap station);
* ``max_corridor_gap_mi``: the largest gap between consecutive corridor stations
  (``Plan.corridors``);
* sites and ports by kind, ``dc_share`` of ports, ``installed_kw``;
* ``capex_usd``, ``swap_capacity_day``, ``ports_per_1000_ev``;
* equity (:mod:`planner.app.equity`): ``ports_per_1000_people``, the spread of ports per 1,000
  people and per 1,000 EVs over states or provinces (``..._region_min/median/max``), and the
  charging deserts ``desert_beyond_{10,25,50}km`` (people farther than that from any DC site) with
  their shares.

Distance is network distance at city scale (Dijkstra on the street graph, from demand node to
site) and straight-line distance in the projected CRS at national scale, where demand is not on
the corridor graph; the metrics table says which (``distance``). At national scale the metrics
are measured on the populated places themselves (``Ground.evaluation``), weighted by population,
because the demand cells the strategies plan on (~250 km2) are coarser than the distance bands.

The API's :func:`planner.compare` runs :func:`run_comparison` and wraps its plans.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from planner.app.equity import equity_metrics
from planner.core._stats import weighted_quantile
from planner.core.errors import InputError
from planner.ground.model import Ground
from planner.ground.reach import distance_to_sites_m, evaluation_points
from planner.strategies.base import Plan

logger = logging.getLogger(__name__)

DISTANCE_BANDS_KM = (1, 3, 5, 10)
DEFAULT_AC_POWER_KW = 11.0


def _site_distance_m(ground: Ground, sites: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
    """Distance from every evaluation point to its nearest site of ``mask``: along the network
    on a city ground; straight-line to the site's own position on a national ground (a national
    site may stand off its node, see planner.ground.sites)."""
    if ground.scale == "city" or not {"x_m", "y_m"} <= set(sites.columns):
        return distance_to_sites_m(ground, sites["node_idx"].to_numpy()[mask])
    demand = evaluation_points(ground)
    if not mask.any():
        return np.full(demand.demand.shape, np.inf)
    xy = sites.loc[mask, ["x_m", "y_m"]].to_numpy(dtype=float)
    dist, _ = cKDTree(xy).query(np.column_stack([demand.x_m, demand.y_m]))
    return np.asarray(dist, dtype=float)


def _column(sites: pd.DataFrame, name: str, default: float = 0.0) -> np.ndarray:
    if name in sites.columns:
        return pd.to_numeric(sites[name], errors="coerce").fillna(default).to_numpy(dtype=float)
    return np.full(len(sites), default)


def installed_kw(sites: pd.DataFrame) -> float:
    """Installed charging power: ``installed_kw`` when a strategy gives it, else ports x power."""
    if "installed_kw" in sites.columns:
        return float(_column(sites, "installed_kw").sum())
    dc, ac, power = (
        _column(sites, "dc_ports"),
        _column(sites, "ac_ports"),
        _column(sites, "power_kw"),
    )
    ac_power = np.where(dc > 0, DEFAULT_AC_POWER_KW, power)
    return float((dc * power + ac * ac_power).sum())


def ground_ev_stock(ground: Ground) -> float:
    """EVs on the ground: ``ground.meta['ev_stock']`` or the regions' total."""
    value = ground.meta.get("ev_stock")
    if isinstance(value, int | float) and value > 0:
        return float(value)
    return float(pd.to_numeric(ground.regions.get("ev_stock", pd.Series(dtype=float))).sum())


def plan_metrics(plan: Plan) -> dict[str, Any]:
    """The comparison metrics of one plan (see the module docstring)."""
    ground, sites = plan.ground, plan.sites
    w = evaluation_points(ground).demand.astype(float)
    total = float(w.sum())
    ports = _column(sites, "ports")
    dc = _column(sites, "dc_ports")
    fast_mask = (dc > 0) | (sites["kind"].astype(str).to_numpy() == "swap_station")
    d_any = _site_distance_m(ground, sites, ports > 0)
    d_fast = _site_distance_m(ground, sites, fast_mask)
    row: dict[str, Any] = {
        "strategy": plan.strategy,
        "ground": ground.name,
        "scale": ground.scale,
        "distance": "network" if ground.scale == "city" else "straight-line",
    }
    for band in DISTANCE_BANDS_KM:
        row[f"share_within_{band}km"] = (
            float(w[d_any <= band * 1000].sum() / total) if total else math.nan
        )
    finite = np.isfinite(d_fast)
    row["mean_fast_km"] = (
        float(np.average(d_fast[finite], weights=w[finite]) / 1000) if w[finite].sum() else math.nan
    )
    row["p95_fast_km"] = weighted_quantile(d_fast, w, 0.95) / 1000
    gaps = plan.corridors.get("max_gap_mi") if len(plan.corridors) else None
    row["max_corridor_gap_mi"] = float(pd.to_numeric(gaps).max()) if gaps is not None else math.nan
    row["sites"] = len(sites)
    row["ports"] = int(ports.sum())
    row["dc_ports"] = int(dc.sum())
    row["ac_ports"] = int(_column(sites, "ac_ports").sum())
    row["dc_share"] = float(dc.sum() / ports.sum()) if ports.sum() else math.nan
    row["installed_kw"] = installed_kw(sites)
    row["capex_usd"] = (
        float(_column(sites, "capex_usd", math.nan).sum()) if "capex_usd" in sites else math.nan
    )
    row["swap_capacity_day"] = float(_column(sites, "capacity_swaps_day").sum())
    evs = ground_ev_stock(ground)
    row["ev_stock"] = evs
    row["ports_per_1000_ev"] = float(ports.sum() / evs * 1000) if evs > 0 else math.nan
    row.update(equity_metrics(plan))
    for kind, group in sites.groupby("kind"):
        row[f"sites_{kind}"] = len(group)
        row[f"ports_{kind}"] = int(_column(group, "ports").sum())
    return row


def metrics_table(plans: Sequence[Plan]) -> pd.DataFrame:
    """One row of :func:`plan_metrics` per plan; kind columns missing in a plan are 0."""
    frame = pd.DataFrame([plan_metrics(p) for p in plans])
    kind_cols = [
        c
        for c in frame.columns
        if c.startswith(("sites_", "ports_")) and not c.startswith("ports_per_")
    ]
    frame[kind_cols] = frame[kind_cols].fillna(0).astype(int)
    return frame


# --- running several strategies on one ground -------------------------------------------------

# The parameter that sets each strategy's size, scaled by ``--same``; its value is read back from
# the plan (total ports, piles or sites) so a default of "derive it" still scales.
BUDGET_KNOBS: dict[str, tuple[str, str]] = {
    "us-nevi": ("target_ports", "ports"),
    "china-pile-swap": ("target_piles", "ports"),
    "coverage": ("sites", "sites"),
}
_SAME_ROUNDS = 8
_SAME_TOLERANCE = 0.01


@dataclass(frozen=True, eq=False)
class Comparison:
    """Plans of several strategies on one ground, their metrics and the parameters used."""

    plans: tuple[Plan, ...]
    metrics: pd.DataFrame
    params: dict[str, dict[str, Any]]
    same: str


def _budget(plan: Plan, same: str) -> float:
    if same == "capex":
        return float(_column(plan.sites, "capex_usd").sum())
    return float(_column(plan.sites, "ports").sum())


def _knob_value(plan: Plan, name: str) -> float:
    _knob, measure = BUDGET_KNOBS[name]
    return (
        float(len(plan.sites)) if measure == "sites" else float(_column(plan.sites, "ports").sum())
    )


def check_same(names: Sequence[str], same: str) -> None:
    """``same`` is ``none``, ``ports`` or ``capex``, and with ``capex`` every strategy of
    ``names`` has a cost model; else a one-line :class:`InputError`."""
    from planner.strategies import get_strategy

    if same not in ("none", "capex", "ports"):
        raise InputError(f"same: expected one of none, capex, ports, got {same!r}")
    missing = [n for n in names if same == "capex" and not get_strategy(n).has_cost_model]
    if missing:
        raise InputError(
            f"same capex: strategy {', '.join(missing)} has no cost model; compare the same "
            "ports or none (--same ports, same='ports')"
        )


def run_comparison(
    ground: Ground,
    names: Sequence[str],
    *,
    same: str = "none",
    scenarios: dict[str, Any] | None = None,
    seed: int = 0,
) -> Comparison:
    """Run each strategy on ``ground``; with ``same`` = ``capex``/``ports`` scale the others to
    the first strategy's budget (a few proportional rounds on the strategy's size parameter).

    ``scenarios`` maps a strategy name to its parameters: a TOML/JSON file, a mapping of keys
    or an instance of the strategy's parameter dataclass
    (see :func:`planner.io.scenario.scenario_mapping`).
    """
    from planner.io.scenario import params_from_mapping, scenario_mapping
    from planner.strategies import get_strategy

    check_same(names, same)
    plans: list[Plan] = []
    used: dict[str, dict[str, Any]] = {}
    reference = math.nan
    for i, name in enumerate(names):
        spec = get_strategy(name)
        given = scenarios.get(name) if scenarios else None
        base = scenario_mapping(given, spec.params_type, option="--scenario")
        params: Any = params_from_mapping(spec.params_type, base, where=f"scenario ({name})")
        plan = spec.plan(ground, params, seed=seed)
        if i == 0:
            reference = _budget(plan, same) if same != "none" else math.nan
        elif same != "none" and name in BUDGET_KNOBS and _budget(plan, same) > 0:
            plan, params = _match_budget(ground, spec, base, plan, reference, same, seed)
        elif same != "none" and name not in BUDGET_KNOBS:
            logger.warning(
                "--same %s: %s has no size parameter to scale; its %s stay %s against the "
                "reference %s",
                same,
                name,
                same,
                f"{_budget(plan, same):,.0f}",
                f"{reference:,.0f}",
            )
        plans.append(plan)
        used[name] = _params_shown(params, plan, name)
    metrics = metrics_table(plans)
    if same != "none":
        metrics = _with_budget_columns(metrics, plans, same, reference)
    return Comparison(tuple(plans), metrics, used, same)


def _params_shown(params: Any, plan: Plan, name: str) -> dict[str, Any]:
    """``params`` as a dict, with a size parameter left to the strategy (``None``, e.g.
    ``target_piles``) shown as the value the plan derived, marked so."""
    shown = dataclasses.asdict(params)
    knob = BUDGET_KNOBS.get(name, ("", ""))[0]
    if knob in shown and shown[knob] is None:
        shown[knob] = f"{_knob_value(plan, name):,.0f} (derived)"
    return shown


def _with_budget_columns(
    metrics: pd.DataFrame, plans: Sequence[Plan], same: str, reference: float
) -> pd.DataFrame:
    """``budget_<same>`` of each plan and its gap to the first plan's, in % (so a budget that
    could not be matched shows in the metrics and the report, not only in a log line)."""
    budgets = np.array([_budget(plan, same) for plan in plans])
    gap = 100 * (budgets - reference) / reference if reference > 0 else np.full(len(plans), np.nan)
    return metrics.assign(**{f"budget_{same}": budgets, f"budget_{same}_gap_pct": np.round(gap, 2)})


def _match_budget(
    ground: Ground,
    spec: Any,
    base: dict[str, Any],
    plan: Plan,
    reference: float,
    same: str,
    seed: int,
) -> tuple[Plan, Any]:
    """Search ``spec``'s size parameter for the plan whose budget is nearest ``reference``.

    The budget grows with the size parameter, so proportional steps are taken until the
    reference is bracketed, then bisection; the search stops within 1 % or after
    :data:`_SAME_ROUNDS` runs. Where a strategy cannot get that close (a fixed part such as
    corridor stations sized by traffic sets a floor), the nearest plan is kept and a warning
    says how far it is.
    """
    from planner.io.scenario import params_from_mapping

    knob, _ = BUDGET_KNOBS[spec.name]
    params = params_from_mapping(spec.params_type, base, where=f"--same {same}")
    value = max(1, round(_knob_value(plan, spec.name)))
    best = (abs(_budget(plan, same) - reference), plan, params)
    low, high = 0, None  # knob values known to give a budget below / above the reference
    previous = math.nan
    for _ in range(_SAME_ROUNDS):
        current = _budget(plan, same)
        if current <= 0 or abs(current - reference) <= _SAME_TOLERANCE * reference:
            break
        if current == previous:  # the size parameter no longer moves the budget: a floor/cap
            break
        previous = current
        if current < reference:
            low = max(low, value)
        else:
            high = value if high is None else min(high, value)
        if high is not None and low > 0:
            if high - low <= 1:
                break
            value = (low + high) // 2
        else:
            ratio = min(max(reference / current, 0.25), 4.0)  # at most x4 per step
            step = max(1, round(value * ratio))
            if step == value:
                step = value + 1 if current < reference else value - 1
            if step < 1 or step == value:
                break
            value = step
        params = params_from_mapping(
            spec.params_type, {**base, knob: value}, where=f"--same {same}"
        )
        plan = spec.plan(ground, params, seed=seed)
        best = min(best, (abs(_budget(plan, same) - reference), plan, params), key=lambda t: t[0])
    miss, plan, params = best
    if reference > 0 and miss > _SAME_TOLERANCE * reference:
        logger.warning(
            "--same %s: %s gets no nearer than %.1f %% to the reference %s",
            same,
            spec.name,
            100 * miss / reference,
            f"{reference:,.0f}",
        )
    return plan, params
