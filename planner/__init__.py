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


def attribution_for(meta: dict[str, object]) -> str:
    """:data:`ATTRIBUTION`, plus the corridor geometry's credit when a ground's ``meta`` names one
    (national plans: "Highway data: Travel Mapping project ... (ODbL 1.0)")."""
    extra = meta.get("corridor_attribution")
    if isinstance(extra, str) and extra and extra not in ATTRIBUTION:
        return f"{ATTRIBUTION}; {extra}"
    return ATTRIBUTION


__all__ = ["ATTRIBUTION", "__version__", "attribution_for"]
