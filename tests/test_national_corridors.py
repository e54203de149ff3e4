"""National corridor stations checked against the real roads, from the output files only.

The route polylines are rebuilt here from the Travel Mapping tables in ``../shared/data/geo``
with shapely and pyproj (not through planner's corridor code); positions along a route are
geodesic distances along that polyline.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod, Transformer
from scipy.spatial import cKDTree

from planner.io._data import data_path

MI = 1609.344
GEOD = Geod(ellps="WGS84")
CRS = {"us": "EPSG:5070", "cn": "+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +datum=WGS84 +units=m"}
STEM = {"us": "us_interstates", "cn": "cn_national_expressways"}
KIND = {"us": "corridor_dc", "cn": "service_area"}
TOL_M = 10.0


class RealRoute:
    """One route piece's polyline from the shared waypoints, with geodesic chainage."""

    def __init__(self, lon: np.ndarray, lat: np.ndarray, to_xy: Transformer) -> None:
        x, y = to_xy.transform(lon, lat)
        self.lon, self.lat = lon, lat
        self.line = shapely.LineString(np.column_stack([x, y]))
        self.proj_cum = np.r_[0.0, np.cumsum(np.hypot(np.diff(x), np.diff(y)))]
        _, _, step = GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
        self.geo_cum = np.r_[0.0, np.cumsum(step)]
        self.end_labels = ("", "")

    @property
    def length_m(self) -> float:
        return float(self.geo_cum[-1])

    def chainage(self, points: np.ndarray) -> np.ndarray:
        """Geodesic distance along the road of each projected point's nearest position."""
        d = shapely.line_locate_point(self.line, points)
        return np.interp(d, self.proj_cum, self.geo_cum)

    def distance(self, points: np.ndarray) -> np.ndarray:
        return shapely.distance(points, self.line)

    def border_extent(
        self, polygon: shapely.Geometry, end_labels: tuple[str, str]
    ) -> tuple[float, float]:
        """The road's ends, except that an end outside ``polygon`` labelled as a border crossing
        (``USA/CAN``, ``CHN/HKG``) comes back to :meth:`inside_extent`'s end: where the plan's
        road leaves the country."""
        lo, hi = self.inside_extent(polygon)
        ends = shapely.contains_xy(polygon, self.lon[[0, -1]], self.lat[[0, -1]])
        border = [bool(re.match(r"^[A-Z]{2,3}/[A-Z]{2,3}$", s)) for s in end_labels]
        return (
            lo if border[0] and not ends[0] else 0.0,
            hi if border[1] and not ends[1] else self.length_m,
        )

    def inside_extent(self, polygon: shapely.Geometry) -> tuple[float, float]:
        """Chainage of the first and last point in ``polygon``, each moved out to the next
        vertex outside it (so the border lies within: ends measured to it are not shortened)."""
        inside = np.flatnonzero(shapely.contains_xy(polygon, self.lon, self.lat))
        last = self.geo_cum.size - 1
        lo, hi = max(int(inside[0]) - 1, 0), min(int(inside[-1]) + 1, last)
        return float(self.geo_cum[lo]), float(self.geo_cum[hi])


def _segments(waypoints: pd.DataFrame, roots: list[str]) -> list[pd.DataFrame]:
    return [waypoints[waypoints["root"] == r].sort_values("seq") for r in roots]


def _join(segments: list[pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
    """Segments end to end, each reversed when its far end is nearer the chain built so far."""
    pts = [s[["lon", "lat"]].to_numpy(float) for s in segments if len(s)]
    if len(pts) > 1:
        first, second = pts[0], pts[1]
        ends = second[[0, -1]]
        if np.hypot(*(ends - first[0]).T).min() < np.hypot(*(ends - first[-1]).T).min():
            pts[0] = first[::-1]
    chain = pts[0]
    for p in pts[1:]:
        if np.hypot(*(p[-1] - chain[-1])) < np.hypot(*(p[0] - chain[-1])):
            p = p[::-1]
        chain = np.vstack([chain, p[1:] if np.allclose(p[0], chain[-1], atol=1e-6) else p])
    return chain[:, 0], chain[:, 1]


@pytest.fixture(scope="module", params=["us", "cn"])
def country(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def plan(country: str, request: pytest.FixtureRequest) -> Path:
    return Path(request.getfixturevalue(f"national_{country}_plan"))


@pytest.fixture(scope="module")
def real(country: str, shared_data: Path) -> dict:
    """Shared waypoints, the route table, the country polygon and the exits of ``country``."""
    geo = shared_data / "geo"
    waypoints = pd.read_csv(geo / "highways" / f"{STEM[country]}_waypoints.csv")
    routes = pd.read_csv(geo / "highways" / f"{STEM[country]}_routes.csv", dtype=str)
    name = "us_states_ne50m" if country == "us" else "cn_provinces_ne10m"
    features = json.loads((geo / "boundaries" / f"{name}.geojson").read_text())["features"]
    polygon = shapely.union_all(
        [
            shapely.geometry.shape(f["geometry"])
            for f in features
            if f["properties"]["iso_3166_2"] not in {"CN-91", "CN-92", "CN-71"}
        ]
    )
    to_xy = Transformer.from_crs("EPSG:4326", CRS[country], always_xy=True)
    exits = waypoints[waypoints["hidden"] == 0]
    ex, ey = to_xy.transform(exits["lon"].to_numpy(), exits["lat"].to_numpy())
    return {
        "waypoints": waypoints,
        "routes": routes,
        "polygon": polygon,
        "to_xy": to_xy,
        "exit_tree": cKDTree(np.column_stack([ex, ey])),
    }


def _real_route(real: dict, route_id: str) -> tuple[RealRoute, pd.DataFrame]:
    """The polyline of a modelled route id (``"I-70"``, ``"I-84 (Oregon - Utah)"``) and its
    waypoints in the shared tables."""
    routes = real["routes"]
    number, _, group = route_id.partition(" (")
    group = group.removesuffix(")")
    rows = routes[(routes["route"] == number) & routes["banner"].isna()]
    rows = (
        rows[rows["group"] == group]
        if group
        else rows[rows["group"].isna()]
        if len(rows) > 1
        else rows
    )
    assert len(rows) == 1, route_id
    roots = rows["roots"].iloc[0].split(",")
    segs = [s for s in _segments(real["waypoints"], roots) if not (s["region"] == "PR").any()]
    lon, lat = _join(segs)
    route = RealRoute(lon, lat, real["to_xy"])
    wps = pd.concat(segs)
    at = dict(zip(zip(wps["lon"], wps["lat"], strict=True), wps["label"].astype(str), strict=True))
    route.end_labels = (at.get((lon[0], lat[0]), ""), at.get((lon[-1], lat[-1]), ""))
    return route, wps


def _stations(plan: Path, country: str, real: dict) -> pd.DataFrame:
    feats = json.loads((plan / "sites.geojson").read_text())["features"]
    frame = pd.DataFrame([f["properties"] for f in feats])
    coords = np.array([f["geometry"]["coordinates"] for f in feats])
    frame = frame.assign(lon=coords[:, 0], lat=coords[:, 1])
    frame = frame[frame["kind"] == KIND[country]].reset_index(drop=True)
    x, y = real["to_xy"].transform(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    return frame.assign(point=shapely.points(x, y), x=x, y=y)


def _corridors(plan: Path) -> list[dict]:
    return [
        f["properties"] for f in json.loads((plan / "corridors.geojson").read_text())["features"]
    ]


def _station_chainage(route: RealRoute, pts: np.ndarray) -> np.ndarray:
    """Sorted chainage of the points along the route; a point the road passes twice (a loop
    back to the same interchange) stands at both places."""
    xy = shapely.get_coordinates(route.line)
    tree = cKDTree(xy)
    chain = [route.chainage(pts)]
    for i, near in enumerate(tree.query_ball_point(shapely.get_coordinates(pts), r=5.0)):
        others = route.geo_cum[near]
        chain.append(others[np.abs(others - chain[0][i]) > 1.0])
    return np.sort(np.concatenate(chain))


@pytest.fixture(scope="module")
def checked(plan: Path, country: str, real: dict) -> dict:
    """Per corridor: its real polyline, its stations' chainage, and the exits' chainage."""
    stations = _stations(plan, country, real)
    listed = stations["corridor"].astype(str).str.split(";")
    out = {}
    for props in _corridors(plan):
        rid = props["corridor"]
        route, wps = _real_route(real, rid)
        on = listed.apply(lambda ids, r=rid: r in ids).to_numpy()
        pts = stations.loc[on, "point"].to_numpy()
        exits = wps[wps["hidden"] == 0]
        inside = shapely.contains_xy(real["polygon"], exits["lon"], exits["lat"])
        exits = exits[inside]
        ex, ey = real["to_xy"].transform(exits["lon"].to_numpy(), exits["lat"].to_numpy())
        out[rid] = {
            "route": route,
            "offset_m": route.distance(pts),
            "chain_m": _station_chainage(route, pts),
            "exit_m": np.sort(route.chainage(shapely.points(ex, ey))),
            "props": props,
        }
    return out


def test_every_station_is_on_its_real_road_within_a_mile(checked: dict) -> None:
    assert checked
    for rid, c in checked.items():
        assert c["chain_m"].size >= 1, rid
        assert c["offset_m"].max() <= 1 * MI, rid


def test_every_station_is_at_a_real_interchange_or_a_stretch_without_one(
    plan: Path, country: str, real: dict, checked: dict
) -> None:
    """US: every station within 500 m of a real interchange. China: every service area there
    too, or on its real road (<= 1 mile) inside a stretch where no real exit inside the country
    meets the rule (consecutive exits farther apart than the spacing, or none within half of it
    from a route end); ``at_exit`` says which."""
    stations = _stations(plan, country, real)
    dist, _ = real["exit_tree"].query(np.column_stack([stations["x"], stations["y"]]))
    assert len(stations) > 500
    if country == "us":
        assert dist.max() <= 500.0
        return
    spacing = json.loads((plan / "summary.json").read_text())["params"]["service_area_spacing_km"]
    spacing_m = spacing * 1000.0
    at_exit = stations["at_exit"].astype(bool).to_numpy()
    assert (dist[at_exit] <= 500.0).all()
    mid = np.flatnonzero(~at_exit | (dist > 500.0))
    assert mid.size > 0  # the preview data hide exits over stretches longer than the rule
    for i in mid:
        point = stations.at[i, "point"]
        ok = False
        for rid in str(stations.at[i, "corridor"]).split(";"):
            route, exits = checked[rid]["route"], checked[rid]["exit_m"]
            if route.distance(np.array([point]))[0] > MI:
                continue
            x = float(route.chainage(np.array([point]))[0])
            before, after = exits[exits < x - 1.0], exits[exits > x + 1.0]
            if before.size and after.size:
                ok |= after[0] - before[-1] > spacing_m
            elif before.size:
                ok |= route.length_m - before[-1] > spacing_m / 2
            else:
                ok |= not after.size or after[0] > spacing_m / 2
        assert ok, (stations.at[i, "site_id"], stations.at[i, "corridor"])


def test_every_station_stands_in_the_country(plan: Path, country: str, real: dict) -> None:
    stations = _stations(plan, country, real)
    assert shapely.contains_xy(real["polygon"], stations["lon"], stations["lat"]).all()


def test_gaps_along_the_real_road(plan: Path, country: str, real: dict, checked: dict) -> None:
    """Every gap <= the rule and both ends <= half, along the real roads. An end is measured to
    where the road leaves the country (China: G94 runs on to Hong Kong); a corridor reported
    compliant meets the rule to its very ends."""
    summary = json.loads((plan / "summary.json").read_text())
    if country == "us":
        spacing = summary["params"]["spacing_mi"] * MI
        end = summary["params"]["end_gap_mi"] * MI
    else:
        spacing = summary["params"]["service_area_spacing_km"] * 1000.0
        end = spacing / 2
    for rid, c in checked.items():
        chain, length = c["chain_m"], c["route"].length_m
        gaps = np.diff(chain)
        assert (gaps.max() if gaps.size else 0.0) <= spacing + TOL_M, rid
        lo, hi = c["route"].inside_extent(real["polygon"])
        assert chain[0] - lo <= end + TOL_M, (rid, "start")
        assert hi - chain[-1] <= end + TOL_M, (rid, "end")
        start_m, end_m = c["route"].border_extent(real["polygon"], c["route"].end_labels)
        if c["props"]["compliant"]:
            assert max(chain[0] - start_m, end_m - chain[-1]) <= end + TOL_M, rid
        else:  # only a road running on abroad beyond the half rule
            assert max(chain[0] - lo, hi - chain[-1]) < max(chain[0], length - chain[-1]), rid
    assert all(c["props"]["compliant"] for c in checked.values())


def test_modelled_lengths_are_the_real_polylines(
    plan: Path, country: str, real: dict, checked: dict
) -> None:
    """The modelled length is the real road's, to where it leaves the country at a border."""
    key, unit = ("length_mi", MI) if country == "us" else ("length_km", 1000.0)
    cut = 0
    for rid, c in checked.items():
        start_m, end_m = c["route"].border_extent(real["polygon"], c["route"].end_labels)
        cut += (end_m - start_m) < c["route"].length_m - 1.0
        assert c["props"][key] * unit == pytest.approx(end_m - start_m, rel=1e-3), rid
    assert cut >= 1  # US: roads to Canada; China: G94 on to Hong Kong


def test_route_lengths_within_3_percent_of_official(country: str, real: dict) -> None:
    """Every sourced route not excluded with a stated reason is within +-3 % (from shared data)."""
    table = pd.read_csv(
        data_path("us_interstates.csv" if country == "us" else "cn_expressways.csv"),
        dtype=str,
        keep_default_na=False,
    )
    held = table[table["length_check"] == ""]
    assert len(held) >= (55 if country == "us" else 10)
    assert (table.loc[table["length_check"] != "", "length_check"].str.len() > 30).all()
    for row in held.itertuples():
        km = (
            float(row.official_length_mi) * MI / 1000.0
            if country == "us"
            else float(row.official_length_km)
        )
        real_km = sum(_real_route(real, p)[0].length_m for p in row.pieces.split(";")) / 1000.0
        assert abs(real_km / km - 1.0) <= 0.03, (row.route_id, real_km, km)


def test_every_station_reports_a_flow_within_the_clip(plan: Path, country: str, real: dict) -> None:
    summary = json.loads((plan / "summary.json").read_text())
    clip = summary["ground"]["max_segment_flow_veh_day"]
    flow = _stations(plan, country, real)["flow_veh_day"].astype(float)
    assert flow.notna().all()
    assert (flow >= 0).all() and (flow <= clip).all()
    assert (flow > 0).mean() > 0.95
