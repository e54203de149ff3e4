"""Derive ``data/highway_waypoints.csv.gz`` from the Travel Mapping tables in ../shared/data/geo.

Highway data: Travel Mapping project (travelmapping.net) and OpenStreetMap contributors (ODbL 1.0).

The derived table keeps, for the modelled routes of each country, one row per waypoint:
``country``, ``piece`` (one connected Travel Mapping route, numbered per country), ``route``,
``group`` (Travel Mapping's name of the piece when a route number has several), ``root_pos``
(position of the segment in the piece), ``root`` (the segment), ``seq`` (order within the
segment), ``label``, ``hidden`` (1 = shaping point, not an interchange), ``in_country``
(1 = inside the country's state / province polygons, Natural Earth), ``region`` (state postal
code / province code), ``lon``, ``lat`` (degrees, rounded to 1e-5, about a metre).

Modelled routes (see docs/corridors.md): US primary Interstates (one- and two-digit numbers with
their E/W/C branches, Alaska's I-A and Hawaii's I-H routes), no Puerto Rico route, no banner route
(spurs, truck routes); China's National Expressways with one- or two-digit numbers (the 7 radial,
11 north-south and 18 east-west principal routes and the regional rings G91-G98), mainland only.

Run: ``python scripts/derive_highways.py [--geo ../shared/data/geo] [--out data]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

ATTRIBUTION = (
    "Highway data: Travel Mapping project (travelmapping.net) and OpenStreetMap contributors "
    "(ODbL 1.0)"
)
SOURCES = {
    "us": ("us_interstates", r"^I-(\d{1,2}[CEW]?|A\d|H\d+)$", "us_states_ne50m.geojson"),
    "cn": ("cn_national_expressways", r"^G\d{1,2}$", "cn_provinces_ne10m.geojson"),
}
# Hong Kong, Macau and Taiwan are not part of the mainland plan.
EXCLUDED_ISO = {"CN-91", "CN-92", "CN-71"}
OUT_NAME = "highway_waypoints.csv.gz"


def country_polygon(path: Path) -> shapely.Geometry:
    """Union of the state / province polygons of a Natural Earth admin-1 file (less HK/MO/TW)."""
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    shapes = [
        shapely.geometry.shape(f["geometry"])
        for f in features
        if f["properties"].get("iso_3166_2") not in EXCLUDED_ISO
    ]
    return shapely.union_all(shapes)


def derive_country(geo: Path, country: str) -> pd.DataFrame:
    """Waypoints of the modelled routes of ``country``, in route order."""
    stem, pattern, boundary = SOURCES[country]
    waypoints = pd.read_csv(geo / "highways" / f"{stem}_waypoints.csv", dtype={"label": str})
    routes = pd.read_csv(geo / "highways" / f"{stem}_routes.csv", dtype=str)
    keep = routes["route"].str.match(pattern) & routes["banner"].isna()
    routes = routes[keep].reset_index(drop=True)
    by_root = {root: g.sort_values("seq") for root, g in waypoints.groupby("root")}
    parts = []
    for piece, row in routes.iterrows():
        for pos, root in enumerate(str(row["roots"]).split(",")):
            seg = by_root[root]
            if country == "us" and (seg["region"] == "PR").any():
                continue
            parts.append(
                seg.assign(
                    piece=int(piece),
                    group="" if pd.isna(row["group"]) else row["group"],
                    root_pos=pos,
                )
            )
    table = pd.concat(parts, ignore_index=True)
    inside = shapely.contains_xy(
        country_polygon(geo / "boundaries" / boundary), table["lon"], table["lat"]
    )
    return pd.DataFrame(
        {
            "country": country,
            "piece": table["piece"].astype(int),
            "route": table["route"],
            "group": table["group"],
            "root_pos": table["root_pos"].astype(int),
            "root": table["root"],
            "seq": table["seq"].astype(int),
            "label": table["label"].fillna(""),
            "hidden": table["hidden"].astype(int),
            "in_country": inside.astype(int),
            "region": table["region"].str.replace(r"^CHN-", "", regex=True),
            "lon": np.round(table["lon"].to_numpy(float), 5),
            "lat": np.round(table["lat"].to_numpy(float), 5),
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geo", type=Path, default=Path("../shared/data/geo"))
    parser.add_argument("--out", type=Path, default=Path("data"))
    args = parser.parse_args()
    frames = [derive_country(args.geo, c) for c in SOURCES]
    table = pd.concat(frames, ignore_index=True)
    out = args.out / OUT_NAME
    table.to_csv(out, index=False, compression={"method": "gzip", "mtime": 0})
    for frame in frames:
        c = frame["country"].iloc[0]
        print(
            f"{c}: {len(frame)} waypoints, {frame['piece'].nunique()} pieces, "
            f"{frame['route'].nunique()} routes, {int((frame['hidden'] == 0).sum())} exits, "
            f"{int((frame['in_country'] == 0).sum())} outside the country polygon"
        )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); {ATTRIBUTION}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
