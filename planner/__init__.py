"""planner: plan EV charging infrastructure on real OpenStreetMap networks.

The pipeline reads like the package tree: ``network`` -> ``demand`` -> ``candidates``
-> ``optimize`` -> ``strategies`` -> ``compare`` / ``maps`` / ``export`` -> ``cli``.

Map data © OpenStreetMap contributors (ODbL 1.0); populated places from GeoNames (CC-BY 4.0).
"""

from __future__ import annotations

__version__ = "0.1.0"

ATTRIBUTION = (
    "Map data © OpenStreetMap contributors (ODbL 1.0); populated places © GeoNames (CC-BY 4.0)"
)

__all__ = ["ATTRIBUTION", "__version__"]
