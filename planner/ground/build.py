"""Build a :class:`~planner.ground.model.Ground` from a city street network or a national corridor
network.

City ground
    The OSM network's nodes and edges; demand from :func:`planner.ground.demand.build_demand`;
    candidates from :func:`planner.ground.candidates.build_candidates`; corridors are the motorway
    and trunk routes inside the extract (by ``ref``), with a road-class traffic proxy for their
    flow; regions are the states or provinces the area's demand falls in.

National ground
    Nodes are the corridor network's nodes followed by one isolated node per demand cell (an H3
    cell of the population grid), so every site, corridor or community, stands on a node. Edges
    are the corridor edges only. Corridor flows come from the gravity model routed on the
    corridor network (:func:`planner.ground.traffic.gravity_flows`).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

from planner.core.errors import InputError
from planner.core.units import KM_PER_MI, M_PER_MI
from planner.countries import FALLBACK, country_at_point, get_country
from planner.ground.candidates import Candidates
from planner.ground.demand import DemandPoints
from planner.ground.model import Corridor, Country, ExistingStations, Ground
from planner.ground.network import RoadNetwork

logger = logging.getLogger(__name__)

# Two-way daily traffic assumed on an urban motorway / trunk segment when no count is known
# (order of magnitude of US urban Interstate AADT; FHWA Highway Statistics table HM-48 gives
# ~80k-100k for urban Interstates, ~20k-30k rural). A proxy, stated in summary.json.
# The gravity model lumps a metro's population at one node, so the segments next to the largest
# metros get more traffic than any real road carries. Flows are clipped at about the busiest
# observed two-way AADT of a US freeway segment (~400,000 vehicles/day, I-405 in Los Angeles,
# Caltrans traffic volumes); the clip is stated in summary.json through the ground's meta.
MAX_SEGMENT_FLOW_VEH_DAY = 400_000.0
# A national --osm network must span at least two corridor spacings: 2 x 50 miles (NEVI's
# maximum spacing of DC fast-charging stations along Alternative Fuel Corridors, 23 CFR
# 680.106(b)), about 161 km; China's expressway service areas are about 50 km apart (JTG D20,
# average spacing), so 161 km is over three of them. Smaller (a city's motorways) is refused.
# Below 1,000 km across it is a region, not a country (the contiguous US spans about 4,500 km,
# China about 5,000 km): planned, with a warning.
MIN_NATIONAL_EXTENT_KM = 2 * 50 * KM_PER_MI
REGIONAL_EXTENT_KM = 1000.0
# Gravity-model origins on waypoint networks: exits at most this far apart along each route.
ORIGIN_SPACING_M = 40_000.0
_CITY_FLOW_VEH_DAY = {"motorway": 80_000.0, "trunk": 30_000.0}


def check_country(country: str) -> Country:
    """Validate a country code against the registry (:mod:`planner.countries`)."""
    return get_country(country).code


def country_at(lon: np.ndarray, lat: np.ndarray) -> str | None:
    """The registered country whose box holds the area's centre, else ``None``."""
    return country_at_point(float(np.median(lon)), float(np.median(lat)))


def guess_country(lon: np.ndarray, lat: np.ndarray) -> Country:
    """Whose facts apply: the country whose box holds the area, else
    :data:`planner.countries.FALLBACK` (areas of other countries are planned with its defaults;
    their residents still come from GeoNames)."""
    return country_at(lon, lat) or FALLBACK


def city_ground(
    network: RoadNetwork,
    *,
    demand_config: Any = None,
    n_candidates: int = 1500,
    existing: str | Path | pd.DataFrame | None = None,
    country: str | None = None,
    seed: int = 0,
    user_points: str | Path | pd.DataFrame | None = None,
) -> Ground:
    """Assemble the ground of a city plan from a loaded street network.

    ``existing`` is a stations file or a table of stations (see :mod:`planner.ground.stations`);
    ``user_points`` adds user demand (see :func:`planner.ground.demand.build_demand`).
    """
    from planner.ground.candidates import build_candidates
    from planner.ground.regions import load_regions

    code = check_country(country) if country else guess_country(network.lon, network.lat)
    demand = _city_demand(
        network, code=code, country=country, demand_config=demand_config, user_points=user_points
    )
    candidates = build_candidates(network, demand, n_candidates=n_candidates, seed=seed)
    stations = _existing(existing, network) if existing is not None else None
    regions_all = load_regions(code)
    present = set(np.unique(demand.region.astype(str))) - {""}
    regions = regions_all[regions_all["region"].isin(present)].reset_index(drop=True)
    population = float(demand.components.get("population", demand.demand).sum())
    if population <= 0:  # no GeoNames place in reach: demand is POI/road person-equivalents
        logger.warning(
            "area %r: no resident population found near it; its %.0f person-equivalents of "
            "POI and road demand stand in for residents",
            network.name,
            float(demand.demand.sum()),
        )
        population = float(demand.demand.sum())
    meta = {
        "source": network.name,
        "population": population,
        "ev_stock": _area_ev_stock(regions, demand, population),
        "nodes": network.n_nodes,
        "edges": len(network.edges),
        "pois": len(network.pois),
        "corridor_flow_proxy_veh_day": _CITY_FLOW_VEH_DAY,
    }
    return Ground(
        name=network.name,
        scale="city",
        country=code,
        crs=network.crs,
        node_x_m=network.x_m,
        node_y_m=network.y_m,
        node_lon=network.lon,
        node_lat=network.lat,
        length_m=network.length_m,
        travel_time_s=network.travel_time_s,
        demand=demand,
        candidates=candidates,
        corridors=_city_corridors(network),
        regions=regions,
        existing=stations,
        edges=network.edges,
        meta=meta,
    )


def _city_demand(
    network: RoadNetwork,
    *,
    code: str,
    country: str | None,
    demand_config: Any,
    user_points: str | Path | pd.DataFrame | None = None,
) -> DemandPoints:
    """Demand points of a city network, each tagged with its region of country ``code``."""
    from planner.ground.demand import DemandConfig, build_demand
    from planner.ground.regions import region_of_admin1

    # GeoNames places of the area's own country; outside the US and China, of any country.
    place_country = country_at(network.lon, network.lat) if not country else code
    demand = build_demand(
        network,
        config=demand_config or DemandConfig(),
        user_points=user_points,
        country=place_country.upper() if place_country else None,
    )
    demand = dataclasses.replace(demand, region=region_of_admin1(code, demand.region.astype(str)))
    if demand.demand.size == 0 or float(demand.demand.sum()) <= 0:
        raise InputError(
            f"area {network.name!r}: no demand found on its network; choose a larger area"
        )
    return demand


def _area_ev_stock(regions: pd.DataFrame, demand: DemandPoints, population: float) -> float:
    """EVs in the area: each region's EV stock times the area's share of its population."""
    if regions.empty or population <= 0:
        return 0.0
    pop_by_region = (
        pd.Series(demand.components.get("population", demand.demand))
        .groupby(demand.region.astype(str))
        .sum()
    )
    total = 0.0
    for region, population, ev_stock in regions[["region", "population", "ev_stock"]].to_numpy():
        share = float(pop_by_region.get(region, 0.0)) / max(float(population), 1.0)
        total += float(ev_stock) * min(share, 1.0)
    return total


def _existing(source: str | Path | pd.DataFrame, network: RoadNetwork) -> ExistingStations:
    from planner.ground.stations import read_stations, snap_stations, stations_from_frame

    if isinstance(source, pd.DataFrame):
        return snap_stations(stations_from_frame(source), network)
    return snap_stations(read_stations(source), network)


def _city_corridors(network: RoadNetwork) -> tuple[Corridor, ...]:
    """Motorway/trunk routes of the extract as corridors with a road-class flow proxy."""
    from planner.ground.network import motorway_paths

    corridors = []
    highway_of = _edge_highway_lookup(network)
    for ref, path, chainage in motorway_paths(network):
        if len(path) < 2:
            continue
        classes = [highway_of.get((int(u), int(v)), "trunk") for u, v in itertools.pairwise(path)]
        flow = np.array(
            [_CITY_FLOW_VEH_DAY.get(str(c).removesuffix("_link"), 30_000.0) for c in classes]
        )
        corridors.append(
            Corridor(
                _route_id(str(ref)),
                np.asarray(path, dtype=np.int64),
                np.asarray(chainage, dtype=float),
                flow,
                None,
                "OpenStreetMap",
            )
        )
    return tuple(corridors)


def _route_id(ref: str) -> str:
    """``"I 70"`` -> ``"I-70"``; the first of several refs (``"I 70;I 71"``)."""
    first = ref.split(";")[0].strip()
    return re.sub(r"^([A-Z]+)\s+(\d+\w*)$", r"\1-\2", first)


def _edge_highway_lookup(network: RoadNetwork) -> dict[tuple[int, int], str]:
    e = network.edges
    return dict(
        zip(
            zip(e["u"].to_numpy().tolist(), e["v"].to_numpy().tolist(), strict=True),
            e["highway"].astype(str).tolist(),
            strict=True,
        )
    )


def national_ground(country: str, *, osm: str | Path | None = None, seed: int = 0) -> Ground:
    """Assemble the national ground of ``country`` (embedded corridors, or motorways of ``osm``)."""
    from planner.ground.population import places_national
    from planner.ground.regions import load_regions

    code = check_country(country)
    cnet = _corridor_network(code, osm)
    n_c = len(cnet.node_x_m)
    # Demand: census tracts / prefectures, clipped to the country (planner.ground.national_demand).
    fine = _national_demand(code)
    grid = fine.points
    demand = _points_from_frame(grid, cnet.crs, node_idx=np.arange(n_c, n_c + len(grid)))
    candidates, outside_nodes = _national_candidates(code, cnet, demand)
    fine.info["outside_country"]["candidates_dropped"] = outside_nodes
    regions = load_regions(code)
    flows = _corridor_flows(cnet, demand).tocsr()
    corridors = tuple(
        Corridor(
            r.route_id,
            np.asarray(r.node_idx, dtype=np.int64),
            np.asarray(r.chainage_m, float),
            _route_flow(flows, np.asarray(r.node_idx)),
            r.official_length_km,
            r.length_source,
        )
        for r in cnet.routes
    )
    meta = {
        "source": f"embedded {code} corridor network" if osm is None else str(osm),
        "corridor_attribution": cnet.attribution,
        "corridor_exits": int(np.count_nonzero(candidates.source == "corridor")),
        "population": float(demand.demand.sum()),
        "ev_stock": float(pd.to_numeric(regions["ev_stock"]).sum()),
        "corridor_nodes": n_c,
        "demand_cells": len(grid),
        **fine.info,
        "routes": len(corridors),
        "max_segment_flow_veh_day": MAX_SEGMENT_FLOW_VEH_DAY,
    }
    # Demand cells are isolated nodes after the corridor nodes: no edges of their own.
    length = sp.block_diag([cnet.length_m, sp.csr_array((len(grid), len(grid)))], format="csr")
    return Ground(
        name=get_country(code).name,
        scale="national",
        country=code,
        crs=cnet.crs,
        node_x_m=np.r_[cnet.node_x_m, demand.x_m],
        node_y_m=np.r_[cnet.node_y_m, demand.y_m],
        node_lon=np.r_[cnet.node_lon, demand.lon],
        node_lat=np.r_[cnet.node_lat, demand.lat],
        length_m=sp.csr_array(length),
        demand=demand,
        candidates=candidates,
        corridors=corridors,
        regions=regions,
        meta=meta,
        evaluation=_points_from_frame(places_national(code), cnet.crs),
    )


def _national_demand(code: str) -> Any:
    from planner.ground.national_demand import national_demand

    return national_demand(code)


def _national_candidates(code: str, cnet: Any, demand: DemandPoints) -> tuple[Candidates, int]:
    """Demand points and the corridor exits inside the country, and how many exits are not."""
    from planner.ground.boundaries import locate

    exits = cnet.exits()  # corridor candidates: the real interchanges (every node of a PBF)
    inside = locate(cnet.node_lon, cnet.node_lat, code).inside
    outside = int(np.count_nonzero(exits & ~inside))
    if outside:
        logger.info("%s: %d corridor exits outside the country", code, outside)
    keep = np.flatnonzero(exits & inside)
    candidates = Candidates(
        node_idx=np.r_[demand.node_idx, keep],
        x_m=np.r_[demand.x_m, cnet.node_x_m[keep]],
        y_m=np.r_[demand.y_m, cnet.node_y_m[keep]],
        source=np.array(["demand"] * demand.node_idx.size + ["corridor"] * keep.size, object),
    )
    return candidates, outside


def _points_from_frame(
    frame: pd.DataFrame, crs: str, *, node_idx: np.ndarray | None = None
) -> DemandPoints:
    """Population points (``lon``, ``lat``, ``population``, ``region`` columns) projected to
    ``crs``; ``node_idx`` is -1 when the points are not ground nodes (evaluation points)."""
    from pyproj import Transformer

    lon, lat = frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    pop = frame["population"].to_numpy(float)
    return DemandPoints(
        node_idx=np.full(lon.size, -1, dtype=np.int64) if node_idx is None else node_idx,
        x_m=np.asarray(x),
        y_m=np.asarray(y),
        lon=lon,
        lat=lat,
        demand=pop,
        region=frame["region"].astype(str).to_numpy(dtype=object),
        components={"population": pop},
        unit="persons",
    )


def _corridor_network(code: str, osm: str | Path | None) -> Any:
    if osm is None:
        from planner.ground.corridors import load_corridor_network

        return load_corridor_network(code)
    from planner.ground.motorways import corridor_network_from_pbf

    path = Path(osm)
    if not path.is_file():
        raise InputError(f"--osm: file {path} does not exist; give a country-wide .osm.pbf")
    cnet = corridor_network_from_pbf(path, country=code)
    found = country_at(cnet.node_lon, cnet.node_lat)
    if found != code:
        where = "another country" if found is None else f"country {found!r}"
        hint = "" if found is None else f" or pass --country {found}"
        raise InputError(
            f"--osm: the motorways of {path} centre at lon {np.median(cnet.node_lon):.2f}, "
            f"lat {np.median(cnet.node_lat):.2f}, in {where}, not in {code!r}; give a "
            f"country-wide .osm.pbf of {code!r}{hint}"
        )
    _check_extent(cnet, path)
    return cnet


def _check_extent(cnet: Any, path: Path) -> None:
    """Refuse a motorway network too small to be national; warn when it is a region."""
    extent_km = float(
        np.hypot(np.ptp(cnet.node_x_m), np.ptp(cnet.node_y_m)) / 1000.0 if cnet.n_nodes else 0.0
    )
    miles = float(cnet.length_m.sum()) / 2 / M_PER_MI  # each edge is stored both ways
    if extent_km < MIN_NATIONAL_EXTENT_KM:
        raise InputError(
            f"--osm: the motorways of {path} span {extent_km:.0f} km ({miles:.1f} miles of "
            f"road), not a national network (at least {MIN_NATIONAL_EXTENT_KM:.0f} km, two "
            "50-mile corridor spacings); give a country-wide .osm.pbf, or plan a city with "
            "'planner plan --osm'"
        )
    if extent_km < REGIONAL_EXTENT_KM:
        logger.warning(
            "--osm: the motorways of %s span only %.0f km (%.0f miles of road): a regional, "
            "not a national network; the plan covers only this region",
            path,
            extent_km,
            miles,
        )


def _corridor_flows(cnet: Any, demand: DemandPoints) -> sp.csr_array:
    """Gravity-model flows (vehicles/day) on corridor edges.

    Each demand cell's population is lumped at the nearest *origin exit*: along every route, the
    exits that keep origins at most :data:`ORIGIN_SPACING_M` apart (a few thousand per country,
    so the all-pairs routing stays fast); on networks without exits, every node. Trips are routed
    on the network with its chains of degree-2 nodes contracted (same paths, same flows).
    """
    from planner.ground._chains import contract, expand
    from planner.ground.traffic import gravity_flows

    named = _origin_exits(cnet)
    n = len(cnet.node_x_m)
    tree = cKDTree(np.column_stack([cnet.node_x_m[named], cnet.node_y_m[named]]))
    _, nearest = tree.query(np.column_stack([demand.x_m, demand.y_m]))
    mass = np.bincount(named[nearest], weights=demand.demand, minlength=n)
    origins = np.flatnonzero(mass > 0)
    small = contract(sp.csr_array(cnet.length_m), np.isin(np.arange(n), origins))
    local = np.searchsorted(small.kept, origins)
    flows = gravity_flows(small.length_m, local, mass[origins], country=cnet.country)
    return expand(flows, small, n)


def _origin_exits(cnet: Any) -> np.ndarray:
    """Exits at most :data:`ORIGIN_SPACING_M` apart along each route (all nodes without exits)."""
    from planner.ground.spacing import min_stations_for_spacing

    exits = cnet.exits()
    if exits.all() or not exits.any():
        return np.arange(len(cnet.node_x_m))
    picked = []
    for r in cnet.routes:
        nodes = np.asarray(r.node_idx, dtype=np.int64)
        on = exits[nodes]
        if on.any():
            pos = min_stations_for_spacing(
                np.asarray(r.chainage_m, float)[on],
                max_gap_m=ORIGIN_SPACING_M,
                max_end_gap_m=ORIGIN_SPACING_M / 2,
                on_infeasible="bridge",
            )
            picked.append(nodes[on][pos])
    return np.unique(np.concatenate(picked))


def _route_flow(flows: sp.csr_array, path: np.ndarray) -> np.ndarray:
    """Two-way flow on each segment of a route, clipped at :data:`MAX_SEGMENT_FLOW_VEH_DAY`."""
    if path.size < 2:
        return np.zeros(0)
    u, v = path[:-1], path[1:]
    both = np.asarray(flows[u, v]).ravel() + np.asarray(flows[v, u]).ravel()
    return np.minimum(both, MAX_SEGMENT_FLOW_VEH_DAY)
