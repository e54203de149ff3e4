"""The results of the Python API: a :class:`Plan` and a :class:`Comparison` of plans.

A :class:`Plan` wraps what a strategy returns (:class:`planner.strategies.base.Plan`, the array
core in projected metres, kept as :attr:`Plan.core`) and shows it the way GIS tools expect:
GeoDataFrames in WGS84, an interactive folium map, and files in any vector format.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.core.errors import InputError, describe
from planner.ground.model import Ground
from planner.strategies.base import Plan as StrategyPlan

if TYPE_CHECKING:
    import folium
    import geopandas as gpd
    from branca.element import Figure

logger = logging.getLogger(__name__)


def _frozen(value: Any) -> Any:
    """A read-only view of a JSON-like value: mappings as proxies, lists as tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


@dataclass(frozen=True, eq=False)
class Plan:
    """A charging plan: where the sites are, what they hold, and the figures that describe it.

    Returned by :func:`planner.plan_city`, :func:`planner.plan_national` and
    :func:`planner.compare`; not built by hand.

    Attributes
    ----------
    core
        The strategy's own result (:class:`planner.strategies.base.Plan`): site table with
        projected ``x_m``/``y_m`` and network node indices, and the ground planned on.

    Examples
    --------
    >>> plan = planner.plan_national("us", seed=0)  # doctest: +SKIP
    >>> plan.sites.head()  # doctest: +SKIP
    >>> plan.to_file("us.gpkg")  # doctest: +SKIP
    """

    core: StrategyPlan
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.core, StrategyPlan):
            raise InputError(
                f"core: expected a strategy's Plan, got {type(self.core).__name__}; use "
                "planner.plan_city or planner.plan_national"
            )

    def __repr__(self) -> str:
        ports = int(pd.to_numeric(self.core.sites.get("ports", pd.Series(dtype=float))).sum())
        return (
            f"<planner.Plan {self.strategy!r} on {self.ground.name} ({self.ground.scale}): "
            f"{len(self.core.sites):,} sites, {ports:,} ports>"
        )

    @property
    def strategy(self) -> str:
        """The registered strategy that made the plan."""
        return self.core.strategy

    @property
    def ground(self) -> Ground:
        """The ground planned on (network, demand, candidates, corridors, regions)."""
        return self.core.ground

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """One point per site in EPSG:4326 with its properties (``site_id``, ``kind``,
        ``ports``, ``dc_ports``, ``ac_ports``, ``power_kw``, ``demand_served``, ``existing``,
        ``corridor``, ``state``, ``capex_usd`` and the strategy's own columns); a copy."""
        return self._frame("sites").copy()

    @property
    def corridors(self) -> gpd.GeoDataFrame:
        """One line per corridor in EPSG:4326 (``corridor``, ``length_mi``, and where the
        strategy has a corridor rule ``max_gap_mi``, ``compliant``, ``stations``); a copy."""
        return self._frame("corridors").copy()

    @property
    def regions(self) -> gpd.GeoDataFrame:
        """One row per state or province (EVs, ports by kind, sites, capex) in EPSG:4326;
        its geometry is empty (no boundaries are attached yet); a copy."""
        return self._frame("regions").copy()

    @cached_property
    def summary(self) -> Mapping[str, Any]:
        """The figures of ``summary.json`` (parameters, coverage, counts, timings), read-only."""
        return _frozen(self.core.summary)  # type: ignore[no-any-return]

    def _frame(self, name: str) -> gpd.GeoDataFrame:
        from planner.app.export import LAYERS

        if name not in self._cache:
            self._cache[name] = LAYERS[name](self.core)
        return self._cache[name]  # type: ignore[no-any-return]

    def explore(
        self,
        *,
        tiles: str | None = None,
        width: int | str | None = None,
        height: int | str | None = None,
        **map_options: Any,
    ) -> folium.Map:
        """An interactive map of the plan (it renders inline in Jupyter).

        City plans show the road network, the demand heatmap, the sites by kind with popups
        and, for the coverage strategy, the coverage circles; national plans cluster their
        sites and colour corridors by compliance. OpenStreetMap and GeoNames are credited.

        Parameters
        ----------
        tiles
            An extra base layer by folium name (e.g. ``"OpenTopoMap"``), selectable in the
            layer control beside OpenStreetMap.
        width, height
            Size of the map in a notebook, pixels or CSS (default: full width, 60 % ratio).
        **map_options
            Options of the map builder: :func:`planner.app.maps.city_map` (``edges``,
            ``coverage_radius_m``, ``offline_assets``, ``max_edges``) or
            :func:`planner.app.maps.national_map` (``offline_assets``, ``max_heat_points``,
            ``show_demand``).

        Returns
        -------
        folium.Map
            Save it with ``.save("map.html")`` or :func:`planner.app.maps.write_map`.
        """
        import folium

        from planner.app.maps import city_map, national_map

        if self.ground.scale == "city":
            coverage = self.strategy == "coverage"
            radius = _service_area_radius(self.core.summary) if coverage else None
            map_options.setdefault("coverage_radius_m", radius)
            m = city_map(self.core, **map_options)
        else:
            m = national_map(self.core, **map_options)
        if tiles is not None:
            folium.TileLayer(tiles).add_to(m)
        _resize(m, width=width, height=height)
        return m

    def to_file(
        self,
        path: str | Path,
        driver: str | None = None,
        *,
        layer: str | Sequence[str] | None = None,
    ) -> Path:
        """Write the plan's tables to a vector file, atomically; the extension picks the format.

        Parameters
        ----------
        path
            ``.gpkg`` (one layer per table: ``sites``, ``corridors``, ``regions``),
            ``.geojson`` (RFC 7946), ``.fgb`` (FlatGeobuf), ``.parquet`` (GeoParquet), or any
            other extension pyogrio writes (``.shp``, ``.csv``, ...). Formats with one table
            per file get ``sites`` unless ``layer`` names another.
        driver
            A pyogrio driver name, or ``"Parquet"``, when the extension does not tell it.
        layer
            The table(s) to write (default: every table in a GeoPackage, ``sites`` otherwise).

        Returns
        -------
        pathlib.Path
            ``path``.
        """
        from planner.app.export import write_plan_layers

        layers = None if layer is None else ([layer] if isinstance(layer, str) else list(layer))
        return write_plan_layers(self.core, path, driver=driver, layers=layers)


def _service_area_radius(summary: Mapping[str, Any]) -> float | None:
    """The radius of a coverage plan's service areas on its map: ``radius_m``, or for a
    drive-time plan (``radius_min``, read by the map from the summary) any positive number,
    here its radius in seconds."""
    if summary.get("radius_m"):
        return float(summary["radius_m"])
    if summary.get("radius_min"):
        return float(summary["radius_min"]) * 60.0
    return None


def _resize(m: Any, *, width: int | str | None, height: int | str | None) -> None:
    """Set the size of ``m``'s page in a notebook."""
    if width is None and height is None:
        return
    figure = m.get_root()
    if width is not None:
        figure.width = f"{width}px" if isinstance(width, int) else str(width)
    if height is not None:
        figure.height = f"{height}px" if isinstance(height, int) else str(height)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Several plans side by side, measured with one yardstick.

    Attributes
    ----------
    plans
        The plans, in the order given (the first one sets the budget with ``same``).
    metrics
        One row per plan: demand share within 1/3/5/10 km, distance to fast charging, corridor
        gaps, sites and ports by kind, installed kW, capex, ports per 1,000 EVs
        (:func:`planner.app.comparison.plan_metrics`).
    params
        The parameters each strategy ran with, by strategy name.
    same
        ``"none"``, ``"ports"`` or ``"capex"``: the budget the plans were scaled to.

    Examples
    --------
    >>> cmp = planner.compare(["us-nevi", "china-pile-swap"], country="us")  # doctest: +SKIP
    >>> cmp.metrics[["strategy", "share_within_10km", "ports"]]  # doctest: +SKIP
    >>> cmp.explore()  # doctest: +SKIP
    """

    plans: tuple[Plan, ...]
    metrics: pd.DataFrame
    params: Mapping[str, Mapping[str, Any]]
    same: str = "none"

    def __repr__(self) -> str:
        names = ", ".join(p.strategy for p in self.plans)
        return f"<planner.Comparison of {names} (same={self.same})>"

    def __getitem__(self, strategy: str) -> Plan:
        """The plan of ``strategy``."""
        for plan in self.plans:
            if plan.strategy == strategy:
                return plan
        raise KeyError(
            f"{strategy!r}: not among the compared strategies "
            f"({', '.join(p.strategy for p in self.plans)})"
        )

    def explore(
        self,
        *,
        title: str = "Strategy comparison",
        coverage_radius_m: float | None = None,
        offline_assets: bool | None = None,
    ) -> Figure:
        """The plans on synchronised side-by-side maps under the metrics table.

        Parameters
        ----------
        title
            Page heading.
        coverage_radius_m
            Draw coverage circles of this radius on city plans.
        offline_assets
            ``True`` draws no web tiles (write the page with :func:`planner.app.maps.write_map`
            and ``offline_assets=True``).

        Returns
        -------
        branca.element.Figure
            The page holding one ``folium.Map`` per plan (it renders inline in Jupyter; save it
            with :func:`planner.app.maps.write_map`).
        """
        from planner.app.maps import compare_map

        if not isinstance(title, str):
            raise InputError(f"title: expected a string, got {describe(title)}")
        return compare_map(
            [p.core for p in self.plans],
            self.metrics,
            offline_assets=offline_assets,
            title=title,
            coverage_radius_m=coverage_radius_m,
        )
