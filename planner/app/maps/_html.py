"""Text that reaches a page: HTML escaping, JSON for inline scripts, attribution, page CSS."""

from __future__ import annotations

import html
import json
import math
from typing import Any

ATTRIBUTION_HTML = (
    'Map data &copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
    "contributors (ODbL) | populated places &copy; "
    '<a href="https://www.geonames.org/">GeoNames</a> (CC-BY 4.0)'
)
ATTRIBUTION_TEXT = (
    "Map data © OpenStreetMap contributors (ODbL) | populated places © GeoNames (CC-BY 4.0)"
)

# Styling of the legend, map titles, the comparison header and its metrics table.
PAGE_CSS = """
.leaflet-container { background: #f3f3f0; }
.planner-legend { background: rgba(255,255,255,0.94); padding: 6px 9px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.3); font: 12px/1.35 system-ui, sans-serif; color: #222;
  max-height: 45vh; overflow-y: auto; }
.planner-legend summary { margin: 0 0 4px; font-size: 13px; font-weight: 600; cursor: pointer; }
.planner-legend details:not([open]) summary { margin: 0; }
.planner-legend .dot { display: inline-block; width: 7px; height: 7px; border-radius: 50%;
  margin-right: 1px; }
.leaflet-bar.planner-views a { display: inline-block; width: auto !important; padding: 0 6px;
  font: 600 11px/24px system-ui, sans-serif; white-space: nowrap; border-bottom: none;
  border-right: 1px solid #ccc; }
.leaflet-bar.planner-views a:last-child { border-right: none; }
.leaflet-control-attribution { max-width: 55%; white-space: normal; font-size: 10px; }
.leaflet-bottom.leaflet-left .leaflet-control-scale { margin-bottom: 6px; }
.planner-legend table { border-collapse: collapse; }
.planner-legend td { padding: 1px 4px; vertical-align: middle; }
.planner-legend .swatch { display: inline-block; width: 16px; height: 16px; border-radius: 50%;
  color: #fff; text-align: center; font-size: 9px; line-height: 16px; }
.planner-legend .line { display: inline-block; width: 18px; height: 4px; vertical-align: middle; }
.planner-legend .ring { display: inline-block; width: 12px; height: 12px; border-radius: 50%;
  border: 2px solid #3a6fb0; background: rgba(58,111,176,0.15); }
.planner-legend .heat { display: inline-block; width: 18px; height: 8px;
  background: linear-gradient(90deg, #2b83ba, #abdda4, #fdae61, #d7191c); }
.planner-legend .note { color: #555; font-size: 11px; }
.marker-cluster div { width: 100%; height: 100%; border-radius: 50%; color: #fff;
  border: 2px solid rgba(255,255,255,0.9); box-shadow: 0 0 3px rgba(0,0,0,0.45);
  font: 600 11px/1 system-ui, sans-serif; display: flex; align-items: center;
  justify-content: center; box-sizing: border-box; opacity: 0.9; }
.planner-popup th { text-align: left; padding-right: 8px; font-weight: 600; }
.planner-popup td { text-align: right; }
.planner-compare-header { grid-column: 1 / -1; padding: 6px 12px; font: 13px/1.4 system-ui,
  sans-serif; border-bottom: 1px solid #ccc; background: #fafafa; }
.planner-metrics-scroll { max-height: 22vh; overflow: auto; display: inline-block;
  max-width: 100%; border: 1px solid #ddd; }
.planner-metrics-scroll thead th { position: sticky; top: 0; }
.planner-compare-header h1 { font-size: 17px; margin: 0 0 6px; }
.planner-metrics { border-collapse: collapse; font-size: 12px; }
.planner-metrics th, .planner-metrics td { border: 1px solid #ccc; padding: 2px 6px; }
.planner-metrics th { background: #eee; text-align: left; }
.planner-metrics td { text-align: right; }
.planner-compare-note { color: #555; font-size: 11px; margin-top: 4px; }
"""


def escape_text(value: object) -> str:
    """Escape ``value`` for HTML and for the JavaScript template literals folium wraps it in.

    ``html.escape`` handles ``<``, ``>``, ``&`` and quotes; folium writes popup and tooltip text
    into JavaScript template literals, where a backtick, ``${`` or a backslash would still act,
    so those become HTML character references too (they display unchanged).
    """
    text = html.escape(str(value), quote=True)
    return text.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def js_json(obj: Any) -> str:
    """Serialise ``obj`` compactly as JSON that is safe inside an inline ``<script>``.

    ``<``, ``>`` and ``&`` become ``\\u`` escapes so no string can close the script element;
    U+2028/U+2029 are escaped too. Non-finite floats become ``null``.
    """
    try:  # most data has no NaN or infinity: skip the walk through every value
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(obj), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    return obj
