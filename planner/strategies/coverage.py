"""The ``coverage`` strategy: N sites placed by a coverage model on network distance, then sized.

This is the city planner's default: maximal covering (MCLP) with ``sites`` sites within
``radius_km`` network distance, or the fewest sites reaching a demand share (LSCP), or the
p-median (least mean distance). Existing stations count as open sites and only the gap is planned.

Port sizing turns the demand a site serves (person-equivalents) into peak-hour arrivals:
``demand x ev_per_capita x public_sessions_per_ev_day x peak_hour_share``, split between DC and
AC by ``dc_session_share``, and sizes each with an Erlang-C queue (:mod:`planner.sizing`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.sparse import csgraph

from planner._stats import weighted_quantile
from planner.ground import Ground
from planner.scenario import check_range
from planner.sizing import ports_for_loads
from planner.strategies._regions import nearest_point_value
from planner.strategies.base import Plan, StrategySpec

logger = logging.getLogger(__name__)

Model = Literal["mclp", "lscp", "pmedian"]
PMEDIAN_FULL_PAIRS = 20_000_000


@dataclass(frozen=True)
class CoverageParams:
    """Parameters of the coverage strategy (units in the names).

    ``ev_per_capita`` defaults to the US 2023 BEV stock over the 2020 census population
    (3,555,445 / 331.4 M, AFDC/Experian; US Census); ``public_sessions_per_ev_day`` assumes one
    public session per EV every ten days; ``dc_session_share`` the NREL 2030 ratio of public DC
    to all public ports (182,000 / 1,182,000).
    """

    sites: int = 25
    radius_km: float = 3.0
    model: Model = "mclp"
    min_share: float = 0.95
    method: Literal["auto", "exact", "heuristic"] = "auto"
    time_limit_s: float | None = None
    ev_per_capita: float = 0.0107
    public_sessions_per_ev_day: float = 0.1
    peak_hour_share: float = 0.12
    dc_session_share: float = 0.154
    dc_power_kw: float = 150.0
    ac_power_kw: float = 11.5
    dc_session_h: float = 0.5
    ac_session_h: float = 2.5
    target_wait_min: float = 10.0
    min_dc_ports: int = 2
    min_ac_ports: int = 2
    dc_port_capex_usd: float = 195_000.0
    ac_port_capex_usd: float = 8_000.0

    def __post_init__(self) -> None:
        if isinstance(self.sites, bool) or self.sites < 1:
            raise _bad("sites", "a whole number >= 1", self.sites)
        check_range(
            "radius_km", self.radius_km, low=0.0, low_open=True, fix="give a positive radius"
        )
        for name in ("min_share", "peak_hour_share", "dc_session_share"):
            check_range(name, getattr(self, name), low=0.0, high=1.0)
        for name in (
            "ev_per_capita",
            "public_sessions_per_ev_day",
            "dc_port_capex_usd",
            "ac_port_capex_usd",
        ):
            check_range(name, getattr(self, name), low=0.0)
        for name in (
            "dc_power_kw",
            "ac_power_kw",
            "dc_session_h",
            "ac_session_h",
            "target_wait_min",
        ):
            check_range(name, getattr(self, name), low=0.0, low_open=True)
        if self.time_limit_s is not None:  # None: budgets count work, not seconds
            check_range("time_limit_s", self.time_limit_s, low=0.0, low_open=True)

    @property
    def radius_m(self) -> float:
        """Service radius in metres."""
        return self.radius_km * 1000.0


def _bad(name: str, expected: str, got: object) -> Exception:
    from planner.errors import InputError

    return InputError(f"{name}: expected {expected}, got {got!r}")


def nearest_site_distance_m(
    ground: Ground, site_nodes: np.ndarray, *, limit_m: float = np.inf
) -> np.ndarray:
    """Network distance from every ground node to its nearest site (``inf`` beyond ``limit_m``).

    Distances run from the node to the site along directed edges (Dijkstra on the transposed
    graph from the sites).
    """
    if len(site_nodes) == 0:
        return np.full(ground.n_nodes, np.inf)
    dist = csgraph.dijkstra(
        ground.length_m.T.tocsr(),
        directed=True,
        indices=np.unique(site_nodes),
        min_only=True,
        limit=limit_m,
    )
    return np.asarray(dist, dtype=float)


def _sizing(params: CoverageParams, served: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DC and AC ports per site for the demand each serves."""
    sessions_day = served * params.ev_per_capita * params.public_sessions_per_ev_day
    peak = sessions_day * params.peak_hour_share
    dc = ports_for_loads(
        peak * params.dc_session_share,
        session_h=params.dc_session_h,
        target_wait_min=params.target_wait_min,
        min_ports=params.min_dc_ports,
    )
    ac = ports_for_loads(
        peak * (1 - params.dc_session_share),
        session_h=params.ac_session_h,
        target_wait_min=params.target_wait_min,
        min_ports=params.min_ac_ports,
    )
    return dc, ac


def _solve(
    params: CoverageParams, coverage: Any, weights: np.ndarray, cost: Any, p: int, seed: int
) -> Any:
    """Run the chosen coverage model; return the optimizer's result."""
    from planner import optimize

    opts: dict[str, Any] = {
        "method": params.method,
        "time_limit_s": params.time_limit_s,
        "seed": seed,
    }
    if params.model == "mclp":
        return optimize.solve_max_coverage(coverage, weights, p, **opts)
    if params.model == "lscp":
        return optimize.solve_set_cover(coverage, weights, min_share=params.min_share, **opts)
    return optimize.solve_p_median(cost, weights, p, **opts)


def run(ground: Ground, params: CoverageParams, *, seed: int = 0) -> Plan:
    """Place and size sites on ``ground`` by the coverage model in ``params``."""
    from planner import optimize

    t0 = time.perf_counter()
    demand = ground.demand
    cand_nodes = np.asarray(ground.candidates.node_idx, dtype=np.int64)
    existing_nodes = (
        np.unique(ground.existing.node_idx)
        if ground.existing is not None and len(ground.existing)
        else np.empty(0, dtype=np.int64)
    )
    cand_nodes = np.setdiff1d(cand_nodes, existing_nodes)
    weights = demand.demand.astype(float).copy()
    if existing_nodes.size:
        d_existing = nearest_site_distance_m(ground, existing_nodes, limit_m=params.radius_m)
        weights[d_existing[demand.node_idx] <= params.radius_m] = 0.0
    p = min(params.sites, len(cand_nodes))
    if p < params.sites:
        logger.warning(
            "only %d candidates for %d sites; placing %d", len(cand_nodes), params.sites, p
        )
    cost = None
    if params.model == "pmedian":
        # All reachable pairs when that is affordable, else pairs within 5 radii (a demand
        # point farther than that from every candidate cannot be served by this model).
        pairs = demand.node_idx.size * cand_nodes.size
        limit_m = np.inf if pairs <= PMEDIAN_FULL_PAIRS else 5 * params.radius_m
        cost = optimize.distances_from_network(
            ground.length_m, demand.node_idx, cand_nodes, limit_m
        )
        coverage = None
    else:
        coverage = optimize.coverage_from_network(
            ground.length_m, demand.node_idx, cand_nodes, params.radius_m
        )
    result = _solve(params, coverage, weights, cost, p, seed)
    new_nodes = cand_nodes[np.asarray(result.selected, dtype=np.int64)]
    sites = _site_table(ground, params, new_nodes, existing_nodes)
    summary = _summary(ground, params, sites, result, time.perf_counter() - t0)
    return Plan("coverage", ground, sites, pd.DataFrame(), pd.DataFrame(), summary)


def _assign(ground: Ground, site_nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest site (index into ``site_nodes``) and its network distance for every demand point."""
    dist, _, source = csgraph.dijkstra(
        ground.length_m.T.tocsr(),
        directed=True,
        indices=site_nodes,
        min_only=True,
        return_predecessors=True,
    )
    lookup = np.full(ground.n_nodes, -1, dtype=np.int64)
    lookup[site_nodes] = np.arange(site_nodes.size)
    src = np.asarray(source)[ground.demand.node_idx]
    nearest = np.where(src >= 0, lookup[np.maximum(src, 0)], -1)
    return nearest, np.asarray(dist)[ground.demand.node_idx]


def _site_table(
    ground: Ground, params: CoverageParams, new_nodes: np.ndarray, existing_nodes: np.ndarray
) -> pd.DataFrame:
    """Build ``Plan.sites``: served demand by nearest-site assignment, sized ports, capex."""
    site_nodes = np.concatenate([existing_nodes, new_nodes]).astype(np.int64)
    is_existing = np.r_[np.ones(existing_nodes.size, bool), np.zeros(new_nodes.size, bool)]
    nearest, dist = _assign(ground, site_nodes)
    ok = (nearest >= 0) & np.isfinite(dist)
    served = np.bincount(nearest[ok], weights=ground.demand.demand[ok], minlength=site_nodes.size)
    dc, ac = _sizing(params, served)
    if ground.existing is not None and existing_nodes.size:
        by_node = (
            pd.DataFrame(
                {
                    "n": ground.existing.node_idx,
                    "dc": ground.existing.dc_ports,
                    "ac": ground.existing.ac_ports,
                }
            )
            .groupby("n")
            .sum()
        )
        dc[: existing_nodes.size] = by_node.loc[existing_nodes, "dc"].to_numpy()
        ac[: existing_nodes.size] = by_node.loc[existing_nodes, "ac"].to_numpy()
    capex = np.where(
        is_existing, 0.0, dc * params.dc_port_capex_usd + ac * params.ac_port_capex_usd
    )
    kind = np.where(is_existing, "existing", "site")
    ids = [f"{'E' if e else 'S'}{i + 1:04d}" for i, e in enumerate(is_existing)]
    region = _region_of_nodes(ground, site_nodes)
    return pd.DataFrame(
        {
            "site_id": ids,
            "kind": kind,
            "node_idx": site_nodes,
            "x_m": ground.node_x_m[site_nodes],
            "y_m": ground.node_y_m[site_nodes],
            "lon": ground.node_lon[site_nodes],
            "lat": ground.node_lat[site_nodes],
            "ports": dc + ac,
            "dc_ports": dc,
            "ac_ports": ac,
            "power_kw": np.where(dc > 0, params.dc_power_kw, params.ac_power_kw),
            "demand_served": np.round(served, 3),
            "existing": is_existing,
            "corridor": "",
            "state": region,
            "capex_usd": capex,
        }
    )


def _region_of_nodes(ground: Ground, nodes: np.ndarray) -> np.ndarray:
    """Region code of the demand point nearest to each node (``""`` when demand has none)."""
    return nearest_point_value(ground, nodes, np.asarray(ground.demand.region, dtype=object))


def coverage_figures(ground: Ground, site_nodes: np.ndarray, radius_m: float) -> dict[str, float]:
    """Demand share within ``radius_m``, mean and p95 network distance to the nearest site."""
    dist = nearest_site_distance_m(ground, site_nodes)[ground.demand.node_idx]
    w = ground.demand.demand.astype(float)
    total = float(w.sum())
    finite = np.isfinite(dist)
    share = float(w[dist <= radius_m].sum() / total) if total > 0 else math.nan
    mean = float(np.average(dist[finite], weights=w[finite])) if w[finite].sum() > 0 else math.nan
    p95 = weighted_quantile(dist[finite], w[finite], 0.95)
    return {
        "covered_share": share,
        "mean_distance_m": mean,
        "p95_distance_m": p95,
        "unreachable_share": float(w[~finite].sum() / total) if total > 0 else math.nan,
    }


def _summary(
    ground: Ground, params: CoverageParams, sites: pd.DataFrame, result: Any, seconds: float
) -> dict[str, Any]:
    """Figures for ``summary.json``."""
    figures = coverage_figures(ground, sites["node_idx"].to_numpy(), params.radius_m)
    return {
        "strategy": "coverage",
        "params": dataclasses.asdict(params),
        "demand_unit": ground.demand.unit,
        "demand_total": float(ground.demand.demand.sum()),
        "radius_m": params.radius_m,
        **figures,
        "sites": int((~sites["existing"]).sum()),
        "existing_sites": int(sites["existing"].sum()),
        "ports": int(sites["ports"].sum()),
        "dc_ports": int(sites["dc_ports"].sum()),
        "ac_ports": int(sites["ac_ports"].sum()),
        "capex_usd": float(sites["capex_usd"].sum()),
        **_load_dependence(params.time_limit_s),
        "optimizer": {
            "model": params.model,
            "method": result.method,
            "status": result.status,
            "objective": float(result.objective),
            "bound": _finite(result.bound),
            "gap": _finite(result.gap),
            "seconds": float(result.seconds),
        },
        "strategy_seconds": round(seconds, 3),
    }


def _load_dependence(time_limit_s: float | None) -> dict[str, Any]:
    """Whether the plan may change with the machine's load (a wall-clock limit), and why."""
    if time_limit_s is None:
        return {"load_dependent": False}
    return {
        "load_dependent": True,
        "load_dependent_reason": f"optimizer wall-clock time_limit_s={time_limit_s:g}",
    }


def _finite(value: Any) -> float | None:
    value = float(value) if value is not None else math.nan
    return value if math.isfinite(value) else None


SPEC = StrategySpec(
    name="coverage",
    title="Coverage siting (MCLP / LSCP / p-median)",
    params_type=CoverageParams,
    run=run,
    has_cost_model=True,
)
