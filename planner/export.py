"""Write a plan's files: sites and corridors as GeoJSON, ``regions.csv``, ``summary.json``.

GeoJSON follows RFC 7946: WGS84 longitude/latitude, coordinates rounded to 6 decimals (~0.1 m),
and a foreign member ``attribution`` crediting OpenStreetMap (ODbL) and GeoNames (CC-BY 4.0).
Every file is written atomically.
"""

from __future__ import annotations

import io
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner import attribution_for
from planner._atomic import _jsonable, write_json_atomic, write_text_atomic
from planner.strategies.base import Plan

logger = logging.getLogger(__name__)

# Columns that are geometry or internal indices, not properties.
_NON_PROPERTIES = frozenset({"node_idx", "x_m", "y_m", "lon", "lat"})
PLAN_PRODUCTS = ("sites.geojson", "corridors.geojson", "regions.csv", "summary.json", "map.html")


def _clean(value: Any) -> Any:
    """A JSON-safe scalar: numpy types to Python, NaN to ``None``."""
    value = _jsonable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def sites_feature_collection(plan: Plan) -> dict[str, Any]:
    """Return the plan's sites as an RFC 7946 FeatureCollection (a dict)."""
    sites = plan.sites
    props = [c for c in sites.columns if c not in _NON_PROPERTIES]
    lon = np.round(sites["lon"].to_numpy(dtype=float), 6)
    lat = np.round(sites["lat"].to_numpy(dtype=float), 6)
    records = sites[props].to_dict(orient="records")
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
            "properties": {k: _clean(v) for k, v in rec.items()},
        }
        for x, y, rec in zip(lon, lat, records, strict=True)
    ]
    return {
        "type": "FeatureCollection",
        "name": f"{plan.strategy} sites, {plan.ground.name}",
        "attribution": attribution_for(plan.ground.meta),
        "features": features,
    }


def corridors_feature_collection(plan: Plan) -> dict[str, Any]:
    """Return the plan's corridors as LineStrings with ``Plan.corridors`` columns as properties."""
    ground = plan.ground
    table = plan.corridors.set_index("corridor") if len(plan.corridors) else pd.DataFrame()
    features = []
    for corridor in ground.corridors:
        coords = np.column_stack(
            [ground.node_lon[corridor.node_idx], ground.node_lat[corridor.node_idx]]
        ).round(6)
        props: dict[str, Any] = {"corridor": corridor.corridor_id}
        if corridor.corridor_id in table.index:
            row = table.loc[corridor.corridor_id]
            if isinstance(row, pd.DataFrame):
                row = row.iloc[0]
            props.update({str(k): _clean(v) for k, v in row.items()})
        else:
            props["length_mi"] = round(corridor.length_m / 1609.344, 3)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coords.tolist()},
                "properties": props,
            }
        )
    return {
        "type": "FeatureCollection",
        "name": f"{plan.strategy} corridors, {plan.ground.name}",
        "attribution": attribution_for(plan.ground.meta),
        "features": features,
    }


def write_geojson(collection: dict[str, Any], path: str | Path) -> Path:
    """Write a FeatureCollection atomically (compact separators, UTF-8)."""
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return write_text_atomic(path, text + "\n")


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame as CSV atomically."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return write_text_atomic(path, buffer.getvalue())


def write_plan(plan: Plan, out_dir: str | Path) -> dict[str, Path]:
    """Write ``sites.geojson``, ``corridors.geojson``, ``regions.csv`` and ``summary.json``.

    ``corridors.geojson`` and ``regions.csv`` are written only when the plan has corridors or
    regions. Returns the written paths by product name.
    """
    out = Path(out_dir)
    written = {
        "sites.geojson": write_geojson(sites_feature_collection(plan), out / "sites.geojson")
    }
    if plan.ground.corridors:
        written["corridors.geojson"] = write_geojson(
            corridors_feature_collection(plan), out / "corridors.geojson"
        )
    if len(plan.regions):
        written["regions.csv"] = write_csv(plan.regions, out / "regions.csv")
    summary = dict(plan.summary)
    summary.setdefault("attribution", attribution_for(plan.ground.meta))
    written["summary.json"] = write_json_atomic(out / "summary.json", summary)
    logger.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written
