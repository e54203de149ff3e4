"""Context for national maps: state/province outlines, charging deserts, the opening view.

* :func:`outline_layer` -- state and province outlines as a light canvas line layer, the base a
  map without web tiles needs to show where things are (Natural Earth, public domain).
* :func:`desert_layer` -- populated places farther than 10 / 25 / 50 km from any DC site.
* :func:`home_view` / :class:`ViewButtons` -- the US opens on the contiguous 48; buttons jump to
  Alaska and Hawaii (and back).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import shapely
from branca.element import MacroElement
from folium.template import Template

from planner.app.maps._html import escape_text, js_json
from planner.app.maps._layers import _JsonLayer, json_layer_template
from planner.countries import country_codes, get_country
from planner.strategies.base import Plan

logger = logging.getLogger(__name__)

OUTLINE_TOLERANCE_DEG = 0.01  # about 1 km: invisible at national zoom levels
OUTLINE_DECIMALS = 3


class _Views(Mapping[str, dict[str, list[list[float]]]]):
    """``{country: {view name: [[south, west], [north, east]]}}`` of the registered countries
    that name map views (their profiles' ``map_views``)."""

    def _all(self) -> dict[str, dict[str, list[list[float]]]]:
        out = {}
        for code in country_codes():
            views = get_country(code).map_views
            if views:
                out[code] = {name: [[s, w], [n, e]] for name, (s, w, n, e) in views}
        return out

    def __getitem__(self, code: str) -> dict[str, list[list[float]]]:
        return self._all()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


#: [[south, west], [north, east]] of each named view, by country.
VIEWS: Mapping[str, dict[str, list[list[float]]]] = _Views()
DESERT_COLORS = {10: "#f4a259", 25: "#e4572e", 50: "#8c1c13"}


class OutlineLayer(_JsonLayer):
    """Polygon outlines drawn on one shared canvas, non-interactive (no tooltips, no clicks)."""

    _template = json_layer_template(
        """
            return L.polyline(d.lines, {color: d.color, weight: d.weight, opacity: 0.9,
                fill: false, interactive: false, renderer: L.canvas({padding: 0.2}),
                attribution: "outlines: Natural Earth (public domain)"});"""
    )


class DesertLayer(_JsonLayer):
    """Places beyond a DC-distance band as small canvas circles coloured by band."""

    _template = json_layer_template(
        """
            var renderer = L.canvas({padding: 0.2}), group = L.featureGroup();
            for (var i = 0; i < d.places.length; i++) {
                var r = d.places[i];
                L.circleMarker([r[0], r[1]], {radius: r[3], color: d.colors[r[2]], weight: 0,
                    fillOpacity: 0.75, interactive: false, renderer: renderer}).addTo(group);
            }
            return group;"""
    )


class ViewButtons(MacroElement):
    """A control of buttons that fit the map to named views (Lower 48, Alaska, Hawaii)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }}, views = {{ this.views_json }};
            var control = L.control({position: "bottomright"});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", "leaflet-bar planner-views");
                Object.keys(views).forEach(function (name) {
                    var a = L.DomUtil.create("a", "", div);
                    a.href = "#"; a.textContent = name; a.title = "Show " + name;
                    L.DomEvent.on(a, "click", function (e) {
                        L.DomEvent.preventDefault(e);
                        map.fitBounds(views[name]);
                    });
                });
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            control.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, views: dict[str, list[list[float]]]) -> None:
        super().__init__()
        self._name = "ViewButtons"
        self.views_json = js_json({escape_text(k): v for k, v in views.items()})


def home_view(plans: list[Plan]) -> list[list[float]] | None:
    """The opening view of national plans on one country with a named first view, or ``None``."""
    countries = {p.ground.country for p in plans}
    national = all(p.ground.scale == "national" for p in plans)
    if not national or len(countries) != 1:
        return None
    views = VIEWS.get(next(iter(countries)), {})
    return next(iter(views.values()), None)


def load_outlines(country: str) -> Any:
    """State or province polygons of ``country`` (GeoDataFrame, EPSG:4326), or ``None``.

    Uses :func:`planner.ground.boundaries.load_boundaries` (the shipped Natural Earth copies).
    """
    from planner.ground.boundaries import load_boundaries

    try:
        return load_boundaries(country)
    except (OSError, ValueError) as exc:
        logger.info("map: no outlines for %s (%s)", country, exc)
        return None


def outline_layer(boundaries: Any, *, show: bool = True) -> OutlineLayer | None:
    """Draw the boundaries of a GeoDataFrame of polygons as light grey outlines.

    Polygons are simplified by :data:`OUTLINE_TOLERANCE_DEG` (topology kept) and rounded to
    :data:`OUTLINE_DECIMALS` decimals; ``None`` when there is nothing to draw.
    """
    if boundaries is None or not len(boundaries):
        return None
    gdf = boundaries.to_crs(4326) if boundaries.crs is not None else boundaries
    geoms = shapely.simplify(gdf.geometry.to_numpy(), OUTLINE_TOLERANCE_DEG, preserve_topology=True)
    rings = shapely.get_parts(shapely.boundary(geoms[~shapely.is_empty(geoms)]))
    lines = []
    for ring in rings:
        xy = np.round(shapely.get_coordinates(ring), OUTLINE_DECIMALS)
        if len(xy) > 1:
            lines.append(xy[:, ::-1].tolist())
    if not lines:
        return None
    data = {"lines": lines, "color": "#8a8f98", "weight": 1}
    return OutlineLayer(data, name="State / province outlines", show=show)


def desert_layer(plan: Plan, *, show: bool = False) -> DesertLayer | None:
    """Places farther than 10 km from any DC site, coloured by band (10 / 25 / 50 km).

    Circle radius (px) grows with the square root of the place's population. ``None`` when no
    place lies beyond 10 km.
    """
    from planner.app.equity import DESERT_BANDS_KM, dc_distance_m
    from planner.ground.reach import evaluation_points

    points = evaluation_points(plan.ground)
    dist_km = dc_distance_m(plan) / 1000.0
    band = np.zeros(dist_km.shape, dtype=int)
    for b in DESERT_BANDS_KM:
        band = np.where(dist_km > b, b, band)
    keep = band > 0
    if not keep.any():
        return None
    people = np.asarray(points.demand, float)[keep]
    radius = np.clip(np.sqrt(people) / 60.0, 1.5, 9.0)
    rows = np.column_stack(
        [np.round(np.asarray(points.lat)[keep], 3), np.round(np.asarray(points.lon)[keep], 3)]
    ).tolist()
    data = {
        "places": [
            [lat, lon, str(int(b)), round(float(r), 1)]
            for (lat, lon), b, r in zip(rows, band[keep], radius, strict=True)
        ],
        "colors": {str(b): c for b, c in DESERT_COLORS.items()},
    }
    name = f"Charging deserts: {int(keep.sum()):,} places > 10 km from DC"
    return DesertLayer(data, name=name, show=show)
