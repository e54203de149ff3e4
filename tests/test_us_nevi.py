"""Tests of the us-nevi strategy on small synthetic grounds built here."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from planner.core.errors import InputError
from planner.ground.candidates import Candidates
from planner.ground.demand import DemandPoints
from planner.ground.model import Corridor, ExistingStations, Ground
from planner.io.scenario import load_scenario, params_from_mapping
from planner.strategies.base import SITE_COLUMNS, Plan, StrategySpec
from planner.strategies.us_nevi import (
    KINDS,
    SPEC,
    UsNeviParams,
    apportion,
    community_sites_for_region,
    run,
    target_ports_for,
)

MI = 1609.344
M_PER_DEG = 6_371_008.8 * np.pi / 180  # lon/lat of the synthetic ground: metres / this, near 0N 0E
ROOT = Path(__file__).resolve().parent.parent
EV_STOCK = {"AA": 1_000.0, "BB": 3_000.0, "CC": 6_000.0}


def _line(x0: float, y0: float, x1: float, y1: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, 1.0, n)
    return x0 + t * (x1 - x0), y0 + t * (y1 - y0)


def make_ground(
    *,
    seed: int = 0,
    n_demand: int = 600,
    scale: str = "national",
    country: str = "us",
    hole: bool = False,
    existing: ExistingStations | None = None,
    regions: pd.DataFrame | None = None,
) -> Ground:
    """Three straight corridors: A (300 mi, west-east), B (200 mi, south-north) crossing A at its
    125-mile node, C (40 mi spur) starting at the same junction; demand points in three regions
    (AA, BB, CC by x) as isolated nodes after the corridor nodes."""
    rng = np.random.default_rng(seed)
    ax, ay = _line(0, 0, 300 * MI, 0, 301)  # a node every mile
    if hole:  # drop A's nodes between miles 160 and 230: a 70-mile hole
        keep = (ax <= 160 * MI) | (ax >= 230 * MI)
        ax, ay = ax[keep], ay[keep]
    bx, by = _line(125 * MI, -100 * MI, 125 * MI, 100 * MI, 201)
    cx, cy = _line(125 * MI, 0, 165 * MI, 0 * MI + 1.0, 41)
    node_x, node_y = [*ax], [*ay]
    a_idx = np.arange(ax.size)
    junction = int(np.argmin(np.abs(ax - 125 * MI)))
    b_idx = []
    for x, y in zip(bx, by, strict=True):
        if abs(y) < 1e-6:
            b_idx.append(junction)
            continue
        node_x.append(x)
        node_y.append(y)
        b_idx.append(len(node_x) - 1)
    c_idx = [junction]
    for x, y in zip(cx[1:], cy[1:], strict=True):
        node_x.append(x)
        node_y.append(y)
        c_idx.append(len(node_x) - 1)
    n_c = len(node_x)
    corridors = []
    for cid, path in (("A", a_idx), ("B", np.array(b_idx)), ("C", np.array(c_idx))):
        px, py = np.asarray(node_x)[path], np.asarray(node_y)[path]
        chain = np.r_[0.0, np.cumsum(np.hypot(np.diff(px), np.diff(py)))]
        flow = rng.uniform(5_000, 60_000, size=path.size - 1)
        corridors.append(Corridor(cid, np.asarray(path, dtype=np.int64), chain, flow, 480.0, "t"))
    dx = rng.uniform(0, 300 * MI, n_demand)
    dy = rng.uniform(-100 * MI, 100 * MI, n_demand)
    region = np.array(["AA", "BB", "CC"], dtype=object)[
        np.minimum((dx / (100 * MI)).astype(int), 2)
    ]
    demand_w = rng.lognormal(5, 1.0, n_demand)
    nx, ny = np.r_[node_x, dx], np.r_[node_y, dy]
    d_nodes = np.arange(n_c, n_c + n_demand)
    demand = DemandPoints(
        d_nodes,
        dx,
        dy,
        dx / M_PER_DEG,
        dy / M_PER_DEG,
        demand_w,
        region,
        {"population": demand_w},
        "persons",
    )
    if regions is None:
        regions = pd.DataFrame(
            {
                "region": list(EV_STOCK),
                "name": ["Aland", "Bland", "Cland"],
                "population": [1e6, 2e6, 3e6],
                "ev_stock": list(EV_STOCK.values()),
                "ev_source": "test",
                "ev_fallback": False,
            }
        )
    return Ground(
        name="synthetic",
        scale=scale,  # type: ignore[arg-type]
        country=country,  # type: ignore[arg-type]
        crs="EPSG:5070",
        node_x_m=nx,
        node_y_m=ny,
        node_lon=nx / M_PER_DEG,
        node_lat=ny / M_PER_DEG,
        length_m=sp.csr_array((nx.size, nx.size)),
        demand=demand,
        candidates=Candidates(d_nodes, dx, dy, np.array(["cell"] * n_demand, dtype=object)),
        corridors=tuple(corridors),
        regions=regions,
        existing=existing,
        meta={"population": 660_000.0},
    )


@pytest.fixture(scope="module")
def ground() -> Ground:
    return make_ground()


@pytest.fixture(scope="module")
def plan(ground: Ground) -> Plan:
    return run(ground, UsNeviParams(target_ports=3_000), seed=0)


def _station_chainage(ground: Ground, sites: pd.DataFrame, cor: Corridor) -> np.ndarray:
    """Chainage of the corridor stations on ``cor``, recomputed from the sites' nodes."""
    nodes = sites.loc[sites["kind"] == "corridor_dc", "node_idx"].to_numpy()
    return np.sort(np.asarray(cor.chainage_m)[np.isin(cor.node_idx, nodes)])


def test_total_ports_equal_target(plan: Plan) -> None:
    assert int(plan.sites["ports"].sum()) == 3_000
    assert plan.summary["ports_total"] == 3_000
    assert plan.summary["target_ports"] == 3_000


def test_corridor_gaps_recomputed_from_sites(ground: Ground, plan: Plan) -> None:
    for cor in ground.corridors:
        s = _station_chainage(ground, plan.sites, cor)
        assert s.size >= 1
        assert np.all(np.diff(s) <= 50 * MI + 1e-6), cor.corridor_id
        assert s[0] - cor.chainage_m[0] <= 25 * MI + 1e-6
        assert cor.chainage_m[-1] - s[-1] <= 25 * MI + 1e-6
        row = plan.corridors.set_index("corridor").loc[cor.corridor_id]
        inner = float(np.diff(s).max()) / MI if s.size > 1 else 0.0
        assert row["max_gap_mi"] == pytest.approx(inner)
        assert bool(row["compliant"]) and row["stations"] == s.size
        assert row["official_length_mi"] == pytest.approx(480_000 / MI)
    assert plan.summary["corridors_compliant"] == 3
    assert plan.summary["max_gap_mi"] <= 50.0 + 1e-9


def test_corridor_station_count_is_minimal_on_the_trunk(ground: Ground, plan: Plan) -> None:
    # A is 300 mi: k stations cover at most 25 + 50 (k - 1) + 25 miles, so k >= 6.
    a = plan.corridors.set_index("corridor").loc["A"]
    assert a["stations"] == 6


def test_junction_station_serves_every_corridor(plan: Plan) -> None:
    # A station on a shared node is one site that lists every corridor through it ("A;B").
    table = plan.corridors.set_index("corridor")
    dc = plan.sites[plan.sites["kind"] == "corridor_dc"]
    assert dc["node_idx"].is_unique
    shared = dc["corridor"].str.contains(";")
    assert int(table["stations_placed"].sum()) == int((~shared).sum())
    listed = dc["corridor"].str.split(";").explode().value_counts()
    for cid, row in table.iterrows():
        assert (
            row["stations"] == listed.get(cid, 0) == row["stations_placed"] + row["stations_shared"]
        )
    assert plan.summary["corridor_stations"] == len(dc)


def test_embedded_us_interstates_are_all_compliant_at_exits() -> None:
    from planner.ground.corridors import load_corridor_network
    from planner.ground.spacing import route_spacing
    from planner.strategies._exits import place_at_exits

    net = load_corridor_network("us")
    corridors = [
        Corridor(r.route_id, r.node_idx, r.chainage_m, np.zeros(len(r.node_idx) - 1))
        for r in net.routes
    ]
    placed = place_at_exits(
        corridors,
        candidate=net.exits(),
        weight=np.zeros(net.n_nodes),
        max_gap_m=50 * MI,
        max_end_gap_m=25 * MI,
    )
    assert net.exits()[placed.nodes].all()
    reports = route_spacing(corridors, placed.nodes, max_gap_m=50 * MI, max_end_gap_m=25 * MI)
    assert all(r.compliant for r in reports)
    assert placed.nodes.size == placed.lower_bound  # proven minimal
    lengths_mi = np.array([c.length_m for c in corridors]) / MI
    # each corridor alone needs >= ceil(L / 50); sharing junctions can only save a few
    assert lengths_mi.sum() / 50 <= placed.nodes.size <= np.ceil(lengths_mi / 50).sum() * 1.1


def test_corridor_stations_meet_nevi_minimum(plan: Plan) -> None:
    dc = plan.sites[plan.sites["kind"] == "corridor_dc"]
    assert (dc["dc_ports"] >= 4).all() and (dc["power_kw"] >= 150).all()
    assert (dc["ac_ports"] == 0).all() and (dc["corridor"] != "").all()
    assert dc["site_id"].str.match(r"^US-DC-\d{4}$").all()


def test_corridor_ports_follow_erlang_c(ground: Ground, plan: Plan) -> None:
    from planner.strategies._sizing import ports_for_load

    p = UsNeviParams()
    dc = plan.sites[plan.sites["kind"] == "corridor_dc"]
    share = p.ev_share_of_traffic * p.stop_share * p.peak_hour_factor
    for flow, ports in zip(dc["flow_veh_day"].tolist(), dc["dc_ports"].tolist(), strict=True):
        want = ports_for_load(
            float(flow) * share, session_h=22 / (150 * 0.5), target_wait_min=5.0, min_ports=4
        )
        assert ports == want


def test_regional_allocation_proportional_to_ev_stock(plan: Plan) -> None:
    regions = plan.regions.set_index("region")
    pool = 3_000 - plan.summary["ports_by_kind"]["corridor_dc"]
    total_ev = sum(EV_STOCK.values())
    for code, ev in EV_STOCK.items():
        assert abs(regions.loc[code, "ports_allocated"] - pool * ev / total_ev) < 1.0
    community = plan.sites[plan.sites["kind"].str.startswith("community")]
    by_state = community.groupby("state")["ports"].sum()
    assert (by_state == regions["ports_allocated"].reindex(by_state.index)).all()
    assert int(regions["ports_allocated"].sum()) == pool
    # DC share of the community ports is the NREL 2030 ratio, within rounding per region
    dc = community.groupby("state")["dc_ports"].sum()
    assert np.all(np.abs(dc - regions["ports_allocated"] * 0.153976) <= 0.5 + 1e-9)


def test_sites_table_contract(plan: Plan) -> None:
    sites = plan.sites
    assert set(SITE_COLUMNS) <= set(sites.columns)
    assert sites["site_id"].is_unique
    assert set(sites["kind"]) <= set(KINDS)
    assert (sites["ports"] == sites["dc_ports"] + sites["ac_ports"]).all()
    assert (sites["ports"] >= 1).all()
    assert set(sites["state"]) <= set(EV_STOCK)
    l2 = sites[sites["kind"] == "community_l2"]
    assert (l2["power_kw"] == 7.2).all() and (l2["dc_ports"] == 0).all()
    capex = sites["dc_ports"] * 195_000.0 + sites["ac_ports"] * 8_000.0
    assert np.allclose(sites["capex_usd"], capex)
    assert plan.summary["capex_usd_total"] == pytest.approx(float(capex.sum()))
    assert {
        "region",
        "name",
        "ev_stock",
        "ev_fallback",
        "ports_l2",
        "ports_dc",
        "ports_corridor_dc",
        "sites",
        "capex_usd",
    } <= set(plan.regions.columns)


def test_community_sites_near_ports_per_site(plan: Plan) -> None:
    for kind, per_site in (("community_l2", 8), ("community_dc", 4)):
        sub = plan.sites[plan.sites["kind"] == kind]
        for _, group in sub.groupby("state"):
            wanted = math.ceil(group["ports"].sum() / per_site)
            assert 0.8 * wanted <= len(group) <= wanted  # clusters snapping to one node merge


def test_summary_is_json_and_has_comparisons(plan: Plan, tmp_path: Path) -> None:
    from planner.io._atomic import write_json_atomic

    s = plan.summary
    path = write_json_atomic(tmp_path / "summary.json", s)
    back = json.loads(path.read_text())
    assert back["strategy"] == "us-nevi" and back["params"]["spacing_mi"] == 50.0
    length = plan.corridors["length_mi"].sum()
    assert s["stations_by_spacing_arithmetic"] == pytest.approx(length / 50.0)
    assert s["nrel_2017"]["stations"] == 400 and s["nrel_2017"]["interstate_mi"] == 28_530
    assert sum(s["ports_by_kind"].values()) == 3_000
    assert set(s["timings_s"]) == {"corridor_s", "community_s", "total_s"}


def test_same_seed_same_plan(ground: Ground, plan: Plan) -> None:
    again = run(ground, UsNeviParams(target_ports=3_000), seed=0)
    pd.testing.assert_frame_equal(again.sites, plan.sites)


def test_hole_is_reported_not_hidden() -> None:
    g = make_ground(hole=True)
    p = run(g, UsNeviParams(target_ports=2_000))
    a = p.corridors.set_index("corridor").loc["A"]
    assert not a["compliant"]
    assert a["max_gap_mi"] == pytest.approx(70.0, abs=1e-6)
    assert p.summary["corridors_compliant"] == 2


def test_city_target_is_population_share() -> None:
    p = UsNeviParams()
    us = make_ground(scale="city")
    assert target_ports_for(us, p) == (round(500_000 * 660_000 / 331_449_281), "population share")
    cn = make_ground(scale="city", country="cn")
    assert target_ports_for(cn, p)[0] == round(500_000 * 660_000 / 1_411_778_724)
    assert target_ports_for(make_ground(), p) == (500_000, "national target")
    assert target_ports_for(us, UsNeviParams(target_ports=77))[0] == 77
    plan = run(us, p)
    assert plan.summary["ports_total"] == round(500_000 * 660_000 / 331_449_281)


def test_city_without_population_is_refused() -> None:
    g = make_ground(scale="city")
    g = dataclasses.replace(g, meta={}, demand=dataclasses.replace(g.demand, components={}))
    with pytest.raises(InputError, match=r"ground.meta\['population'\]"):
        run(g, UsNeviParams())


def test_existing_ports_subtracted_per_region() -> None:
    regions = make_ground().regions.assign(existing_public_ports=[50, np.nan, 200])
    g = make_ground(regions=regions)
    plan = run(g, UsNeviParams(target_ports=3_000, subtract_existing=True))
    r = plan.regions.set_index("region")
    assert list(r["existing_ports"]) == [50, 0, 200]
    new = r["ports_l2"] + r["ports_dc"]
    assert (new == r["ports_allocated"] - r["existing_ports"]).all()
    assert plan.summary["ports_existing_counted"] == 250
    assert plan.summary["ports_total"] == 3_000
    assert int(plan.sites["ports"].sum()) == 2_750


def test_subtract_existing_without_any_count_is_refused(ground: Ground) -> None:
    with pytest.raises(InputError, match="subtract_existing"):
        run(ground, UsNeviParams(target_ports=3_000, subtract_existing=True))


def test_existing_corridor_station_counts_when_close() -> None:
    base = make_ground()
    x = np.array([25 * MI + 100.0, 80 * MI])  # 100 m from node 25; 5 mi north of node 80
    y = np.array([0.0, 5 * MI])
    node = np.array([25, 80])
    ex = ExistingStations(
        name=np.array(["near", "far"], dtype=object),
        lon=x / M_PER_DEG,
        lat=y / M_PER_DEG,
        node_idx=node,
        dc_ports=np.array([6, 6]),
        ac_ports=np.array([0, 2]),
        region=np.array(["AA", "AA"], dtype=object),
    )
    g = make_ground(existing=ex)
    with_ex = run(g, UsNeviParams(target_ports=3_000, count_existing_dc=True))
    without = run(base, UsNeviParams(target_ports=3_000))
    sites = with_ex.sites
    existing = sites[sites["existing"]]
    assert list(existing["name"]) == ["near"] and existing["corridor"].iloc[0] == "A"
    assert with_ex.summary["ports_existing_counted"] == 6
    assert with_ex.summary["ports_total"] == 3_000
    new_dc = (sites["kind"] == "corridor_dc").sum()
    assert new_dc <= (without.sites["kind"] == "corridor_dc").sum()
    assert 25 not in set(sites.loc[sites["kind"] == "corridor_dc", "node_idx"])
    assert bool(with_ex.corridors["compliant"].all())


def test_ground_without_regions_is_one_region() -> None:
    g = make_ground(regions=make_ground().regions.iloc[:0])
    plan = run(g, UsNeviParams(target_ports=500))
    assert list(plan.regions["region"]) == [""]
    assert int(plan.sites["ports"].sum()) == 500


def test_more_sites_than_demand_nodes_share_nodes() -> None:
    g = make_ground(n_demand=20)
    nodes, ports, served = community_sites_for_region(
        g, np.arange(20), 400, ports_per_site=8, seed=0, max_iter=10
    )
    assert nodes.size == 50 and int(ports.sum()) == 400
    assert set(nodes) == set(g.demand.node_idx)
    assert served.sum() == pytest.approx(g.demand.demand.sum())


def test_many_clusters_take_two_levels() -> None:
    g = make_ground(n_demand=1_500, seed=3)
    nodes, ports, served = community_sites_for_region(
        g, np.arange(1_500), 3_200, ports_per_site=8, seed=0, max_iter=10
    )  # 400 sites > 300 clusters: coarse groups, then k-means inside each
    assert int(ports.sum()) == 3_200 and ports.min() >= 1
    assert 360 <= nodes.size <= 400 and np.unique(nodes).size == nodes.size
    assert served.sum() == pytest.approx(g.demand.demand.sum())
    assert set(nodes) <= set(g.demand.node_idx)


@pytest.mark.parametrize(
    ("weights", "total", "minimum", "expected"),
    [
        ([1, 1, 1], 10, 0, [4, 3, 3]),
        ([0.5, 0.25, 0.25], 7, 0, [3, 2, 2]),
        ([0, 0, 0], 5, 0, [2, 2, 1]),
        ([10, 0, 0], 5, 1, [3, 1, 1]),
        ([], 0, 0, []),
    ],
)
def test_apportion_known_answers(
    weights: list[float], total: int, minimum: int, expected: list[int]
) -> None:
    assert apportion(total, np.asarray(weights, float), minimum=minimum).tolist() == expected


@pytest.mark.parametrize("seed", range(20))
def test_apportion_sums_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    w = rng.lognormal(0, 2, int(rng.integers(1, 60)))
    total = int(rng.integers(w.size, 10_000))
    out = apportion(total, w, minimum=1)
    assert int(out.sum()) == total and out.min() >= 1
    assert np.all(np.abs(out - (1 + (total - w.size) * w / w.sum())) < 1.0)


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"target_ports": 0}, "target_ports"),
        ({"target_ports": -5}, "target_ports"),
        ({"spacing_mi": 0}, "spacing_mi"),
        ({"spacing_mi": -50.0}, "spacing_mi"),
        ({"dc_share": 1.5}, "dc_share"),
        ({"stop_share": -0.1}, "stop_share"),
        ({"min_dc_ports": 0}, "min_dc_ports"),
        ({"charge_efficiency": 0.0}, "charge_efficiency"),
        ({"spacing_miles": 50}, "spacing_miles"),
        ({"spacing_mi": "fifty"}, "spacing_mi"),
        ({"target_ports": 1.5}, "target_ports"),
        ({"subtract_existing": "yes"}, "subtract_existing"),
    ],
)
def test_bad_params_name_the_key(mapping: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        params_from_mapping(UsNeviParams, mapping)


def test_bad_params_in_constructor() -> None:
    with pytest.raises(InputError, match="l2_ports_per_site"):
        UsNeviParams(l2_ports_per_site=True)
    with pytest.raises(InputError, match="params: expected UsNeviParams"):
        run(make_ground(), {"spacing_mi": 50})  # type: ignore[arg-type]


def test_scenario_file_equals_defaults() -> None:
    mapping = load_scenario(ROOT / "data" / "scenarios" / "us_nevi.toml")
    assert params_from_mapping(UsNeviParams, mapping) == UsNeviParams()
    missing = {f.name for f in dataclasses.fields(UsNeviParams)} - set(mapping)
    assert missing == {"target_ports"}  # optional; commented out in the file


def test_defaults_equal_cited_facts() -> None:
    facts_module = pytest.importorskip(
        "planner.io.facts", reason="planner.io.facts not written yet"
    )
    facts = facts_module.load_policy_facts()
    p = UsNeviParams()
    pairs = {
        "nevi_spacing_mi": p.spacing_mi,
        "nevi_max_offset_mi": p.max_offset_mi,
        "nevi_min_ports": p.min_dc_ports,
        "nevi_min_power_kw": p.dc_power_kw,
        "us_target_ports": p.national_target_ports,
        "us_public_dc_share": p.dc_share,
        "us_l2_port_capex_usd": p.l2_port_capex_usd,
        "us_dc_port_capex_usd": p.dc_port_capex_usd,
        "us_dcfc_session_kwh": p.energy_per_stop_kwh,
    }
    for key, value in pairs.items():
        assert facts[key].value == pytest.approx(value), key
    dc, l2 = facts["nrel_2030_public_dc_ports"].value, facts["nrel_2030_public_l2_ports"].value
    assert p.dc_share == pytest.approx(dc / (dc + l2), abs=1e-6)


def test_registered_spec() -> None:
    assert isinstance(SPEC, StrategySpec)
    assert SPEC.name == "us-nevi" and SPEC.params_type is UsNeviParams and SPEC.has_cost_model
    from planner.strategies import get_strategy

    assert get_strategy("us-nevi") is SPEC


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True])
def test_seed_out_of_range_is_an_input_error(ground: Ground, seed: object) -> None:
    from planner.strategies import run_strategy

    with pytest.raises(InputError, match="seed: expected a whole number 0 to 4294967295"):
        run_strategy("us-nevi", ground, seed=seed)  # type: ignore[arg-type]


def test_absurd_port_target_is_an_input_error_not_an_allocation(ground: Ground) -> None:
    from planner.strategies import run_strategy

    with pytest.raises(InputError, match=r"sites, more than 1,000,000.*national_target_ports"):
        run_strategy("us-nevi", ground, {"national_target_ports": 10**9})
    with pytest.raises(InputError, match=r"'national_target_ports'.* at most 2,147,483,647"):
        run_strategy("us-nevi", ground, {"national_target_ports": 10**12})
