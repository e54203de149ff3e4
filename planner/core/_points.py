"""A GeoDataFrame of points as a plain table of WGS84 ``lon``/``lat`` (stations, user demand)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from planner.core.errors import DataError


def lonlat_table(gdf: gpd.GeoDataFrame, *, what: str, source: object) -> pd.DataFrame:
    """Return ``gdf``'s attributes with ``lon`` and ``lat`` columns instead of its geometry.

    Points in another CRS are reprojected to WGS84; a frame without a CRS is taken as WGS84.
    Non-point geometries raise :class:`DataError` naming ``what`` (the argument) and ``source``.
    """
    if len(gdf) and not (gdf.geom_type == "Point").all():
        kinds = ", ".join(sorted(set(map(str, gdf.geom_type.dropna()))))
        raise DataError(
            f"{what}: {source} holds non-point geometries ({kinds or 'empty'}); give points"
        )
    if gdf.crs is not None:
        gdf = gdf.to_crs("EPSG:4326")
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    return table.assign(lon=gdf.geometry.x.to_numpy(), lat=gdf.geometry.y.to_numpy())
