"""The public map builders: one city plan, one national plan, several plans side by side."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import folium
import numpy as np
import pandas as pd
from branca.element import Element, Figure

from planner.app.maps._context import (
    VIEWS,
    ViewButtons,
    desert_layer,
    home_view,
    load_outlines,
    outline_layer,
)
from planner.app.maps._html import escape_text
from planner.app.maps._layers import (
    JsonText,
    LineLayer,
    corridor_layer,
    demand_layer,
    edges_layer,
    service_area_label,
    service_area_layer,
    site_layer,
)
from planner.app.maps._legend import Attribution, Legend, SyncMaps, add_page_css, legend_html
from planner.core.errors import InputError, describe
from planner.strategies.base import Plan

logger = logging.getLogger(__name__)

# A city map draws every site as its own marker up to this many sites, then clusters them.
CLUSTER_ABOVE_SITES = 2_000
# Demand beyond this many points is summed on a grid before the heatmap is drawn.
HEAT_POINTS_CITY = 50_000
HEAT_POINTS_NATIONAL = 20_000
MAX_MAP_COLUMNS = 3
# Height (px) kept free below national data for the folded legend and the scale bar.
LEGEND_BAND_PX = 84


def city_map(
    plan: Plan,
    *,
    edges: Any | None = None,
    coverage_radius_m: float | None = None,
    offline_assets: bool | None = None,
    max_edges: int = 40_000,
    service_area: Callable[[], Mapping[str, Any]] | None = None,
    network: Callable[[], str] | None = None,
) -> folium.Map:
    """Map a city plan: road network, demand heatmap, sites by kind, coverage circles, legend.

    Parameters
    ----------
    plan
        The plan; its ``sites`` need ``lat``, ``lon`` and ``kind``.
    edges
        Network edges (GeoDataFrame of LineStrings); default ``plan.ground.edges`` if it is one.
    coverage_radius_m
        Radius of the coverage circle drawn around each site; ``None`` draws none.
    offline_assets
        ``True`` draws no web tiles (the map is written with local assets by
        :func:`planner.app.maps.write_map`); ``None``/``False`` uses OpenStreetMap tiles.
    max_edges
        Keep at most this many (the longest) edges so the page stays small.
    service_area
        With ``coverage_radius_m``: a function giving the service area's geometry
        (:func:`planner.app.maps._layers.service_area_geometry`), called when its layer is
        added, after the network, demand and site layers; by default it is computed then.
    network
        A function giving the road network layer's data instead of ``edges``
        (:func:`planner.app.maps._layers.edges_layer_json`, e.g. made by another process).

    Returns
    -------
    folium.Map
        Layers: "Road network", "Demand", one per site kind, "Coverage", "Corridors" (if any),
        a layer control, a legend and the OpenStreetMap/GeoNames attribution.
    """
    _check_plan(plan)
    if coverage_radius_m is not None and not coverage_radius_m > 0:
        raise InputError(
            f"coverage_radius_m: expected a positive radius in metres or None, got "
            f"{describe(coverage_radius_m)}; pass e.g. 1000"
        )
    edges = cast(Any, plan.ground.edges) if edges is None else edges
    if edges is not None and not hasattr(edges, "geometry"):
        raise InputError(
            f"edges: expected a GeoDataFrame of LineStrings or None, got {type(edges).__name__}; "
            "pass the network's edge GeoDataFrame"
        )
    m = _base_map([plan], offline=bool(offline_assets))
    drawn = network is not None or (edges is not None and len(edges) > 0)
    if network is not None:
        LineLayer(JsonText(network()), name="Road network").add_to(m)
    elif drawn:
        edges_layer(edges, crs=plan.ground.crs, max_edges=max_edges).add_to(m)
    _add_plan_layers(
        m,
        plan,
        clustered=len(plan.sites) > CLUSTER_ABOVE_SITES,
        coverage_radius_m=coverage_radius_m,
        network=drawn,
        service_area=service_area,
    )
    return m


def national_map(
    plan: Plan,
    *,
    offline_assets: bool | None = None,
    max_heat_points: int = HEAT_POINTS_NATIONAL,
    show_demand: bool = True,
) -> folium.Map:
    """Map a national plan: clustered sites by kind, corridors coloured by compliance, demand.

    Sites (10^4-10^5) are embedded once as compact JSON and clustered in the browser with
    Leaflet.markercluster; corridors come from ``plan.ground.corridors`` and are green where
    ``plan.corridors.compliant`` holds, red where not, grey where the plan has no corridor rule.

    Parameters
    ----------
    plan
        The plan; its ``sites`` need ``lat``, ``lon`` and ``kind``.
    offline_assets
        ``True`` draws no web tiles; ``None``/``False`` uses OpenStreetMap tiles.
    max_heat_points
        Demand beyond this many points is summed on a grid before the heatmap is drawn.
    show_demand
        Whether the demand layer is shown when the page opens (it is always in the control).

    Returns
    -------
    folium.Map
    """
    _check_plan(plan)
    m = _base_map([plan], offline=bool(offline_assets))
    _add_plan_layers(
        m,
        plan,
        clustered=True,
        max_heat_points=max_heat_points,
        show_demand=show_demand,
        outlines=bool(offline_assets),
    )
    return m


def compare_map(
    plans: Sequence[Plan],
    metrics: pd.DataFrame | None = None,
    *,
    offline_assets: bool | None = None,
    title: str = "Strategy comparison",
    coverage_radius_m: float | None = None,
) -> Figure:
    """Put two or more plans side by side, with synchronised pan and zoom, under a metrics table.

    Each plan gets its own map (toggleable layers: sites by kind, corridors, demand; a legend
    titled with the strategy). The maps are kept in step with Leaflet.Sync, the plugin behind
    ``folium.plugins.DualMap``; DualMap itself is not used because it fixes two absolutely
    positioned maps and copies every layer to both, while each plan here has its own layers and
    the metrics table sits above the maps. Up to three maps share a row. Plans whose areas do
    not overlap (say, a US and a Chinese ground) are not synchronised: each keeps its own view.

    Parameters
    ----------
    plans
        At least two plans.
    metrics
        A table shown above the maps (index and cells escaped), or ``None``.
    offline_assets
        ``True`` draws no web tiles; ``None``/``False`` uses OpenStreetMap tiles.
    title
        Page heading.
    coverage_radius_m
        Draw coverage circles of this radius on city plans; ``None`` draws none.

    Returns
    -------
    branca.element.Figure
        The page; write it with :func:`planner.app.maps.write_map`.
    """
    plans = _check_compare(plans, metrics)
    # Plans on one area (the usual case: strategies run on one ground) share a synchronised view;
    # plans on disjoint areas keep their own views.
    synced = _overlap([_bounds([plan]) for plan in plans])
    figure = Figure(title=escape_text(title))
    add_page_css(figure)
    figure.header.add_child(Element(_grid_css(len(plans))), name="planner_grid")
    header = _compare_header(title, metrics, synced=synced)
    figure.html.add_child(Element(header), name="planner_header")
    maps = []
    for plan in plans:
        m = _base_map(plans if synced else [plan], offline=bool(offline_assets), page=figure)
        national = plan.ground.scale == "national"
        _add_plan_layers(
            m,
            plan,
            clustered=national or len(plan.sites) > CLUSTER_ABOVE_SITES,
            coverage_radius_m=None if national else coverage_radius_m,
            max_heat_points=HEAT_POINTS_NATIONAL if national else HEAT_POINTS_CITY,
            collapse_control=len(plans) > 1,  # narrow panes: the legend says what is drawn
            outlines=bool(offline_assets),
        )
        maps.append(m)
    if synced:
        figure.add_child(SyncMaps(maps))
    return figure


def _check_compare(plans: object, metrics: object) -> list[Plan]:
    """Validate :func:`compare_map`'s arguments; return the plans as a list."""
    items = list(plans) if isinstance(plans, Sequence) and not isinstance(plans, str) else None
    if items is None or len(items) < 2:
        raise InputError(
            f"plans: expected a list of at least two Plan objects, got {describe(plans)}; "
            "pass the plans to compare"
        )
    for i, plan in enumerate(items):
        _check_plan(plan, arg=f"plans[{i}]")
    if metrics is not None and not isinstance(metrics, pd.DataFrame):
        raise InputError(
            f"metrics: expected a pandas DataFrame or None, got {type(metrics).__name__}; "
            "pass the comparison table"
        )
    return items


def _overlap(boxes: Sequence[list[list[float]]]) -> bool:
    """Whether all ``[[south, west], [north, east]]`` boxes share a common area."""
    south = max(b[0][0] for b in boxes)
    west = max(b[0][1] for b in boxes)
    north = min(b[1][0] for b in boxes)
    east = min(b[1][1] for b in boxes)
    return south <= north and west <= east


def _check_plan(plan: object, *, arg: str = "plan") -> None:
    """Raise :class:`InputError` unless ``plan`` is a Plan whose sites can be mapped."""
    if not isinstance(plan, Plan):
        raise InputError(
            f"{arg}: expected a planner Plan, got {type(plan).__name__}; pass a strategy's result"
        )
    missing = [c for c in ("lat", "lon", "kind") if c not in plan.sites.columns]
    if missing:
        raise InputError(
            f"{arg}.sites: expected columns lat, lon and kind, missing {', '.join(missing)}; "
            "build sites with planner.strategies.base.SITE_COLUMNS"
        )
    lat = pd.to_numeric(plan.sites["lat"], errors="coerce").to_numpy(float)
    lon = pd.to_numeric(plan.sites["lon"], errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{arg}.sites: expected WGS84 lat/lon, got {int(bad.sum())} rows without valid ones "
            f"(first: row {i}, lat={lat[i]}, lon={lon[i]}); fix or drop those sites"
        )


def _bounds(plans: Sequence[Plan]) -> list[list[float]]:
    """South-west and north-east corners around every plan's sites and demand."""
    lats, lons = [], []
    for plan in plans:
        lats += [plan.sites["lat"].to_numpy(float), np.asarray(plan.ground.demand.lat, float)]
        lons += [plan.sites["lon"].to_numpy(float), np.asarray(plan.ground.demand.lon, float)]
    lat, lon = np.concatenate(lats), np.concatenate(lons)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return [[-60.0, -170.0], [75.0, 170.0]]
    return [
        [float(lat[ok].min()), float(lon[ok].min())],
        [float(lat[ok].max()), float(lon[ok].max())],
    ]


def _base_map(plans: Sequence[Plan], *, offline: bool, page: Figure | None = None) -> folium.Map:
    """A map fitted to ``plans``: no tiles offline, OpenStreetMap tiles online; maxZoom set.

    National plans on one country with named views (the US) open on the first (the contiguous
    48), with buttons for the others; fractional zoom lets the view fill the pane.
    """
    bounds = home_view(list(plans)) or _bounds(plans)
    (south, west), (north, east) = bounds
    national = any(p.ground.scale == "national" for p in plans)
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=None if offline else "OpenStreetMap",
        maxZoom=18,  # MarkerCluster needs the map's own maxZoom when there is no tile layer
        minZoom=2 if national else 0,  # fewer cluster levels to compute for national maps
        zoomSnap=0.1 if national else 1,
        zoom_start=5,
        control_scale=True,
        position="relative",
        width="100%",
        height="100%",
    )
    if page is not None:
        page.add_child(m)
    else:
        add_page_css(cast(Figure, m.get_root()))
    # national maps keep a band below the data for the legend and the scale (bottom left)
    m.fit_bounds(
        bounds, padding_top_left=(8, 8), padding_bottom_right=(8, LEGEND_BAND_PX if national else 8)
    )
    countries = {p.ground.country for p in plans}
    if national and len(countries) == 1 and next(iter(countries)) in VIEWS:
        ViewButtons(VIEWS[next(iter(countries))]).add_to(m)
    Attribution(_national_credit(plans)).add_to(m)
    return m


def _national_credit(plans: Sequence[Plan]) -> str:
    """The data credits of the plans' grounds beyond OpenStreetMap and GeoNames."""
    return "; ".join(sorted({c for p in plans for c in p.ground.extra_credits()}))


def _add_plan_layers(
    m: folium.Map,
    plan: Plan,
    *,
    clustered: bool,
    coverage_radius_m: float | None = None,
    max_heat_points: int = HEAT_POINTS_CITY,
    show_demand: bool = True,
    network: bool = False,
    collapse_control: bool = False,
    outlines: bool = False,
    service_area: Callable[[], Mapping[str, Any]] | None = None,
) -> None:
    """Add outlines, demand, sites by kind, coverage, corridors, deserts, the layer control and
    the legend (national plans: outlines shown when ``outlines``, deserts hidden at first)."""
    national = plan.ground.scale == "national"
    base = outline_layer(load_outlines(plan.ground.country), show=outlines) if national else None
    if base is not None:
        base.add_to(m)
    heat = demand_layer(plan.ground, max_points=max_heat_points, show=show_demand)
    if heat is not None:
        heat.add_to(m)
    kinds = plan.sites["kind"].fillna("site").astype(str)
    counts = kinds.value_counts(sort=False)
    for kind in sorted(counts.index):
        site_layer(plan.sites[kinds == kind], kind, clustered=clustered).add_to(m)
    if coverage_radius_m is not None and len(plan.sites):  # merged, not a circle per site
        service_area_layer(plan, radius_m=coverage_radius_m, geometry=service_area).add_to(m)
    lines = corridor_layer(plan.ground, plan.corridors)
    if lines is not None:
        lines.add_to(m)
    deserts = desert_layer(plan) if national else None
    if deserts is not None:
        deserts.add_to(m)
    # national maps: the expanded control would cover the north-east; the legend says what is drawn
    folium.LayerControl(collapsed=collapse_control or national).add_to(m)
    title = f"{plan.strategy} \u2014 {plan.ground.name}: {len(plan.sites):,} sites"
    Legend(
        legend_html(
            title=title,
            kind_counts={k: int(counts[k]) for k in sorted(counts.index)},
            corridors=lines is not None,
            demand=heat is not None,
            coverage_radius_m=coverage_radius_m,
            coverage_label=(
                service_area_label(plan, coverage_radius_m) if coverage_radius_m else None
            ),
            network=network,
            clustered=clustered,
            outlines=base is not None,
            deserts=deserts is not None,
            folded=collapse_control,
        ),
        position="bottomleft" if national else "bottomright",
    ).add_to(m)


def _grid_css(n_maps: int) -> str:
    """CSS laying the header over the full width and the maps in up to three columns."""
    columns = min(n_maps, MAX_MAP_COLUMNS)
    rows = -(-n_maps // columns)
    map_rows = "minmax(0, 1fr)" if rows == 1 else f"repeat({rows}, 70vh)"
    height = "100vh" if rows == 1 else "auto"
    return (
        "<style>body { display: grid; "
        f"grid-template-columns: repeat({columns}, minmax(0, 1fr)); "
        f"grid-template-rows: auto {map_rows}; height: {height}; gap: 4px; }}"
        ".folium-map { min-height: 300px; }</style>"
    )


def _compare_header(title: str, metrics: pd.DataFrame | None, *, synced: bool) -> str:
    """The page heading and the escaped metrics table."""
    table = "" if metrics is None else _scroll_table(metrics)
    sync = (
        "Pan and zoom are synchronised across the maps."
        if synced
        else "The plans cover different areas: each map keeps its own view."
    )
    note = (
        f'<div class="planner-compare-note">{sync} '
        "Map data &copy; OpenStreetMap contributors (ODbL); populated places &copy; GeoNames "
        "(CC-BY 4.0).</div>"
    )
    return f'<div class="planner-compare-header"><h1>{escape_text(title)}</h1>{table}{note}</div>'


def _scroll_table(metrics: pd.DataFrame) -> str:
    """The metrics one strategy per column, one metric per row (figures before labels), in a
    scrolling box."""
    frame = metrics.set_index("strategy") if "strategy" in metrics.columns else metrics
    table = frame.T
    text = [i for i in table.index if not pd.api.types.is_numeric_dtype(frame[i])]  # labels last
    table = table.loc[[i for i in table.index if i not in text] + text]
    table.index.name = "metric"
    return f'<div class="planner-metrics-scroll">{metrics_table_html(table)}</div>'


def metrics_table_html(metrics: pd.DataFrame, *, max_rows: int = 200) -> str:
    """Render ``metrics`` as an HTML table; the index, headers and cells are all escaped."""
    frame = metrics.head(max_rows)
    head = "".join(f"<th>{escape_text(c)}</th>" for c in [frame.index.name or "", *frame.columns])
    body = []
    for index, row in frame.iterrows():
        cells = "".join(f"<td>{escape_text(_fmt(v))}</td>" for v in row)
        body.append(f"<tr><th>{escape_text(index)}</th>{cells}</tr>")
    return (
        f'<table class="planner-metrics"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _fmt(value: object) -> str:
    """Format a table cell: thousands separators, at most 3 significant decimals."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        value = float(value)
        if not np.isfinite(value):
            return ""
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.3g}"
    return str(value)
