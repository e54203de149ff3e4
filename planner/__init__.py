"""planner: plan EV charging infrastructure on real OpenStreetMap networks.

The package is layered, bottom to top: ``core`` (errors, units, parameter fields) ->
``optimize`` (the array core) -> ``io`` (files in and out) -> ``countries`` (one profile each) ->
``ground`` (network, corridors, demand, candidates) -> ``strategies`` -> ``app`` (API, CLI,
comparison, maps, export); a module imports only from its layer and the ones below.

The Python API (``docs/api.md``)::

    import planner
    plan = planner.plan_city("bangor.osm.pbf", sites=10, radius_km=3)
    plan.sites                      # GeoDataFrame, EPSG:4326
    plan.explore()                  # folium map, inline in Jupyter
    plan.to_file("bangor.gpkg")     # or .geojson, .fgb, .parquet

Its names are imported on first use, so ``import planner`` (and ``planner --help``) stays fast.

Map data © OpenStreetMap contributors (ODbL 1.0); populated places from GeoNames (CC-BY 4.0).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

ATTRIBUTION = (
    "Map data © OpenStreetMap contributors (ODbL 1.0); populated places © GeoNames (CC-BY 4.0)"
)

# Public name -> the module that defines it (imported lazily, PEP 562).
_LAZY = {
    "load_network": "planner.app.api",
    "plan_city": "planner.app.api",
    "plan_national": "planner.app.api",
    "compare": "planner.app.api",
    "strategy_params": "planner.app.api",
    "Plan": "planner.app.plan",
    "Comparison": "planner.app.plan",
    "RoadNetwork": "planner.ground.network",
    "strategy_names": "planner.strategies",
    "InputError": "planner.core.errors",
}

if TYPE_CHECKING:
    from planner.app.api import compare, load_network, plan_city, plan_national, strategy_params
    from planner.app.plan import Comparison, Plan
    from planner.core.errors import InputError
    from planner.ground.network import RoadNetwork
    from planner.strategies import strategy_names


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ATTRIBUTION",
    "Comparison",
    "InputError",
    "Plan",
    "RoadNetwork",
    "__version__",
    "compare",
    "load_network",
    "plan_city",
    "plan_national",
    "strategy_names",
    "strategy_params",
]
