"""Write the small synthetic test fixtures into ``tests/fixtures/`` (deterministic, offline).

Run from the repository root: ``python scripts/make_fixtures.py``. Everything is synthetic
(no file from ../shared/data is copied):

``grid.osm`` / ``grid.osm.pbf``
    The same street grid as OSM XML (no ``version`` attributes, like osmnx writes) and PBF
    (pyosmium SimpleWriter): 5 x 5 nodes 200 m apart near Columbus, Ohio, with maxspeed and
    oneway variants, ways the drivable rules must drop, a dead-end one-way spur and an island
    (dropped by the strongly-connected rule), a divided motorway "I 99" (two 4.8 km carriageways
    joined to the grid by ramps and to each other by U-turn ramps) and POIs.
``grid_osmnx.graphml``
    ``grid.osm`` read by osmnx (``graph_from_xml``, unsimplified) and saved as GraphML: the
    format of the on-disk cache of online queries.
``missing_refs.osm``, ``not_osm.osm``
    Broken inputs: ways referring to absent nodes; a CSV file named ``.osm``.
``user_demand.csv`` / ``user_demand.geojson``
    Four user demand points (one far from the grid).
``afdc_sample.csv``, ``shenzhen_sample.csv``
    Five AFDC-format rows (with byte-order mark) and three Shenzhen-format rows (GCJ-02).

One fixture is cut from a real extract (written only when ``../shared/data`` is there):

``columbus_downtown_2km.osm.pbf``
    A 2 x 2 km box of downtown Columbus, Ohio, cut from
    ``../shared/data/osm/us_columbus_oh.osm.pbf`` (OpenStreetMap contributors, ODbL 1.0): every
    node inside the box, every way cut to its runs of nodes inside the box (a run becomes its own
    way, id ``way id x 100 + run``), no relations. A small dense city extract for the city-plan
    tests (sites that earn their place).
"""

from __future__ import annotations

import csv
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures"
LON0, LAT0 = -83.0, 39.95  # south-west grid corner
SPACING_M = 200.0
# local azimuthal equidistant metres around the corner: geodesic distances match to millimetres
LOCAL_CRS = f"+proj=aeqd +lat_0={LAT0} +lon_0={LON0} +datum=WGS84 +units=m"

Node = tuple[int, float, float, dict[str, str]]
Way = tuple[int, list[int], dict[str, str]]


def lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    """Grid metres (east, north of the south-west corner) to degrees, rounded to 1e-7."""
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(LOCAL_CRS, "EPSG:4326", always_xy=True).transform(x_m, y_m)
    return round(float(lon), 7), round(float(lat), 7)


def grid_id(row: int, col: int) -> int:
    """Node id of grid row ``row`` (south to north) and column ``col`` (west to east)."""
    return 100 + row * 5 + col


def grid_data() -> tuple[list[Node], list[Way]]:
    """Nodes and ways of the synthetic grid (see the module notes)."""
    nodes: list[Node] = []

    def add(node_id: int, x_m: float, y_m: float, tags: dict[str, str] | None = None) -> None:
        nodes.append((node_id, *lonlat(x_m, y_m), tags or {}))

    for row in range(5):
        for col in range(5):
            add(grid_id(row, col), col * SPACING_M, row * SPACING_M)
    speeds = ["25 mph", "40", "50 km/h", "30;50", "RU:urban"]
    ways: list[Way] = [
        (
            1000 + r,
            [grid_id(r, c) for c in range(5)],
            {"highway": "residential", "name": f"Row {r} Street", "maxspeed": speeds[r]},
        )
        for r in range(5)
    ]
    column_tags = [
        {"highway": "residential", "name": "West Avenue"},
        {"highway": "residential", "name": "North Oneway", "oneway": "yes"},
        {"highway": "primary", "name": "Main Street", "ref": "SR 7"},
        {"highway": "residential", "name": "South Oneway", "oneway": "-1"},
        {"highway": "tertiary", "name": "East Avenue"},
    ]
    ways += [(1100 + c, [grid_id(r, c) for r in range(5)], column_tags[c]) for c in range(5)]
    # ways the drivable rules drop (each adds nodes that must not reach the network)
    add(900, 100.0, 100.0)
    add(901, 430.0, 400.0)
    add(902, 900.0, 800.0)
    add(903, 650.0, 600.0)
    add(904, 650.0, 650.0)
    add(905, 700.0, 200.0)
    add(906, 900.0, 0.0)
    ways += [
        (1200, [grid_id(0, 0), 900, grid_id(1, 1)], {"highway": "footway"}),
        (1201, [grid_id(2, 2), 901], {"highway": "service", "service": "parking_aisle"}),
        (1202, [grid_id(4, 4), 902], {"highway": "residential", "access": "private"}),
        (1203, [grid_id(3, 3), 903, 904, grid_id(3, 3)], {"highway": "residential", "area": "yes"}),
        (1204, [grid_id(1, 3), 905], {"highway": "residential", "oneway": "reversible"}),
        (1205, [grid_id(0, 4), 906], {"highway": "tertiary", "motor_vehicle": "no"}),
    ]
    # a one-way dead end and an island: dropped by the strongly connected component
    add(907, 400.0, -150.0)
    add(950, 2500.0, 0.0)
    add(951, 2700.0, 0.0)
    ways += [
        (1206, [grid_id(0, 2), 907], {"highway": "residential", "oneway": "yes"}),
        (1207, [950, 951], {"highway": "residential", "name": "Island Road"}),
    ]
    nodes_m, ways_m = motorway_data()
    return nodes + nodes_m + poi_nodes(), ways + ways_m + poi_ways()


def motorway_data() -> tuple[list[Node], list[Way]]:
    """Divided motorway I 99, 400 m north of the grid, with ramps and U-turn links."""
    xs = [-1600.0 + 800.0 * i for i in range(7)]  # 4.8 km
    east = [300 + i for i in range(7)]
    west = [310 + i for i in range(7)]
    nodes: list[Node] = [(east[i], *lonlat(x, 1200.0), {}) for i, x in enumerate(xs)]
    nodes += [(west[i], *lonlat(x, 1230.0), {}) for i, x in enumerate(xs)]
    link = {"highway": "motorway_link", "oneway": "yes"}
    ways: list[Way] = [
        (1400, east, {"highway": "motorway", "ref": "I 99", "oneway": "yes", "maxspeed": "65 mph"}),
        (1401, west[::-1], {"highway": "motorway", "ref": "I 99", "oneway": "yes"}),
        (1402, [grid_id(4, 0), east[2]], link),  # on-ramp eastbound at x = 0
        (1403, [east[4], grid_id(4, 4)], link),  # off-ramp eastbound at x = 1600
        (1404, [grid_id(4, 4), west[4]], link),  # on-ramp westbound
        (1405, [west[2], grid_id(4, 0)], link),  # off-ramp westbound
        (1406, [east[-1], west[-1]], link),  # U-turn at the east end
        (1407, [west[0], east[0]], link),  # U-turn at the west end
    ]
    return nodes, ways


def poi_nodes() -> list[Node]:
    """Point POIs: parking, shop, a bench (ignored), restaurant, office, hotel, far parking."""
    rows = [
        (800, 230.0, 200.0, {"amenity": "parking", "name": "Lot A"}),
        (801, 400.0, 630.0, {"shop": "supermarket", "name": "Grocer"}),
        (802, 410.0, 410.0, {"amenity": "bench"}),
        (803, 600.0, 420.0, {"amenity": "restaurant", "name": "Diner"}),
        (804, 20.0, 620.0, {"office": "company", "name": "Works"}),
        (805, 780.0, 220.0, {"tourism": "hotel", "name": "Inn"}),
        (806, 400.0, -1000.0, {"amenity": "parking", "name": "Far Lot"}),
    ]
    return [(i, *lonlat(x, y), t) for i, x, y, t in rows]


def poi_ways() -> list[Way]:
    """A fuel station drawn as a closed 40 m square centred 60 m east of grid node (3, 1)."""
    return [(1300, [810, 811, 812, 813, 810], {"amenity": "fuel", "name": "Gas"})]


def fuel_nodes() -> list[Node]:
    cx, cy = 260.0, 600.0
    corners = [(-20.0, -20.0), (20.0, -20.0), (20.0, 20.0), (-20.0, 20.0)]
    return [(810 + i, *lonlat(cx + dx, cy + dy), {}) for i, (dx, dy) in enumerate(corners)]


def write_xml(path: Path, nodes: list[Node], ways: list[Way]) -> None:
    """OSM XML without ``version`` attributes (as osmnx writes it)."""
    root = ET.Element("osm", {"generator": "planner make_fixtures"})
    for node_id, lon, lat, tags in sorted(nodes):
        elem = ET.SubElement(root, "node", {"id": str(node_id), "lat": str(lat), "lon": str(lon)})
        for k, v in tags.items():
            ET.SubElement(elem, "tag", {"k": k, "v": v})
    for way_id, refs, tags in sorted(ways):
        elem = ET.SubElement(root, "way", {"id": str(way_id)})
        for ref in refs:
            ET.SubElement(elem, "nd", {"ref": str(ref)})
        for k, v in tags.items():
            ET.SubElement(elem, "tag", {"k": k, "v": v})
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def write_pbf(path: Path, nodes: list[Node], ways: list[Way]) -> None:
    import osmium

    path.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(path)) as writer:
        for node_id, lon, lat, tags in sorted(nodes):
            writer.add_node(osmium.osm.mutable.Node(id=node_id, location=(lon, lat), tags=tags))
        for way_id, refs, tags in sorted(ways):
            writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags))


def write_graphml(xml_path: Path, path: Path) -> None:
    import osmnx as ox

    graph = ox.graph_from_xml(xml_path, simplify=False, retain_all=True)
    graph.graph["created_date"] = "2000-01-01 00:00:00"  # reproducible output
    ox.save_graphml(graph, path)


def write_small_files() -> None:
    nodes: list[Node] = [(1, *lonlat(0, 0), {}), (2, *lonlat(200, 0), {})]
    ways = [
        (10, [1, 2, 3, 4, 5], {"highway": "residential"}),
        (11, [6, 7, 1], {"highway": "primary"}),
    ]
    write_xml(OUT / "missing_refs.osm", nodes, ways)
    (OUT / "not_osm.osm").write_text("lon,lat,demand\n-83.0,39.95,1\n", encoding="utf-8")
    points = [
        (120.0, 130.0, 100.0),
        (610.0, 590.0, 250.0),
        (400.0, 810.0, 50.0),
        (5000.0, 5000.0, 999.0),
    ]
    with (OUT / "user_demand.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lon", "lat", "demand"])
        writer.writerows([(*lonlat(x, y), d) for x, y, d in points])
    features = [
        {
            "type": "Feature",
            "properties": {"demand": d},
            "geometry": {"type": "Point", "coordinates": list(lonlat(x, y))},
        }
        for x, y, d in points
    ]
    geojson = {"type": "FeatureCollection", "features": features}
    (OUT / "user_demand.geojson").write_text(json.dumps(geojson, indent=1) + "\n", encoding="utf-8")


def write_station_files() -> None:
    header = [
        "Fuel Type Code",
        "Station Name",
        "State",
        "Status Code",
        "EV Level1 EVSE Num",
        "EV Level2 EVSE Num",
        "EV DC Fast Count",
        "EV Network",
        "Latitude",
        "Longitude",
        "ID",
    ]
    rows = [  # fuel, name, state, status, L1, L2, DC, network, y_m, x_m, id
        ("ELEC", "Grid Garage", "OH", "E", "", "4", "", "ChargePoint Network", 420.0, 400.0, 1),
        ("ELEC", "Main St Fast", "OH", "E", "1", "2", "6", "Electrify America", 0.0, 420.0, 2),
        ("ELEC", "Far Away", "OH", "E", "", "2", "", "Non-Networked", 5000.0, 5000.0, 3),
        ("LPG", "Propane Depot", "OH", "E", "", "", "", "", 200.0, 200.0, 4),
        ("ELEC", "Planned Hub", "OH", "P", "", "", "8", "Tesla", 600.0, 600.0, 5),
    ]
    with (OUT / "afdc_sample.csv").open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for *head, y, x, sid in rows:
            lon, lat = lonlat(x, y)
            writer.writerow([*head, lat, lon, sid])
    sys.path.insert(0, str(ROOT))
    from planner.ground.stations import wgs84_to_gcj02

    wgs = [(114.0579, 22.5431, 5, 5), (114.1200, 22.6000, 20, 0), (113.9300, 22.5200, 0, 8)]
    with (OUT / "shenzhen_sample.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["station_id", "latitude", "longitude", "fast", "slow", "count"])
        for sid, (lon, lat, fast, slow) in enumerate(wgs, start=1):
            g_lon, g_lat = wgs84_to_gcj02(lon, lat)
            writer.writerow(
                [sid, round(float(g_lat), 6), round(float(g_lon), 6), fast, slow, fast + slow]
            )


#: Centre and half side of the downtown Columbus box (lon, lat, metres).
COLUMBUS_CENTRE = (-82.9990, 39.9620)
COLUMBUS_HALF_SIDE_M = 1000.0


def write_city_extract(source: Path, path: Path) -> None:
    """Cut the 2 x 2 km downtown Columbus box from ``source`` (see the module notes)."""
    import osmium
    from pyproj import Transformer

    lon0, lat0 = COLUMBUS_CENTRE
    to_m = Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m", always_xy=True
    )
    inside: dict[int, tuple[float, float, dict[str, str]]] = {}
    ways: list[Way] = []
    for obj in osmium.FileProcessor(str(source)):
        if obj.is_node():
            x_m, y_m = to_m.transform(obj.location.lon, obj.location.lat)
            if max(abs(x_m), abs(y_m)) <= COLUMBUS_HALF_SIDE_M:
                tags = {t.k: t.v for t in obj.tags}
                inside[obj.id] = (obj.location.lon, obj.location.lat, tags)
        elif obj.is_way():
            refs = [n.ref for n in obj.nodes]
            tags = {t.k: t.v for t in obj.tags}
            runs: list[list[int]] = [[]]
            for ref in refs:
                if ref in inside:
                    runs[-1].append(ref)
                elif runs[-1]:
                    runs.append([])
            for k, run in enumerate(r for r in runs if len(r) >= 2):
                ways.append((obj.id * 100 + k, run, tags))
    nodes: list[Node] = [(i, lon, lat, tags) for i, (lon, lat, tags) in inside.items()]
    write_pbf(path, nodes, ways)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    nodes, ways = grid_data()
    nodes += fuel_nodes()
    write_xml(OUT / "grid.osm", nodes, ways)
    write_pbf(OUT / "grid.osm.pbf", nodes, ways)
    write_graphml(OUT / "grid.osm", OUT / "grid_osmnx.graphml")
    write_small_files()
    write_station_files()
    columbus = ROOT.parent / "shared" / "data" / "osm" / "us_columbus_oh.osm.pbf"
    if columbus.is_file():
        write_city_extract(columbus, OUT / "columbus_downtown_2km.osm.pbf")
    else:
        print(f"skipped columbus_downtown_2km.osm.pbf: {columbus} is absent")
    for path in sorted(OUT.iterdir()):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
