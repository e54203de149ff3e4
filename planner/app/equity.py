"""Who a plan leaves out: ports per person and per EV by region, and charging deserts.

* :func:`equity_by_region` -- per strategy and state or province: population, EV stock, ports,
  DC ports, ports per 1,000 people and per 1,000 EVs (from ``Ground.regions`` and the sites'
  ``state`` column);
* :func:`charging_deserts` -- the population farther than 10 / 25 / 50 km from any DC site (a site
  with at least one DC port), measured on the same evaluation points as the comparison metrics
  (:func:`planner.ground.reach.evaluation_points`: populated places at national scale, demand points
  in a city), by the same distance (straight-line nationally, network in a city);
* :func:`equity_metrics` -- the one-row summary :func:`planner.app.comparison.plan_metrics` adds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from planner.strategies.base import Plan

DESERT_BANDS_KM = (10, 25, 50)
REGION_TABLE_COLUMNS = (
    "strategy",
    "region",
    "name",
    "population",
    "ev_stock",
    "ports",
    "dc_ports",
    "ports_per_1000_people",
    "ports_per_1000_ev",
)


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(0.0, index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce").fillna(0.0)


def region_table(plan: Plan) -> pd.DataFrame:
    """One row per region of ``plan.ground.regions`` (columns :data:`REGION_TABLE_COLUMNS`).

    Sites are assigned by their ``state`` column (the region code); a region with no people or
    no EVs gets NaN for the matching ratio.
    """
    regions = plan.ground.regions
    sites = plan.sites
    table = pd.DataFrame(
        {
            "region": regions.get("region", pd.Series(dtype=object)).astype(str),
            "name": regions.get("name", pd.Series(dtype=object)),
            "population": _numbers(regions, "population"),
            "ev_stock": _numbers(regions, "ev_stock"),
        }
    )
    key = sites["state"].astype(str) if "state" in sites.columns else pd.Series(dtype=str)
    ports = _numbers(sites, "ports").groupby(key).sum()
    dc = _numbers(sites, "dc_ports").groupby(key).sum()
    table["ports"] = table["region"].map(ports).fillna(0).astype(int)
    table["dc_ports"] = table["region"].map(dc).fillna(0).astype(int)
    people = table["population"].where(table["population"] > 0)
    evs = table["ev_stock"].where(table["ev_stock"] > 0)
    table["ports_per_1000_people"] = table["ports"] / people * 1000
    table["ports_per_1000_ev"] = table["ports"] / evs * 1000
    table.insert(0, "strategy", plan.strategy)
    return table.loc[:, list(REGION_TABLE_COLUMNS)].reset_index(drop=True)


def equity_by_region(plans: Sequence[Plan]) -> pd.DataFrame:
    """:func:`region_table` of every plan, stacked (long format: strategy, region, ...)."""
    frames = [region_table(p) for p in plans]
    if not frames:
        return pd.DataFrame(columns=list(REGION_TABLE_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def dc_distance_m(plan: Plan) -> np.ndarray:
    """Distance (m) from every evaluation point to the nearest DC site; ``inf`` if none."""
    from planner.ground.reach import distance_to_sites_m

    dc = _numbers(plan.sites, "dc_ports").to_numpy() > 0
    return distance_to_sites_m(plan.ground, plan.sites["node_idx"].to_numpy()[dc])


def charging_deserts(
    plan: Plan, *, bands_km: Sequence[float] = DESERT_BANDS_KM
) -> dict[str, float]:
    """Population (evaluation weight) beyond each band of any DC site, and its share.

    Returns
    -------
    dict
        ``desert_beyond_<d>km`` (people, or the demand unit in a city) and
        ``desert_share_beyond_<d>km`` (0-1) per band.
    """
    from planner.ground.reach import evaluation_points

    weight = evaluation_points(plan.ground).demand.astype(float)
    total = float(weight.sum())
    dist = dc_distance_m(plan)
    out: dict[str, float] = {}
    for band in bands_km:
        beyond = float(weight[dist > band * 1000.0].sum())
        out[f"desert_beyond_{band:g}km"] = beyond
        out[f"desert_share_beyond_{band:g}km"] = beyond / total if total else math.nan
    return out


def equity_metrics(plan: Plan) -> dict[str, Any]:
    """Ports per 1,000 people (whole ground), the regional spread and the charging deserts."""
    table = region_table(plan)
    people = float(table["population"].sum())
    ports = float(_numbers(plan.sites, "ports").sum())
    row: dict[str, Any] = {
        "ports_per_1000_people": ports / people * 1000 if people > 0 else math.nan,
    }
    for column in ("ports_per_1000_people", "ports_per_1000_ev"):
        values = table[column].dropna()
        row[f"{column}_region_min"] = float(values.min()) if len(values) else math.nan
        row[f"{column}_region_median"] = float(values.median()) if len(values) else math.nan
        row[f"{column}_region_max"] = float(values.max()) if len(values) else math.nan
    row.update(charging_deserts(plan))
    return row
