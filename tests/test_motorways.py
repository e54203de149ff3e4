"""Motorway corridor networks read from OSM PBF files (synthetic and real extracts)."""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from planner.core.errors import DataError, InputError
from planner.ground.corridors import CorridorNetwork
from planner.ground.motorways import corridor_network_from_pbf

LON0, LAT0 = -83.0, 40.0
M_PER_DEG_LAT = 111_132.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))


def _lonlat(east_m: float, north_m: float) -> tuple[float, float]:
    return LON0 + east_m / M_PER_DEG_LON, LAT0 + north_m / M_PER_DEG_LAT


def _write_pbf(path: Path, ways: list[tuple[dict[str, str], list[tuple[float, float]]]]) -> Path:
    """Write ways given as (tags, [(east_m, north_m), ...]) around (LON0, LAT0) to a PBF."""
    import osmium

    node_id = 1
    with osmium.SimpleWriter(str(path)) as writer:
        for way_id, (tags, points) in enumerate(ways, start=1):
            refs = []
            for east, north in points:
                writer.add_node(osmium.osm.mutable.Node(id=node_id, location=_lonlat(east, north)))
                refs.append(node_id)
                node_id += 1
            writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags))
    return path


def _check_routes(net: CorridorNetwork, max_edge_m: float) -> None:
    csr = net.length_m.tocsr()
    for r in net.routes:
        assert r.chainage_m[0] == 0.0
        assert (np.diff(r.chainage_m) > 0).all(), r.route_id
        edge = np.asarray(csr[r.node_idx[:-1], r.node_idx[1:]]).ravel()
        assert (edge > 0).all() and edge.max() <= max_edge_m + 1e-6, r.route_id


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> CorridorNetwork:
    """A 30 km dual carriageway (I 99) through the centre of a 10 km-radius ring (I 270)."""
    east = [(x, 15.0) for x in np.linspace(-15_000, 15_000, 61)]
    west = [(x, -15.0) for x in np.linspace(15_000, -15_000, 61)]
    theta = np.linspace(0, 2 * math.pi, 129)
    ring = [(10_000 * math.cos(t), 10_000 * math.sin(t)) for t in theta]
    ways = [
        ({"highway": "motorway", "ref": "I 99", "oneway": "yes"}, east),
        ({"highway": "motorway", "ref": "I 99", "oneway": "yes"}, west),
        ({"highway": "motorway", "ref": "I 270"}, ring[:65]),
        ({"highway": "motorway", "ref": "I 270"}, ring[64:]),
        ({"highway": "motorway"}, [(0.0, 20_000.0), (0.0, 30_000.0)]),  # no ref: dropped
        ({"highway": "trunk", "ref": "US 23"}, [(-20_000.0, -20_000.0), (-20_000.0, -40_000.0)]),
        ({"highway": "primary", "ref": "SR 3"}, [(20_000.0, 0.0), (30_000.0, 0.0)]),
    ]
    path = _write_pbf(tmp_path_factory.mktemp("osm") / "synthetic.osm.pbf", ways)
    return corridor_network_from_pbf(path, max_segment_km=5.0)


def test_routes_are_named_by_normalised_ref(synthetic: CorridorNetwork) -> None:
    assert {r.route_id for r in synthetic.routes} == {"I-99", "I-270", "US-23"}
    assert synthetic.country == "us" and synthetic.crs == "EPSG:5070"


def test_dual_carriageway_counts_once(synthetic: CorridorNetwork) -> None:
    assert synthetic.route("I-99").length_km == pytest.approx(30.0, rel=0.05)


def test_ring_road_is_closed(synthetic: CorridorNetwork) -> None:
    ring = synthetic.route("I-270")
    assert ring.node_idx[0] == ring.node_idx[-1]
    assert ring.length_km == pytest.approx(2 * math.pi * 10.0, rel=0.05)


def test_crossing_routes_share_junction_nodes(synthetic: CorridorNetwork) -> None:
    shared = set(synthetic.route("I-99").node_idx.tolist()) & set(
        synthetic.route("I-270").node_idx.tolist()
    )
    assert len(shared) == 2  # where the motorway crosses the ring, west and east
    xs = sorted(synthetic.node_x_m[list(shared)])
    assert xs[1] - xs[0] == pytest.approx(20_000.0, rel=0.1)


def test_edges_respect_max_segment_and_chainage_is_monotone(synthetic: CorridorNetwork) -> None:
    _check_routes(synthetic, 5_000.0)
    assert (
        synthetic.length_m.nnz % 2 == 0
        and abs(synthetic.length_m - synthetic.length_m.T).max() == 0
    )


def test_highway_selection(tmp_path: Path) -> None:
    path = _write_pbf(
        tmp_path / "two.osm.pbf",
        [
            ({"highway": "motorway", "ref": "I 1"}, [(0.0, 0.0), (5_000.0, 0.0)]),
            ({"highway": "trunk", "ref": "US 2"}, [(0.0, 3_000.0), (5_000.0, 3_000.0)]),
        ],
    )
    only = corridor_network_from_pbf(path, highway=("motorway",))
    assert [r.route_id for r in only.routes] == ["I-1"]


# ---- real extracts -----------------------------------------------------------------------------


def _data_box(path: Path) -> tuple[float, float, float, float]:
    import osmium

    lon, lat = [], []
    for node in osmium.FileProcessor(str(path), osmium.osm.NODE):
        assert isinstance(node, osmium.osm.Node)
        lon.append(node.location.lon)
        lat.append(node.location.lat)
    return min(lon), min(lat), max(lon), max(lat)


def test_columbus_interstates(shared_data: Path) -> None:
    path = shared_data / "osm" / "us_columbus_oh.osm.pbf"
    tracemalloc.start()
    net = corridor_network_from_pbf(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50e6  # Python-side memory stays small for a 0.5 MB extract
    ids = {r.route_id for r in net.routes}
    assert {"I-70", "I-71", "I-270", "I-670"} <= ids
    west, south, east, north = _data_box(path)
    assert net.node_lon.min() >= west and net.node_lon.max() <= east
    assert net.node_lat.min() >= south and net.node_lat.max() <= north
    diagonal_km = math.hypot((east - west) * 85.3, (north - south) * 111.0)
    for r in net.routes:
        assert 0 < r.length_km < 1.5 * diagonal_km, r.route_id
    # I-71 crosses the whole extract north-south (27.5 km tall): one piece, at least that long
    assert 27.0 <= net.route("I-71").length_km <= 1.3 * diagonal_km
    # the clipped extract holds only a piece of the 55-mile I-270 beltway
    assert net.route("I-270").length_km < 88.5
    _check_routes(net, 10_000.0)
    on_70 = set(net.route("I-70").node_idx.tolist())
    assert on_70 & set(net.route("I-71").node_idx.tolist())  # the I-70/I-71 concurrency


def test_bangor_interstates(shared_data: Path) -> None:
    net = corridor_network_from_pbf(shared_data / "osm" / "us_bangor_me.osm.pbf", country="us")
    ids = {r.route_id for r in net.routes}
    assert {"I-95", "I-395"} <= ids
    assert 10.0 < net.route("I-95").length_km < 25.0  # the extract is 18 km wide
    assert net.route("I-395").length_km < 12.0
    assert set(net.route("I-95").node_idx.tolist()) & set(net.route("I-395").node_idx.tolist())
    _check_routes(net, 10_000.0)


# ---- errors ------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="path: expected an existing"):
        corridor_network_from_pbf(tmp_path / "nope.osm.pbf")


def test_not_an_osm_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"this is not a pbf file at all")
    with pytest.raises(DataError, match=r"bad\.osm\.pbf"):
        corridor_network_from_pbf(bad)


def test_file_without_motorways(tmp_path: Path) -> None:
    path = _write_pbf(tmp_path / "lane.osm.pbf", [({"highway": "residential"}, [(0, 0), (100, 0)])])
    with pytest.raises(DataError, match="no ways with highway"):
        corridor_network_from_pbf(path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"country": "xx"}, "country"),
        ({"highway": "motorway"}, "highway"),
        ({"highway": ("footway",)}, "highway"),
        ({"max_segment_km": 0}, "max_segment_km"),
        ({"grid_m": 1.0}, "grid_m"),
    ],
)
def test_bad_options(synthetic: CorridorNetwork, tmp_path: Path, kwargs: dict, match: str) -> None:
    path = _write_pbf(
        tmp_path / "one.osm.pbf", [({"highway": "motorway", "ref": "I 1"}, [(0, 0), (9, 0)])]
    )
    with pytest.raises(InputError, match=match):
        corridor_network_from_pbf(path, **kwargs)


def test_country_outside_us_and_china_must_be_given(tmp_path: Path) -> None:
    import osmium

    path = tmp_path / "far.osm.pbf"
    with osmium.SimpleWriter(str(path)) as writer:
        writer.add_node(osmium.osm.mutable.Node(id=1, location=(24.9, 60.2)))
        writer.add_node(osmium.osm.mutable.Node(id=2, location=(25.0, 60.2)))
        writer.add_way(
            osmium.osm.mutable.Way(id=1, nodes=[1, 2], tags={"highway": "motorway", "ref": "E18"})
        )
    with pytest.raises(InputError, match="country: could not infer"):
        corridor_network_from_pbf(path)


def test_pbf_of_another_country_is_refused(shared_data: Path) -> None:
    from planner.core.errors import InputError
    from planner.ground.build import national_ground

    with pytest.raises(InputError, match=r"in country 'us', not in 'cn'.*--country us"):
        national_ground("cn", osm=shared_data / "osm" / "us_bangor_me.osm.pbf")


def test_pbf_named_osm_is_read_as_pbf(shared_data: Path, tmp_path: Path) -> None:
    import shutil

    renamed = tmp_path / "bangor.osm"  # libosmium would take the extension for XML
    shutil.copy(shared_data / "osm" / "us_bangor_me.osm.pbf", renamed)
    original = corridor_network_from_pbf(shared_data / "osm" / "us_bangor_me.osm.pbf", country="us")
    net = corridor_network_from_pbf(renamed, country="us")
    assert len(net.node_lon) == len(original.node_lon) > 0
