"""Existing charging stations: read AFDC, Shenzhen-style and GeoJSON files, snap them to a network.

Formats read by :func:`read_stations` (detected from the columns):

AFDC CSV (US DOE Alternative Fuels Data Center export, UTF-8 with byte-order mark)
    ``Fuel Type Code`` = ``ELEC`` rows with ``Status Code`` E (open) or T (temporarily
    unavailable); planned stations (P) are skipped. ``dc_ports`` = ``EV DC Fast Count``,
    ``ac_ports`` = ``EV Level1 EVSE Num`` + ``EV Level2 EVSE Num``, ``network`` = ``EV Network``,
    ``region`` = ``State``.
Shenzhen CSV (ST-EVCDP: ``station_id, latitude, longitude, fast, slow, count``)
    ``dc_ports`` = fast piles, ``ac_ports`` = slow piles. Its coordinates are GCJ-02 (the
    offset Chinese datum), converted to WGS84 with :func:`gcj02_to_wgs84`.
Generic CSV or GeoJSON/GeoPackage points
    ``lon``/``lat`` (CSV) or point geometries, with ``dc_ports``/``ac_ports`` (or the AFDC
    names) and optional ``name``, ``network``, ``region``.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from planner.core._points import lonlat_table
from planner.core.errors import DataError, InputError, describe
from planner.ground.model import ExistingStations
from planner.ground.network import RoadNetwork, snap_to_nodes

logger = logging.getLogger(__name__)

STATION_COLUMNS = ("name", "lon", "lat", "dc_ports", "ac_ports", "network", "region")
Datum = Literal["auto", "wgs84", "gcj02"]

_GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 formula
_GCJ_EE = 0.00669342162296594323
_SHENZHEN = {"station_id", "latitude", "longitude", "fast", "slow"}
_AFDC_RENAME = {
    "Station Name": "name",
    "Longitude": "lon",
    "Latitude": "lat",
    "EV DC Fast Count": "dc_ports",
    "EV Network": "network",
    "State": "region",
}


def read_stations(
    path: str | Path, *, datum: Datum = "auto", region: str | None = None
) -> pd.DataFrame:
    """Read existing charging stations into :data:`STATION_COLUMNS`.

    Parameters
    ----------
    path
        An AFDC CSV, a Shenzhen-style CSV, a generic CSV or a GeoJSON/GeoPackage of points.
    datum
        Datum of the coordinates: ``"auto"`` (GCJ-02 for the Shenzhen format, else WGS84),
        ``"wgs84"`` or ``"gcj02"`` (converted to WGS84).
    region
        Region code for rows that have none (e.g. ``"GD"`` for Shenzhen).

    Returns
    -------
    pandas.DataFrame
        One row per station; ports are non-negative integers; WGS84 degrees.
    """
    path = Path(path)
    _check_datum(datum)
    if not path.is_file():
        raise DataError(f"stations: file {path} does not exist; give an AFDC CSV or a GeoJSON file")
    return _stations(_read_table(path), path, datum=datum, region=region)


def stations_from_frame(
    frame: pd.DataFrame, *, datum: Datum = "auto", region: str | None = None
) -> pd.DataFrame:
    """Existing charging stations from a table already in memory, as :func:`read_stations`.

    Parameters
    ----------
    frame
        A GeoDataFrame of points (any CRS; reprojected to WGS84) or a DataFrame with ``lon``/
        ``lat``; ports and names in any of the formats :func:`read_stations` reads.
    datum, region
        As in :func:`read_stations`.

    Returns
    -------
    pandas.DataFrame
        :data:`STATION_COLUMNS`, one row per station.
    """
    import geopandas as gpd

    _check_datum(datum)
    if not isinstance(frame, pd.DataFrame):
        raise InputError(
            f"existing: expected a GeoDataFrame of station points or a file path, got "
            f"{type(frame).__name__}; pass e.g. geopandas.read_file('stations.geojson')"
        )
    label = Path(f"<{type(frame).__name__} of {len(frame)} rows>")
    if isinstance(frame, gpd.GeoDataFrame):  # the geometry gives the position
        stale = [c for c in frame.columns if str(c).lower() in ("longitude", "latitude")]
        frame = lonlat_table(frame.drop(columns=stale), what="existing", source=label.name)
    return _stations(frame, label, datum=datum, region=region)


def _stations(raw: pd.DataFrame, path: Path, *, datum: Datum, region: str | None) -> pd.DataFrame:
    """Recognise ``raw``'s format (AFDC, Shenzhen, generic) and standardise its stations."""
    columns = set(map(str, raw.columns))
    if "Fuel Type Code" in columns:
        frame, kind = _from_afdc(raw), "AFDC"
    elif columns >= _SHENZHEN:
        frame, kind = _from_shenzhen(raw), "Shenzhen"
    else:
        frame, kind = _from_generic(raw, path), "generic"
    if datum == "gcj02" or (datum == "auto" and kind == "Shenzhen"):
        lon, lat = gcj02_to_wgs84(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float))
        frame = frame.assign(lon=lon, lat=lat)
    if region is not None:
        frame["region"] = frame["region"].where(frame["region"] != "", region)
    frame = _check(frame, path)
    logger.info("stations %s: %d %s stations", path.name, len(frame), kind)
    return frame


def _check_datum(datum: object) -> None:
    if datum not in ("auto", "wgs84", "gcj02"):
        raise InputError(f"datum: expected 'auto', 'wgs84' or 'gcj02', got {describe(datum)}")


def snap_stations(
    frame: pd.DataFrame, network: RoadNetwork, *, max_dist_m: float = 500.0
) -> ExistingStations:
    """Snap stations to their nearest network node; those beyond ``max_dist_m`` are dropped.

    Stations outside the network's extent are farther than ``max_dist_m`` from every node, so
    only those on the network's ground are kept.
    """
    from pyproj import Transformer

    missing = [c for c in STATION_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"frame: missing column(s) {', '.join(missing)}; read the file with read_stations"
        )
    if not max_dist_m >= 0:
        raise InputError(f"max_dist_m: expected >= 0, got {max_dist_m!r}")
    x, y = Transformer.from_crs("EPSG:4326", network.crs, always_xy=True).transform(
        frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    )
    node, dist = snap_to_nodes(network, np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    keep = dist <= max_dist_m
    log = logger.warning if len(frame) and not keep.any() else logger.info
    log(
        "stations: %d of %d within %.0f m of network %s%s",
        int(keep.sum()),
        len(frame),
        max_dist_m,
        network.name,
        "" if keep.any() else " (none: is the file of another area?)",
    )
    sub = frame[keep]
    return ExistingStations(
        name=sub["name"].to_numpy(dtype=object),
        lon=sub["lon"].to_numpy(float),
        lat=sub["lat"].to_numpy(float),
        node_idx=node[keep].astype(np.int64),
        dc_ports=sub["dc_ports"].to_numpy(np.int64),
        ac_ports=sub["ac_ports"].to_numpy(np.int64),
        region=sub["region"].to_numpy(dtype=object),
    )


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Apply the public WGS84 -> GCJ-02 formula (no offset outside China's box)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x, y = lon - 105.0, lat - 35.0
    wave = (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + wave
    dlat += (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * math.pi) + 320.0 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + wave
    dlon += (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad = np.radians(lat)
    magic = 1.0 - _GCJ_EE * np.sin(rad) ** 2
    dlat = dlat * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * np.sqrt(magic)) * math.pi)
    dlon = dlon * 180.0 / (_GCJ_A / np.sqrt(magic) * np.cos(rad) * math.pi)
    inside = (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration (exact to ``tol_deg``, vectorised).

    Each step moves the WGS84 guess by the residual ``gcj02(guess) - target``; the offset field
    is smooth (a few hundred metres), so a handful of steps reach millimetres.
    """
    g_lon = np.asarray(lon, dtype=float)
    g_lat = np.asarray(lat, dtype=float)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        d_lon, d_lat = f_lon - g_lon, f_lat - g_lat
        w_lon, w_lat = w_lon - d_lon, w_lat - d_lat
        if np.nanmax(np.abs(np.r_[d_lon.ravel(), d_lat.ravel(), 0.0])) < tol_deg:
            break
    return w_lon, w_lat


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in (".csv", ".txt"):
        try:
            return pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"stations: {path} is not a readable CSV ({exc})") from None
    import geopandas as gpd

    try:
        with warnings.catch_warnings(record=True) as caught:  # e.g. "more than one layer"
            warnings.simplefilter("always")
            gdf = gpd.read_file(path)
        for warning in caught:
            logger.warning("stations: %s: %s", path, " ".join(str(warning.message).split()))
    except Exception as exc:  # pyogrio raises its own DataSourceError and friends
        raise DataError(f"stations: {path} is not a readable CSV/GeoJSON ({exc})") from None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        return pd.DataFrame(gdf)  # a table without geometry (e.g. a spreadsheet): columns decide
    return lonlat_table(gdf, what="stations", source=path)


def _from_afdc(raw: pd.DataFrame) -> pd.DataFrame:
    rows = raw[raw["Fuel Type Code"].astype(str).str.strip() == "ELEC"]
    if "Status Code" in rows.columns:
        rows = rows[rows["Status Code"].astype(str).str.strip().isin(["E", "T"])]
    frame = rows.rename(columns=_AFDC_RENAME)
    ac = sum(
        pd.to_numeric(rows.get(c, pd.Series(0, index=rows.index)), errors="coerce").fillna(0)
        for c in ("EV Level1 EVSE Num", "EV Level2 EVSE Num")
    )
    return _standard(frame.assign(ac_ports=ac))


def _from_shenzhen(raw: pd.DataFrame) -> pd.DataFrame:
    frame = raw.rename(
        columns={"longitude": "lon", "latitude": "lat", "fast": "dc_ports", "slow": "ac_ports"}
    )
    return _standard(frame.assign(name="station " + raw["station_id"].astype(str)))


def _from_generic(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    frame = raw.rename(columns={**_AFDC_RENAME, "longitude": "lon", "latitude": "lat"})
    if "ac_ports" not in frame.columns and "EV Level2 EVSE Num" in frame.columns:
        frame["ac_ports"] = frame["EV Level2 EVSE Num"]
    missing = [c for c in ("lon", "lat") if c not in frame.columns]
    if raw.empty and not missing:
        raise DataError(f"stations: {path} holds no station; give a file with stations")
    if missing or not {"dc_ports", "ac_ports"} & set(frame.columns):
        raise DataError(
            f"stations: {path} is neither an AFDC nor a Shenzhen file and lacks lon/lat or "
            f"dc_ports/ac_ports (has {', '.join(map(str, raw.columns[:12]))}); see read_stations"
        )
    return _standard(frame)


def _standard(frame: pd.DataFrame) -> pd.DataFrame:
    """Select :data:`STATION_COLUMNS`, filling absent text columns with ``""``."""
    out = pd.DataFrame(index=frame.index)
    for column in STATION_COLUMNS:
        if column in ("name", "network", "region"):
            text = frame[column] if column in frame.columns else pd.Series("", index=frame.index)
            out[column] = text.fillna("").astype(str).str.strip().to_numpy(dtype=object)
        elif column in ("dc_ports", "ac_ports"):
            values = frame[column] if column in frame.columns else pd.Series(0, index=frame.index)
            out[column] = pd.to_numeric(values, errors="coerce").fillna(0)
        else:
            out[column] = pd.to_numeric(frame[column], errors="coerce")
    return out.reset_index(drop=True)


def _check(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    bad = ~(frame["lon"].between(-180, 180) & frame["lat"].between(-90, 90))
    if bad.any():
        logger.warning(
            "stations %s: %d rows without valid lon/lat skipped", path.name, int(bad.sum())
        )
        frame = frame[~bad].reset_index(drop=True)
    ports = frame[["dc_ports", "ac_ports"]]
    if (ports < 0).any().any() or (ports % 1 != 0).any().any():
        row = int(np.flatnonzero(((ports < 0) | (ports % 1 != 0)).any(axis=1).to_numpy())[0])
        raise DataError(
            f"stations: {path} row {row + 1} has port counts {ports.iloc[row].tolist()}; "
            "expected whole numbers >= 0"
        )
    return frame.astype({"dc_ports": np.int64, "ac_ports": np.int64})
