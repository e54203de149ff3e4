"""Issue 16's smaller cases: inputs checked before work, national --osm of a city, cut PBFs."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest

from planner.app.cli import main
from planner.core.errors import DataError

HERE = Path(__file__).resolve().parent
NOT_OSM = str(HERE / "fixtures" / "not_osm.osm")  # fails as soon as the network loads


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ("min_dc_ports = -5\n", ["min_dc_ports", ">= 0"]),
        ("min_ac_ports = -1\n", ["min_ac_ports", ">= 0"]),
        ("min_dc_ports = 1000000000000000000\n", ["'min_dc_ports'", "at most 2,147,483,647"]),
        ("sites = 1000000000000000000\n", ["'sites'", "at most"]),
    ],
)
def test_scenario_is_checked_before_the_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, needles: list[str]
) -> None:
    """The scenario's own key is named, and before the (here unreadable) network is read."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(body)
    out = tmp_path / "o"
    for argv in (
        ["plan", "--osm", NOT_OSM, "--scenario", str(scenario)],
        [
            *("compare", "--osm", NOT_OSM, "--strategies", "coverage,us-nevi"),
            *("--scenario", f"coverage={scenario}"),
        ],
    ):
        assert main([*argv, "--out", str(out)]) == 2
        line = _one_line(capsys.readouterr().err)
        assert all(n in line for n in needles), line
        assert "min_ports" not in line.replace("min_dc_ports", "").replace("min_ac_ports", "")
        assert not out.exists()


def test_scenario_limit_is_not_a_plan_limit(tmp_path: Path) -> None:
    """The cap on whole numbers sits above every real count (China's population)."""
    from planner.io.scenario import MAX_WHOLE_NUMBER, params_from_mapping
    from planner.strategies import get_strategy

    params = params_from_mapping(
        get_strategy("us-nevi").params_type, {"cn_population": 1_411_750_000}
    )
    assert params.cn_population == 1_411_750_000 < MAX_WHOLE_NUMBER


def _motorway_extent_km(path: Path) -> float:
    """The bounding-box diagonal of every motorway node of ``path``, read with osmium and
    measured with pyproj's geodesic (independently of planner.ground.motorways)."""
    import osmium
    from pyproj import Geod

    refs: set[int] = set()
    for way in osmium.FileProcessor(str(path), osmium.osm.WAY):
        if way.tags.get("highway") in ("motorway", "trunk"):
            refs.update(n.ref for n in way.nodes)
    lon, lat = [], []
    for node in osmium.FileProcessor(str(path), osmium.osm.NODE):
        if node.id in refs:
            lon.append(node.location.lon)
            lat.append(node.location.lat)
    _, _, dist_m = Geod(ellps="WGS84").inv(min(lon), min(lat), max(lon), max(lat))
    return float(dist_m) / 1000.0


def test_national_on_a_city_pbf_is_refused(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from planner.ground.build import MIN_NATIONAL_EXTENT_KM

    pbf = shared_data / "osm" / "us_columbus_oh.osm.pbf"
    assert _motorway_extent_km(pbf) < MIN_NATIONAL_EXTENT_KM  # a city, by the definition
    out = tmp_path / "o"
    assert main(["national", "--country", "us", "--osm", str(pbf), "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--osm" in line and "not a national network" in line and "161 km" in line
    assert not out.exists()


def test_national_on_a_city_without_routes_names_no_nan(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    osm = shared_data / "osm" / "cn_shanghai_central.osm"
    out = tmp_path / "o"
    assert main(["national", "--country", "cn", "--osm", str(osm), "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "nan" not in line.replace("cn_shanghai", "") and "form no route" in line
    assert not out.exists()


def _pbf_blocks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each file block of a PBF: a 4-byte length, a BlobHeader (protobuf; field
    3 is the blob's size), the blob."""

    def varint(buf: bytes, i: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = buf[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value, i

    blocks, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        header, i, size = data[pos + 4 : pos + 4 + n], 0, 0
        while i < len(header):
            key, i = varint(header, i)
            if key & 7 == 2:
                length, i = varint(header, i)
                i += length
            else:
                value, i = varint(header, i)
                size = value if key >> 3 == 3 else size
        blocks.append((pos, pos + 4 + n + size))
        pos = pos + 4 + n + size
    return blocks


def _kinds(path: Path) -> tuple[int, int]:
    import osmium

    nodes = ways = 0
    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
        nodes += obj.is_node()
        ways += obj.is_way()
    return nodes, ways


def test_pbf_cut_at_a_block_boundary(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from planner.ground.network import load_network

    data = (shared_data / "osm" / "us_columbus_oh.osm.pbf").read_bytes()
    blocks = _pbf_blocks(data)
    assert blocks[-1][1] == len(data)  # the parser walked the whole file
    whole = tmp_path / "whole.osm.pbf"
    whole.write_bytes(data)
    cuts = {}
    for k, (_, end) in enumerate(blocks[1:-1], start=1):
        cut = tmp_path / f"cut{k}.osm.pbf"
        cut.write_bytes(data[:end])
        cuts[k] = (cut, *_kinds(cut))
    # every cut is a valid, smaller file: osmium reads it without an error
    assert {ways > 0 for _, _, ways in cuts.values()} == {False, True}
    with caplog.at_level(logging.WARNING, logger="planner"):
        full = load_network(whole)
    assert not caplog.records
    for cut, _nodes, ways in cuts.values():
        caplog.clear()
        if ways == 0:  # cut among the nodes: no road at all
            with pytest.raises(DataError, match="no ways: the file ends before its ways"):
                load_network(cut)
            continue
        with caplog.at_level(logging.WARNING, logger="planner"):
            smaller = load_network(cut)
        assert any("looks cut short" in r.getMessage() for r in caplog.records)
        assert smaller.n_nodes < full.n_nodes
