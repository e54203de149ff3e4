"""Interactive maps of plans: one city, one country, several strategies side by side.

- :func:`city_map` -- road network, demand heatmap, sites by kind with popups, coverage circles.
- :func:`national_map` -- 10^4-10^5 sites clustered in the browser, corridors by compliance.
- :func:`compare_map` -- two or more plans with synchronised pan and zoom under a metrics table.
- :func:`write_map` -- atomic write; ``offline_assets=True`` serves every script, stylesheet and
  font from a local ``assets/`` folder (see :mod:`planner.io.assets`), so no CDN is needed;
  otherwise
  :func:`pin_links` points every CDN link at the exact pinned version.

National maps draw state/province outlines (Natural Earth) as their base when written with offline
assets, open the US on the contiguous 48, and offer a charging-desert layer.

Every string that reaches a popup, tooltip, legend, layer name or table is HTML-escaped. Map data
© OpenStreetMap contributors (ODbL); populated places © GeoNames (CC-BY 4.0): both are credited on
every map.
"""

from __future__ import annotations

from planner.app.maps._build import city_map, compare_map, metrics_table_html, national_map
from planner.app.maps._html import ATTRIBUTION_TEXT, escape_text
from planner.app.maps._layers import KIND_STYLES, KindStyle
from planner.app.maps._offline import localise_links, pin_links, remote_links, write_map

__all__ = [
    "ATTRIBUTION_TEXT",
    "KIND_STYLES",
    "KindStyle",
    "city_map",
    "compare_map",
    "escape_text",
    "localise_links",
    "metrics_table_html",
    "national_map",
    "pin_links",
    "remote_links",
    "write_map",
]
