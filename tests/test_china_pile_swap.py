"""Tests of the china-pile-swap strategy on a small synthetic ground built here."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from planner.core.errors import InputError
from planner.ground.candidates import Candidates
from planner.ground.demand import DemandPoints
from planner.ground.model import Corridor, Country, Ground, Scale
from planner.io._data import data_path
from planner.io.scenario import load_scenario, params_from_mapping
from planner.strategies._piles import apportion, split_dc_ac
from planner.strategies._swap import aggregate_demand, site_swap_stations
from planner.strategies.base import SITE_COLUMNS, Plan
from planner.strategies.china_pile_swap import SPEC, ChinaPileSwapParams, run

REGIONS = ("AA", "BB", "CC")
# The heuristic swap model with its default work budgets (no wall-clock limit): its answer is
# the same on an idle and on a loaded machine.
FAST = ChinaPileSwapParams(swap_method="heuristic")


def _corridor(
    cid: str,
    start: tuple[float, float],
    end: tuple[float, float],
    step_m: float,
    flow: float,
    first_node: int,
) -> tuple[Corridor, np.ndarray, np.ndarray]:
    """A straight corridor with nodes every ``step_m`` (the last step may be shorter)."""
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    chain = np.r_[np.arange(0.0, length, step_m), length]
    t = chain / length
    x = start[0] + t * (end[0] - start[0])
    y = start[1] + t * (end[1] - start[1])
    nodes = np.arange(first_node, first_node + chain.size, dtype=np.int64)
    corridor = Corridor(cid, nodes, chain, np.full(chain.size - 1, flow), None, "synthetic")
    return corridor, x, y


def make_ground(
    *,
    scale: Scale = "national",
    country: Country = "cn",
    n_points: int = 900,
    seed: int = 7,
    meta: dict[str, object] | None = None,
) -> Ground:
    """Three provinces side by side (100 km wide), two corridors, demand points in towns.

    Each province has three towns (points ~2 km around their centre) and a few rural points;
    province BB's first town is a city dense enough to need several swap stations.
    """
    rng = np.random.default_rng(seed)
    region_idx = rng.integers(0, 3, n_points)
    town = rng.integers(0, 3, n_points)
    centre_x = region_idx * 100_000.0 + 20_000.0 + 30_000.0 * town
    centre_y = np.array([25_000.0, 70_000.0, 45_000.0])[town]
    px = centre_x + rng.normal(0, 2_000.0, n_points)
    py = centre_y + rng.normal(0, 2_000.0, n_points)
    rural = rng.random(n_points) < 0.05
    px[rural] = region_idx[rural] * 100_000.0 + rng.uniform(0, 100_000.0, rural.sum())
    py[rural] = rng.uniform(0, 100_000.0, rural.sum())
    demand = rng.lognormal(6.0, 1.0, n_points)
    c1, x1, y1 = _corridor(
        "G1", (0.0, 40_000.0), (300_000.0, 40_000.0), 7_000.0, 30_000.0, n_points
    )
    c2, x2, y2 = _corridor(
        "G2",
        (150_000.0, 0.0),
        (150_000.0, 100_000.0),
        11_000.0,
        9_000.0,
        n_points + c1.node_idx.size,
    )
    nx = np.r_[px, x1, x2]
    ny = np.r_[py, y1, y2]
    n = nx.size
    rows = np.r_[c1.node_idx[:-1], c2.node_idx[:-1]]
    cols = np.r_[c1.node_idx[1:], c2.node_idx[1:]]
    lengths = np.r_[np.diff(c1.chainage_m), np.diff(c2.chainage_m)]
    graph = sp.csr_array(
        (np.r_[lengths, lengths], (np.r_[rows, cols], np.r_[cols, rows])), shape=(n, n)
    )
    region = np.array(REGIONS, dtype=object)[region_idx]
    points = DemandPoints(
        node_idx=np.arange(n_points, dtype=np.int64),
        x_m=px,
        y_m=py,
        lon=116.0 + px / 100_000.0,
        lat=30.0 + py / 111_000.0,
        demand=demand,
        region=region,
        components={"population": demand},
        unit="persons",
    )
    cand = np.arange(0, n_points, 3, dtype=np.int64)
    regions = pd.DataFrame(
        {
            "region": list(REGIONS),
            "name": ["Alpha", "Beta", "Gamma"],
            "population": [4.0e6, 9.0e6, 2.0e6],
            "ev_stock": [300_000.0, 900_000.0, 60_000.0],
            "ev_source": ["synthetic"] * 3,
            "ev_fallback": [False, False, True],
        }
    )
    return Ground(
        name="synthetic",
        scale=scale,
        country=country,
        crs="EPSG:32650",
        node_x_m=nx,
        node_y_m=ny,
        node_lon=116.0 + nx / 100_000.0,
        node_lat=30.0 + ny / 111_000.0,
        length_m=graph,
        demand=points,
        candidates=Candidates(cand, px[cand], py[cand], np.full(cand.size, "node", dtype=object)),
        corridors=(c1, c2),
        regions=regions,
        meta=meta or {},
    )


@pytest.fixture(scope="module")
def ground() -> Ground:
    return make_ground()


@pytest.fixture(scope="module")
def plan(ground: Ground) -> Plan:
    return run(ground, FAST, seed=0)


# --- pure helpers ---------------------------------------------------------------------------


def test_apportion_is_exact_and_within_floor_ceil() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        w = rng.random(rng.integers(1, 30)) * rng.integers(1, 1000)
        total = int(rng.integers(0, 10_000))
        parts = apportion(w, total)
        quota = w / w.sum() * total
        assert parts.sum() == total
        assert np.all(parts >= np.floor(quota) - 1e-9)
        assert np.all(parts <= np.ceil(quota) + 1e-9)


def test_apportion_known_answer() -> None:
    # Hamilton's method: quotas 4.2, 3.5, 2.3 -> floors 4, 3, 2 and the last seat to 3.5.
    assert apportion(np.array([42.0, 35.0, 23.0]), 10).tolist() == [4, 4, 2]


def test_split_dc_ac_exact_total() -> None:
    piles = np.array([13, 13, 7, 1, 40, 2])
    dc, ac = split_dc_ac(piles, 35)
    assert dc.sum() == 35
    assert np.all(dc + ac == piles)
    assert np.all((dc >= 0) & (ac >= 0))


def test_aggregate_demand_conserves_region_totals() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 200_000, 2_000), rng.uniform(0, 200_000, 2_000)
    w = rng.exponential(1.0, 2_000)
    w[:100] = 0.0
    region = np.where(x < 100_000, "AA", "BB").astype(object)
    agg = aggregate_demand(x, y, w, region, cell_m=3_000.0, max_points=50)
    assert agg.weight.size <= 50
    assert agg.cell_m >= 3_000.0
    for code in ("AA", "BB"):
        assert agg.weight[agg.region == code].sum() == pytest.approx(w[region == code].sum())
    members = np.flatnonzero(w > 0)
    cell = agg.member_cell[members]
    assert (agg.member_cell[:100] == -1).all()
    assert (agg.region[cell] == region[members]).all()
    dist = np.hypot(x[members] - agg.x_m[cell], y[members] - agg.y_m[cell])
    assert dist.max() <= agg.cell_m * math.sqrt(2) + 1e-6
    same = aggregate_demand(x, y, w, region, cell_m=3_000.0, max_points=5_000)
    assert same.cell_m == 0.0 and same.weight.size == 1_900


def test_site_swap_stations_known_answer() -> None:
    # Three demand cells 10 km apart with 500, 100 and 50 swaps/day; candidates on them.
    xy = np.array([[0.0, 0.0], [10_000.0, 0.0], [20_000.0, 0.0]])
    w = np.array([500.0, 100.0, 50.0])
    opts = {
        "capacity": 408.0,
        "radius_m": 1_000.0,
        "min_share": 0.95,
        "max_sites": 10,
        "method": "auto",
        "time_limit_s": None,
        "seed": 0,
    }
    one_each = site_swap_stations(xy, w, xy, **opts)  # type: ignore[arg-type]
    assert sorted(one_each.selected.tolist()) == [0, 1, 2]
    assert one_each.model == "max_coverage"  # 95 % needs two stations on the first cell
    assert one_each.served.tolist() == pytest.approx([408.0, 100.0, 50.0])
    assert one_each.unmet.sum() == pytest.approx(92.0)
    assert (one_each.load <= 408.0 + 1e-9).all()
    two = site_swap_stations(xy, w, xy, copies=np.array([2, 1, 1]), **opts)  # type: ignore[arg-type]
    assert two.model == "set_cover"
    assert sorted(two.selected.tolist())[:2] == [0, 0]
    assert two.served.sum() >= 0.95 * 650.0 - 1e-6
    assert two.load.sum() + two.unmet.sum() == pytest.approx(650.0)


# --- the plan on a synthetic national ground ----------------------------------------------------


def test_sites_have_all_columns_and_kinds(plan: Plan) -> None:
    sites = plan.sites
    for col in (
        *SITE_COLUMNS,
        "dc_piles",
        "ac_piles",
        "capacity_swaps_day",
        "assigned_swaps_day",
        "capex_cny",
    ):
        assert col in sites.columns, col
    assert set(sites["kind"]) == {"pile_station", "service_area", "swap_station"}
    assert sites["site_id"].is_unique
    assert (sites["dc_piles"] == sites["dc_ports"]).all()
    assert (sites["ac_piles"] == sites["ac_ports"]).all()
    assert (sites["ports"] == sites["dc_ports"] + sites["ac_ports"]).all()
    non_swap = sites["kind"] != "swap_station"
    assert (sites.loc[non_swap, "capacity_swaps_day"] == 0).all()
    assert (sites.loc[non_swap, "assigned_swaps_day"] == 0).all()
    assert (sites.loc[~non_swap, "ports"] == 0).all()


def test_pile_total_and_dc_share(plan: Plan, ground: Ground) -> None:
    params = ChinaPileSwapParams()
    nevs = float(ground.regions["ev_stock"].sum())
    piles = plan.sites.loc[plan.sites["kind"] != "swap_station"]
    total = int(piles["ports"].sum())
    assert total == round(nevs / params.nev_per_public_pile)
    share = piles["dc_piles"].sum() / total
    assert abs(share - params.dc_share) <= 0.01
    assert plan.summary["dc_share_actual"] == pytest.approx(share)


def test_piles_follow_region_nev_stock(plan: Plan, ground: Ground) -> None:
    stations = plan.sites[plan.sites["kind"] == "pile_station"]
    by_region = stations.groupby("state")["ports"].sum()
    urban = int(by_region.sum())
    stock = ground.regions.set_index("region")["ev_stock"]
    for code in REGIONS:
        quota = stock[code] / stock.sum() * urban
        assert math.floor(quota) <= by_region[code] <= math.ceil(quota)


def test_pile_stations_size_and_power(plan: Plan) -> None:
    stations = plan.sites[plan.sites["kind"] == "pile_station"]
    assert (stations["ports"] >= 1).all()
    params = ChinaPileSwapParams()
    expected = np.where(stations["dc_piles"] > 0, params.dc_power_kw, params.ac_power_kw)
    assert np.array_equal(stations["power_kw"].to_numpy(), expected)
    # 135,484 piles on 900 points: one station per weighted point at most, never two on a point.
    assert len(stations) <= 900
    assert stations.groupby("state")["node_idx"].apply(lambda s: s.is_unique).all()


def test_pile_stations_cluster_to_piles_per_station(ground: Ground) -> None:
    plan = run(ground, ChinaPileSwapParams(target_piles=3_000, max_swap_stations=0), seed=0)
    stations = plan.sites[plan.sites["kind"] == "pile_station"]
    for code, piles in stations.groupby("state")["ports"]:
        wanted = math.ceil(piles.sum() / 13)
        assert 0.8 * wanted <= len(piles) <= wanted, code
    assert stations["node_idx"].is_unique
    # every station stands on a demand point of its own region
    d = ground.demand
    region_of_node = dict(zip(d.node_idx.tolist(), d.region.tolist(), strict=True))
    pairs = zip(stations["node_idx"], stations["state"], strict=True)
    assert all(region_of_node[n] == r for n, r in pairs)


def test_service_area_spacing_recomputed(plan: Plan, ground: Ground) -> None:
    params = ChinaPileSwapParams()
    limit_m = params.service_area_spacing_km * 1000.0
    sa = plan.sites[plan.sites["kind"] == "service_area"]
    for c in ground.corridors:
        pos_of = dict(zip(c.node_idx.tolist(), c.chainage_m.tolist(), strict=True))
        mine = sa[sa["corridor"] == c.corridor_id]
        chain = np.sort([pos_of[int(n)] for n in mine["node_idx"]])
        gaps = np.diff(np.r_[0.0, chain, c.length_m])
        assert gaps.max() <= limit_m + 1e-6
        # not wasteful: at most one station more than the ceiling of length / spacing
        assert len(chain) <= math.ceil(c.length_m / limit_m) + 1
        row = plan.corridors.set_index("corridor").loc[c.corridor_id]
        inner = np.diff(chain)
        assert row["max_gap_km"] == pytest.approx(inner.max() / 1000.0)
        assert row["max_gap_mi"] == pytest.approx(inner.max() / 1609.344)
        assert bool(row["compliant"])
        assert row["stations"] == len(chain)
    assert (sa["dc_piles"] >= params.service_area_min_dc_piles).all()
    assert (sa["ac_piles"] == 0).all()


def test_service_areas_sized_by_flow(ground: Ground) -> None:
    busy = run(
        ground, ChinaPileSwapParams(service_area_stop_share=0.5, max_swap_stations=0), seed=0
    ).sites
    sa = busy[busy["kind"] == "service_area"]
    g1 = sa.loc[sa["corridor"] == "G1", "dc_piles"]
    g2 = sa.loc[sa["corridor"] == "G2", "dc_piles"]
    # 30,000 veh/day x 0.1201 x 0.5 x 0.1 = 180 arrivals/h x 0.5 h = 90 Erlangs: > 90 piles.
    assert g1.min() > 90
    assert g1.min() > g2.max()


def test_swap_capacity_and_balance(plan: Plan) -> None:
    params = ChinaPileSwapParams()
    swaps = plan.sites[plan.sites["kind"] == "swap_station"]
    assert len(swaps) > 0
    assert (swaps["assigned_swaps_day"] <= swaps["capacity_swaps_day"] + 1e-6).all()
    assert (swaps["assigned_swaps_day"] >= 0).all()
    s = plan.summary
    assert s["swap_capacity_day"] == pytest.approx(len(swaps) * params.swaps_per_day)
    assert s["assigned_swaps_day"] == pytest.approx(swaps["assigned_swaps_day"].sum())
    assert s["assigned_swaps_day"] + s["unmet_swaps_day"] == pytest.approx(s["swap_demand_day"])
    assert s["unmet_swaps_day"] >= 0


def test_urban_swap_demand_formula(plan: Plan, ground: Ground) -> None:
    p = ChinaPileSwapParams()
    want = (
        ground.regions["ev_stock"].sum()
        * p.swap_capable_share
        * p.daily_distance_km
        / p.range_per_pack_km
    )
    assert plan.summary["swap_demand_urban_day"] == pytest.approx(want)
    regions = plan.regions.set_index("region")
    assert regions["urban_swap_demand_day"].sum() == pytest.approx(want)
    urban = plan.sites[(plan.sites["kind"] == "swap_station") & (plan.sites["corridor"] == "")]
    served = urban["assigned_swaps_day"].sum()
    assert served + regions["urban_unmet_swaps_day"].sum() == pytest.approx(want)


def test_swap_stations_within_radius_of_their_load(ground: Ground) -> None:
    """With a tiny radius only co-located demand can be served: unmet grows, never hidden."""
    small = run(ground, dataclasses.replace(FAST, swap_radius_km=0.05, max_swap_stations=5), seed=0)
    s = small.summary
    assert s["swap_stations_urban"] <= 5
    assert s["assigned_swaps_day"] + s["unmet_swaps_day"] == pytest.approx(s["swap_demand_day"])
    assert s["unmet_swaps_day"] > 0


def test_expressway_swaps_on_busiest_corridor_only(ground: Ground) -> None:
    # no utilisation minimum here: this checks where the stations go, not whether they pay
    one = run(
        ground,
        ChinaPileSwapParams(
            expressway_swap_top_corridors=1, max_swap_stations=0, swap_min_swaps_per_day=0.0
        ),
        seed=0,
    )
    ex = one.sites[(one.sites["kind"] == "swap_station") & (one.sites["corridor"] != "")]
    assert set(ex["corridor"]) == {"G1"}  # 30,000 veh/day beats 9,000
    c = ground.corridors[0]
    pos_of = dict(zip(c.node_idx.tolist(), c.chainage_m.tolist(), strict=True))
    chain = np.sort([pos_of[int(n)] for n in ex["node_idx"]])
    assert np.diff(np.r_[0.0, chain, c.length_m]).max() <= 100_000.0 + 1e-6
    # every expressway swap station stands at a service area of its corridor
    sa = one.sites[one.sites["kind"] == "service_area"]
    assert set(ex["node_idx"]) <= set(sa.loc[sa["corridor"] == "G1", "node_idx"])
    none = run(
        ground, ChinaPileSwapParams(expressway_swap_top_corridors=0, max_swap_stations=0), seed=0
    )
    assert none.summary["swap_stations_expressway"] == 0


def test_capex_recomputed(plan: Plan) -> None:
    p = ChinaPileSwapParams()
    s = plan.sites
    swap = (s["kind"] == "swap_station").to_numpy()
    piles = (s["dc_piles"] * p.dc_pile_capex_cny + s["ac_piles"] * p.ac_pile_capex_cny).to_numpy()
    want = np.where(swap, p.swap_station_capex_cny, piles)
    assert np.allclose(s["capex_cny"], want)
    assert np.allclose(s["capex_usd"], s["capex_cny"] * p.usd_per_cny)
    assert plan.summary["capex_cny"] == pytest.approx(float(want.sum()))
    assert plan.summary["capex_usd"] == pytest.approx(float(want.sum()) * p.usd_per_cny)
    assert plan.regions["capex_cny"].sum() == pytest.approx(float(want.sum()))


def test_region_table_adds_up(plan: Plan) -> None:
    r = plan.regions
    s = plan.sites
    assert list(r["region"]) == list(REGIONS)
    assert r["piles"].sum() == s["ports"].sum()
    assert r["dc_piles"].sum() == s["dc_piles"].sum()
    assert r["pile_stations"].sum() == (s["kind"] == "pile_station").sum()
    assert r["swap_stations"].sum() == (s["kind"] == "swap_station").sum()
    assert r["nevs"].sum() == pytest.approx(1_260_000.0)


def test_summary_names_parameters(plan: Plan) -> None:
    s = plan.summary
    assert s["service_area_spacing_km"] == 50.0
    assert s["params"] == dataclasses.asdict(FAST)
    for key in (
        "piles_by_kind",
        "pile_stations",
        "service_areas",
        "swap_stations",
        "swap_capacity_day",
        "swap_demand_day",
        "unmet_swaps_day",
        "capex_cny",
        "capex_usd",
    ):
        assert key in s


def test_same_seed_same_plan(plan: Plan, ground: Ground) -> None:
    again = run(ground, FAST, seed=0)
    pd.testing.assert_frame_equal(plan.sites, again.sites)
    pd.testing.assert_frame_equal(plan.regions, again.regions)
    assert plan.summary["load_dependent"] is False  # no wall-clock limit anywhere


def test_target_piles_overrides_ratio(ground: Ground) -> None:
    p = run(
        ground, ChinaPileSwapParams(target_piles=5_000, dc_share=0.3, max_swap_stations=0), seed=0
    )
    piles = p.sites[p.sites["kind"] != "swap_station"]
    assert piles["ports"].sum() == 5_000
    assert piles["dc_piles"].sum() == round(0.3 * 5_000)


def test_city_scale_scales_region_stock(ground: Ground) -> None:
    # A city ground inside region BB: NEVs = 900,000 x 450,000 / 9,000,000 = 45,000.
    city = make_ground(scale="city", n_points=300, meta={"population": 450_000.0})
    bb_only = dataclasses.replace(
        city,
        demand=dataclasses.replace(city.demand, region=np.full(300, "BB", dtype=object)),
        regions=city.regions[city.regions["region"] == "BB"].reset_index(drop=True),
    )
    plan = run(bb_only, FAST, seed=0)
    assert plan.summary["nevs"] == pytest.approx(45_000.0)
    assert plan.summary["area_population"] == 450_000.0
    assert plan.summary["piles"] == round(45_000 / 9.3)
    # city swap stations stand on ground candidates
    urban = plan.sites[(plan.sites["kind"] == "swap_station") & (plan.sites["corridor"] == "")]
    assert set(urban["node_idx"]) <= set(bb_only.candidates.node_idx.tolist())


def test_runs_on_a_us_ground() -> None:
    us = make_ground(country="us", n_points=300)
    plan = run(us, FAST, seed=0)
    assert plan.summary["country"] == "us"
    assert plan.summary["piles"] == round(1_260_000 / 9.3)


def test_registered_spec() -> None:
    from planner.strategies import get_strategy

    assert get_strategy("china-pile-swap") is SPEC
    assert SPEC.params_type is ChinaPileSwapParams
    assert SPEC.has_cost_model


# --- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("nev_per_public_pile", -9.3),
        ("nev_per_public_pile", 0.0),
        ("dc_share", 1.2),
        ("dc_share", -0.1),
        ("swaps_per_day", 0.0),
        ("swaps_per_day", -408.0),
        ("swap_capable_share", 1.5),
        ("swap_capable_share", -0.01),
        ("piles_per_station", 0),
        ("service_area_spacing_km", 0.0),
        ("target_piles", -1),
        ("daily_distance_km", 1e12),
        ("target_piles", 10**12),
    ],
)
def test_bad_params_raise_naming_the_key(key: str, value: float) -> None:
    with pytest.raises(InputError, match=key):
        ChinaPileSwapParams(**{key: value})  # type: ignore[arg-type]


def test_unknown_or_mistyped_scenario_keys() -> None:
    with pytest.raises(InputError, match="dc_shar"):
        params_from_mapping(ChinaPileSwapParams, {"dc_shar": 0.5})
    with pytest.raises(InputError, match="swaps_per_day"):
        params_from_mapping(ChinaPileSwapParams, {"swaps_per_day": "many"})
    with pytest.raises(InputError, match="dc_share"):
        params_from_mapping(ChinaPileSwapParams, {"dc_share": 2})


def test_default_scenario_file_equals_defaults() -> None:
    mapping = load_scenario(data_path("scenarios/china_pile_swap.toml"))
    assert params_from_mapping(ChinaPileSwapParams, mapping) == ChinaPileSwapParams()
    # both default to None, which TOML cannot write
    assert set(mapping) == {f.name for f in dataclasses.fields(ChinaPileSwapParams)} - {
        "target_piles",
        "swap_time_limit_s",
    }


def test_defaults_equal_cited_facts() -> None:
    facts_mod = pytest.importorskip("planner.io.facts", reason="planner.io.facts not available yet")
    facts = facts_mod.load_policy_facts()
    p = ChinaPileSwapParams()
    pairs = {
        "cn_nev_per_public_pile": p.nev_per_public_pile,
        "cn_public_dc_share": p.dc_share,
        "cn_swap_station_swaps_per_day": p.swaps_per_day,
        "cn_swap_station_breakeven_swaps_per_day": p.swap_min_swaps_per_day,
        "cn_swap_station_capex_cny": p.swap_station_capex_cny,
        "cn_dc_pile_capex_cny": p.dc_pile_capex_cny,
        "cn_ac_pile_capex_cny": p.ac_pile_capex_cny,
        "cn_service_area_spacing_km": p.service_area_spacing_km,
        "cn_ldv_daily_km": p.daily_distance_km,
        "cn_swap_stations": p.max_swap_stations,
        "usd_per_cny": p.usd_per_cny,
    }
    for key, value in pairs.items():
        assert facts[key].value == pytest.approx(value, rel=1e-9), key
    # the swap-capable share is derived from two facts: NIO group deliveries / NEV stock
    share = facts["cn_nio_cumulative_deliveries"].value / facts["cn_nev_stock"].value
    assert p.swap_capable_share == pytest.approx(share, abs=5e-5)
