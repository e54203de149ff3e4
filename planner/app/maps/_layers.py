"""Map layers built from a plan: sites, coverage circles, corridors, network edges, demand heat.

Every layer embeds its data once as compact JSON (coordinates rounded to 5 decimals, about 1 m)
and builds its Leaflet objects in the browser, so a plan of 10^5 sites stays a few MB. Every string
that reaches a popup, tooltip or layer name is escaped in Python (:func:`escape_text`) first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import folium
import numpy as np
import pandas as pd
import shapely
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.plugins import HeatMap
from folium.template import Template
from pyproj import Transformer

from planner.app.maps._html import escape_text, js_json
from planner.core.units import M_PER_MI
from planner.ground.model import Ground
from planner.strategies.base import Plan

logger = logging.getLogger(__name__)

COORD_DECIMALS = 5


@dataclass(frozen=True)
class KindStyle:
    """How one site kind is drawn: legend label, awesome-markers colour, its hex, icon name."""

    label: str
    marker_color: str
    hex_color: str
    icon: str


KIND_STYLES: dict[str, KindStyle] = {
    "corridor_dc": KindStyle("Corridor DC fast", "red", "#d63e2a", "bolt"),
    "community_dc": KindStyle("Community DC fast", "orange", "#f69730", "charging-station"),
    "community_l2": KindStyle("Community Level 2", "blue", "#38aadd", "plug"),
    "existing": KindStyle("Existing station", "gray", "#575757", "circle-check"),
    "pile_station": KindStyle("Public pile station", "green", "#72b026", "charging-station"),
    "service_area": KindStyle("Expressway service area", "darkpurple", "#5b396b", "road"),
    "swap_station": KindStyle("Battery-swap station", "cadetblue", "#436978", "car-battery"),
    "site": KindStyle("Site", "darkblue", "#0067a3", "location-dot"),
}
CORRIDOR_COLORS = {True: "#2e7d32", False: "#c62828", None: "#607d8b"}

# Popup fields: (column, label, decimals); a field empty or zero for a whole layer is left out.
POPUP_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("site_id", "Site", -1),
    ("name", "Name", -1),
    ("ports", "Ports", 0),
    ("dc_ports", "DC ports", 0),
    ("ac_ports", "AC ports", 0),
    ("power_kw", "Power per port (kW)", 1),
    ("capacity_swaps_day", "Swap capacity (per day)", 0),
    ("demand_served", "Demand served", 1),
    ("corridor", "Corridor", -1),
    ("state", "Region", -1),
    ("capex_usd", "Capex (USD)", 0),
)


def kind_style(kind: str) -> KindStyle:
    """Return the style of ``kind``; unknown kinds are drawn as generic sites labelled by kind."""
    style = KIND_STYLES.get(kind)
    if style is not None:
        return style
    base = KIND_STYLES["site"]
    return replace(base, label=kind.replace("_", " ").capitalize() or base.label)


# The layer's data sits in a JSON script element (JSON.parse is far faster than evaluating a
# large JavaScript literal); ``js_json`` escapes "<", so the data cannot close the element.
_DATA_MACRO = """
{% macro html(this, kwargs) %}<script type="application/json" id="{{ this.get_name() }}_data">
{{- this.data_json -}}
</script>{% endmacro %}
"""


_SCRIPT_OPEN = """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var d = JSON.parse(
                document.getElementById("{{ this.get_name() }}_data").textContent);"""
_SCRIPT_CLOSE = """
        })();
        {% endmacro %}
        """


def json_layer_template(body: str) -> Template:
    """The template of a :class:`_JsonLayer`: its data element, then a script that parses the
    data into ``d``, runs ``body`` and returns the layer ``body`` builds."""
    return Template(_DATA_MACRO + _SCRIPT_OPEN + body + _SCRIPT_CLOSE)


class JsonText(str):
    """Data already serialised by :func:`planner.app.maps._html.js_json`: a layer embeds it as
    it is (e.g. made by another process, :func:`edges_layer_json`)."""


class _JsonLayer(Layer):
    """A toggleable layer whose Leaflet objects are built in the browser from embedded JSON."""

    def __init__(self, data: Any, *, name: str, show: bool = True) -> None:
        super().__init__(name=escape_text(name), overlay=True, control=True, show=show)
        self._name = type(self).__name__
        self.data_json = data if isinstance(data, JsonText) else js_json(data)


# Shared by both site layers: the data, one icon per layer, the count of drawn sites, popups.
_SITE_JS_HEAD = """
            var d = JSON.parse(
                document.getElementById("{{ this.get_name() }}_data").textContent);
            var icon = L.AwesomeMarkers.icon(
                {icon: d.icon, prefix: "fa", markerColor: d.color, iconColor: "white"});
            var group = L.featureGroup(), counted = false;
            function loaded(map) {  // count this layer's sites on the map element, once
                if (counted) { return; }
                counted = true;
                var c = map.getContainer();
                c.dataset.plannerSites = Number(c.dataset.plannerSites || 0) + d.rows.length;
            }
            function popup(e) {
                var r = e.layer.options.row, html = "<b>" + d.label + "</b><table>";
                for (var j = 0; j < d.fields.length; j++) {
                    var v = r[j + 2];
                    if (v === "" || v === null) { continue; }
                    if (typeof v === "number") { v = v.toLocaleString("en-US"); }
                    html += "<tr><th>" + d.fields[j] + "</th><td>" + v + "</td></tr>";
                }
                L.popup({maxWidth: 320, className: "planner-popup"})
                    .setLatLng(e.layer.getLatLng()).setContent(html + "</table>")
                    .openOn(e.target._map);
            }
"""


class SiteMarkers(_JsonLayer):
    """One site kind as awesome-marker icons; a click opens a popup built from escaped fields."""

    _template = Template(
        _DATA_MACRO
        + """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {"""
        + _SITE_JS_HEAD
        + """
            for (var i = 0; i < d.rows.length; i++) {
                var r = d.rows[i];
                group.addLayer(L.marker([r[0], r[1]], {icon: icon, row: r}));
            }
            group.on("click", popup);
            group.on("add", function () { loaded(group._map); });
            return group;
        })();
        {% endmacro %}
        """
    )


class ClusteredSiteMarkers(JSCSSMixin, SiteMarkers):
    """:class:`SiteMarkers` clustered with supercluster (a k-d tree index built in the browser).

    Only the clusters and sites in view are turned into Leaflet markers, at every ``moveend``;
    indexing 10^5 sites takes a fraction of a second, where Leaflet.markercluster needs seconds.
    Clusters are discs in the kind's colour (class ``marker-cluster``); a click zooms into one.
    """

    # An own immutable tuple (never folium's shared lists); cluster icons are styled by PAGE_CSS.
    default_js = (  # type: ignore[assignment]
        (
            "supercluster",
            "https://cdn.jsdelivr.net/npm/supercluster@8.0.1/dist/supercluster.min.js",
        ),
    )
    _template = Template(
        _DATA_MACRO
        + """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {"""
        + _SITE_JS_HEAD
        + """
            var points = new Array(d.rows.length);
            for (var i = 0; i < d.rows.length; i++) {
                points[i] = {type: "Feature", properties: {i: i},
                    geometry: {type: "Point", coordinates: [d.rows[i][1], d.rows[i][0]]}};
            }
            var index = new Supercluster({radius: 80, maxZoom: 16}).load(points);
            var map = null;
            function clusterIcon(n) {  // a disc in the kind's colour, growing with the count
                var px = n < 10 ? 24 : (n < 100 ? 30 : (n < 1000 ? 36 : 44));
                return L.divIcon({html: '<div style="background:' + d.hex + '">'
                    + n.toLocaleString("en-US") + "</div>", className: "marker-cluster",
                    iconSize: L.point(px, px)});
            }
            function update() {
                var b = map.getBounds().pad(0.25);
                var items = index.getClusters([b.getWest(), Math.max(b.getSouth(), -90),
                    b.getEast(), Math.min(b.getNorth(), 90)], map.getZoom());
                group.clearLayers();
                for (var k = 0; k < items.length; k++) {
                    var f = items[k], ll = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
                    if (f.properties.cluster) {
                        group.addLayer(L.marker(ll, {icon: clusterIcon(f.properties.point_count),
                            clusterId: f.properties.cluster_id}));
                    } else {
                        group.addLayer(L.marker(ll, {icon: icon, row: d.rows[f.properties.i]}));
                    }
                }
                loaded(map);
            }
            group.on("add", function () { map = group._map; map.on("moveend", update); update(); });
            group.on("remove", function () { map.off("moveend", update); map = null; });
            group.on("click", function (e) {
                var id = e.layer.options.clusterId;
                if (id === undefined) { popup(e); return; }
                map.setView(e.layer.getLatLng(), index.getClusterExpansionZoom(id));
            });
            return group;
        })();
        {% endmacro %}
        """
    )


class CircleLayer(_JsonLayer):
    """Circles of one radius (metres) around points: the coverage area of each site."""

    _template = json_layer_template(
        """
            var group = L.featureGroup();
            for (var i = 0; i < d.points.length; i++) {
                L.circle(d.points[i], {radius: d.radius_m, color: d.color, weight: 1,
                    fillOpacity: 0.08, opacity: 0.5, interactive: false}).addTo(group);
            }
            return group;"""
    )


class LineLayer(_JsonLayer):
    """Polylines with a colour, a weight and an optional (escaped) tooltip each."""

    _template = json_layer_template(
        """
            var group = L.featureGroup();
            for (var i = 0; i < d.lines.length; i++) {
                var l = d.lines[i];
                var line = L.polyline(l.c, {color: l.color, weight: l.w, opacity: l.o,
                    interactive: l.t !== ""});
                if (l.t !== "") { line.bindTooltip(l.t, {sticky: true}); }
                line.addTo(group);
            }
            return group;"""
    )


def site_layer(
    sites: pd.DataFrame, kind: str, *, clustered: bool, show: bool = True
) -> SiteMarkers:
    """Build the marker layer of the sites of one ``kind`` (named "<label> (<count>)")."""
    style = kind_style(kind)
    fields, rows = site_rows(sites)
    data = {
        "label": escape_text(style.label),
        "color": style.marker_color,
        "hex": style.hex_color,
        "icon": style.icon,
        "fields": [escape_text(label) for label in fields],
        "rows": rows,
    }
    cls = ClusteredSiteMarkers if clustered else SiteMarkers
    return cls(data, name=f"{style.label} ({len(sites):,})", show=show)


def site_rows(sites: pd.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """Return popup field labels and rows ``[lat, lon, value, ...]`` for ``sites``.

    Strings are escaped; numbers rounded; a field that is empty or zero on every row is dropped.
    """
    columns: list[list[Any]] = [
        _round(sites["lat"].to_numpy(float), COORD_DECIMALS),
        _round(sites["lon"].to_numpy(float), COORD_DECIMALS),
    ]
    labels = []
    for column, label, decimals in POPUP_FIELDS:
        if column not in sites.columns:
            continue
        values = sites[column]
        if decimals < 0:
            text = values.fillna("").astype(str)
            if (text == "").all():
                continue
            columns.append([escape_text(v) for v in text])
        else:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(float)
            if not np.any(np.nan_to_num(numbers) != 0):
                continue
            columns.append(_round(numbers, decimals))
        labels.append(label)
    return labels, [list(row) for row in zip(*columns, strict=True)]


def _round(values: np.ndarray, decimals: int) -> list[Any]:
    """Round to ``decimals`` (ints for 0), NaN becomes ``None``."""
    rounded = np.round(values, decimals)
    out: list[Any] = rounded.astype(np.int64).tolist() if decimals == 0 else rounded.tolist()
    if np.isnan(values).any():
        for i in np.flatnonzero(np.isnan(values)):
            out[i] = None
    return out


def coverage_layer(sites: pd.DataFrame, *, radius_m: float, show: bool = True) -> CircleLayer:
    """Build the layer of coverage circles of radius ``radius_m`` around every site."""
    points = np.column_stack(
        [np.round(sites["lat"].to_numpy(float), 5), np.round(sites["lon"].to_numpy(float), 5)]
    )
    data = {"points": points.tolist(), "radius_m": float(radius_m), "color": "#3a6fb0"}
    return CircleLayer(data, name=f"Coverage ({radius_m / 1000:g} km)", show=show)


# -- issue 18 (city plans): merged service areas instead of one circle per site ----------------


def service_area_label(plan: Plan, radius_m: float) -> str:
    """``"5 min"`` for a drive-time plan (``summary["radius_min"]``), else ``"2 km"``."""
    return str(_plan_radius(plan, radius_m).label)


def _plan_radius(plan: Plan, radius_m: float) -> Any:
    from planner.ground.reach import ServiceRadius

    minutes = plan.summary.get("radius_min")
    return ServiceRadius(radius_min=float(minutes)) if minutes else ServiceRadius(radius_m)


def service_area_geometry(plan: Plan, *, radius_m: float) -> dict[str, Any]:
    """The WGS84 GeoJSON geometry of :func:`service_area_layer`: the merged area the plan's sites
    reach on the network (:func:`planner.ground.reach.service_area`)."""
    from planner.ground.reach import service_area_geojson

    nodes = plan.sites["node_idx"].to_numpy()
    return service_area_geojson(plan.ground, nodes, _plan_radius(plan, radius_m))


def service_area_layer(
    plan: Plan,
    *,
    radius_m: float,
    show: bool = True,
    geometry: Callable[[], Mapping[str, Any]] | None = None,
) -> folium.GeoJson:
    """The merged area the plan's sites reach on the network (:func:`service_area_geometry`).

    Within ``radius_m`` of road, or within ``summary["radius_min"]`` minutes of driving for a
    drive-time plan; one light shape instead of overlapping circles. ``geometry`` gives
    :func:`service_area_geometry` when asked (e.g. computed meanwhile by another process,
    :func:`planner.app._dask.aside`); by default it is computed here.
    """
    radius = _plan_radius(plan, radius_m)
    shape = geometry() if geometry is not None else service_area_geometry(plan, radius_m=radius_m)
    style = {"color": "#3a6fb0", "weight": 1, "opacity": 0.6, "fillOpacity": 0.12}
    return folium.GeoJson(
        {"type": "Feature", "properties": {}, "geometry": shape},
        name=f"Service area ({radius.label})",
        style_function=lambda _feature: style,
        interactive=False,
        show=show,
    )


def corridor_layer(
    ground: Ground, corridors: pd.DataFrame, *, tolerance_m: float = 100.0, show: bool = True
) -> LineLayer | None:
    """Draw ``ground.corridors`` coloured by compliance from the plan's ``corridors`` table.

    A corridor absent from the table (or a table without ``compliant``) is drawn grey. Lines are
    simplified (Douglas-Peucker, ``tolerance_m``) in the ground's projected CRS. Returns ``None``
    when the ground has no corridors.
    """
    if not ground.corridors:
        return None
    table = corridors.set_index("corridor") if "corridor" in corridors.columns else None
    lines = []
    for corridor in ground.corridors:
        keep = simplified_vertices(
            ground.node_x_m[corridor.node_idx], ground.node_y_m[corridor.node_idx], tolerance_m
        )
        nodes = corridor.node_idx[keep]
        coords = np.column_stack([ground.node_lat[nodes], ground.node_lon[nodes]])
        row = table.loc[corridor.corridor_id] if table is not None else None
        if isinstance(row, pd.DataFrame):
            row = row.iloc[0]
        compliant = _compliance(row)
        lines.append(
            {
                "c": np.round(coords, COORD_DECIMALS).tolist(),
                "color": CORRIDOR_COLORS[compliant],
                "w": 4,
                "o": 0.85,
                "t": _corridor_tooltip(corridor.corridor_id, corridor.length_m, row, compliant),
            }
        )
    return LineLayer({"lines": lines}, name="Corridors", show=show)


def _compliance(row: pd.Series | None) -> bool | None:
    if row is None or "compliant" not in row.index or pd.isna(row["compliant"]):
        return None
    return bool(row["compliant"])


def _corridor_tooltip(
    corridor_id: str, length_m: float, row: pd.Series | None, compliant: bool | None
) -> str:
    parts = [f"<b>{escape_text(corridor_id)}</b>", f"{length_m / M_PER_MI:,.0f} mi"]
    if compliant is not None:
        parts.append("compliant" if compliant else "NOT compliant")
    if row is not None and "max_gap_mi" in row.index and pd.notna(row["max_gap_mi"]):
        parts.append(f"max gap {float(row['max_gap_mi']):,.1f} mi")
    if row is not None and "stations" in row.index and pd.notna(row["stations"]):
        parts.append(f"{int(row['stations']):,} stations")
    return " &middot; ".join(parts)


def simplified_vertices(x_m: np.ndarray, y_m: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Return the indices of the vertices a Douglas-Peucker simplification keeps (ends always)."""
    n = int(x_m.shape[0])
    if n <= 2 or tolerance_m <= 0:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[[0, n - 1]] = True
    stack = [(0, n - 1)]
    while stack:
        lo, hi = stack.pop()
        if hi - lo < 2:
            continue
        dx, dy = x_m[hi] - x_m[lo], y_m[hi] - y_m[lo]
        seg = np.hypot(dx, dy)
        px, py = x_m[lo + 1 : hi] - x_m[lo], y_m[lo + 1 : hi] - y_m[lo]
        dist = np.abs(dx * py - dy * px) / seg if seg > 0 else np.hypot(px, py)
        k = int(np.argmax(dist))
        if dist[k] > tolerance_m:
            mid = lo + 1 + k
            keep[mid] = True
            stack.extend([(lo, mid), (mid, hi)])
    return np.flatnonzero(keep)


def edges_layer(
    edges: Any, *, crs: str, max_edges: int = 40_000, tolerance_m: float = 3.0, show: bool = True
) -> LineLayer:
    """Draw network edges (a GeoDataFrame of LineStrings) as one thin grey polyline layer
    (:func:`edges_layer_json`)."""
    data = edges_layer_json(edges, crs=crs, max_edges=max_edges, tolerance_m=tolerance_m)
    return LineLayer(data, name="Road network", show=show)


def edges_layer_json(
    edges: Any, *, crs: str, max_edges: int = 40_000, tolerance_m: float = 3.0
) -> JsonText:
    """The data of :func:`edges_layer`, serialised.

    Edges (WGS84 when they carry no CRS) are projected to the metric ``crs``, thinned to the
    ``max_edges`` longest, simplified by ``tolerance_m`` and rounded to 5 decimals in WGS84.
    """
    gdf = (edges.set_crs(4326) if edges.crs is None else edges).to_crs(crs)
    geoms = gdf.geometry.to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if geoms.size > max_edges:
        logger.info("map: thinning %d network edges to the %d longest", geoms.size, max_edges)
        geoms = geoms[np.argsort(-shapely.length(geoms), kind="stable")[:max_edges]]
    geoms = shapely.simplify(geoms, tolerance_m)
    parts = shapely.get_parts(geoms)
    xy, index = shapely.get_coordinates(parts, return_index=True)
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
    latlon = np.round(np.column_stack([lat, lon]), COORD_DECIMALS)
    bounds = np.flatnonzero(np.diff(index)) + 1
    paths = [chunk.tolist() for chunk in np.split(latlon, bounds) if len(chunk) > 1]
    line = {"c": paths, "color": "#7a7a7a", "w": 1, "o": 0.55, "t": ""}
    return JsonText(js_json({"lines": [line]}))


def demand_layer(
    ground: Ground, *, max_points: int = 50_000, cell_m: float = 250.0, show: bool = True
) -> HeatMap | None:
    """Build a demand heatmap; beyond ``max_points`` demand is summed on a coarsening grid."""
    d = ground.demand
    if d.demand.size == 0 or not np.any(d.demand > 0):
        return None
    lat, lon, w = np.asarray(d.lat, float), np.asarray(d.lon, float), np.asarray(d.demand, float)
    while lat.size > max_points:
        lat, lon, w = _grid_sum(d.x_m, d.y_m, d.lat, d.lon, d.demand, cell_m)
        cell_m *= 2
    scale = float(np.quantile(w[w > 0], 0.98)) or 1.0
    weight = np.clip(w / scale, 0.0, 1.0)
    data = np.column_stack([np.round(lat, 5), np.round(lon, 5), np.round(weight, 3)])
    return HeatMap(
        data[weight > 0].tolist(),
        name=escape_text(f"Demand ({d.unit})"),
        min_opacity=0.25,
        radius=12,
        blur=14,
        show=show,
    )


def _grid_sum(
    x_m: np.ndarray,
    y_m: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    w: np.ndarray,
    cell_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum demand per square cell; each cell sits at its demand-weighted mean position."""
    keys = np.column_stack([np.floor(x_m / cell_m), np.floor(y_m / cell_m)])
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    total = np.bincount(inverse, weights=w)
    safe = np.where(total > 0, total, 1.0)
    count = np.bincount(inverse)
    wl = np.where(total > 0, np.bincount(inverse, weights=w * lat) / safe, 0.0)
    wn = np.where(total > 0, np.bincount(inverse, weights=w * lon) / safe, 0.0)
    mean_lat = np.where(total > 0, wl, np.bincount(inverse, weights=lat) / count)
    mean_lon = np.where(total > 0, wn, np.bincount(inverse, weights=lon) / count)
    return mean_lat, mean_lon, total
