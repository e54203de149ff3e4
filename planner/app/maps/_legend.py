"""Map furniture: the legend, the data attribution, the page CSS and the map synchroniser."""

from __future__ import annotations

from collections.abc import Sequence

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from planner.app.maps._context import DESERT_COLORS
from planner.app.maps._html import ATTRIBUTION_HTML, PAGE_CSS, escape_text, js_json
from planner.app.maps._layers import CORRIDOR_COLORS, kind_style


class Legend(MacroElement):
    """A Leaflet control holding a small HTML legend (built and escaped in Python)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: {{ this.position_json }}});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "planner-legend");
                div.innerHTML = {{ this.html_json }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, legend_html: str, *, position: str = "bottomright") -> None:
        super().__init__()
        self._name = "Legend"
        self.html_json = js_json(legend_html)
        self.position_json = js_json(position)


class Attribution(MacroElement):
    """Adds the OpenStreetMap (ODbL) and GeoNames (CC-BY 4.0) credit to the map's attribution,
    and ``extra_text`` (e.g. the Travel Mapping credit of national corridors) when given."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.html_json }});
        {% endmacro %}
        """
    )

    def __init__(self, extra: str = "") -> None:
        super().__init__()
        self._name = "Attribution"
        self.html_json = js_json(ATTRIBUTION_HTML + (f" | {escape_text(extra)}" if extra else ""))


class SyncMaps(JSCSSMixin, MacroElement):
    """Synchronise the pan and zoom of several maps with Leaflet.Sync (as ``DualMap`` does)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {%- for a in this.names %}{%- for b in this.names %}{%- if a != b %}
        {{ a }}.sync({{ b }});
        {%- endif %}{%- endfor %}{%- endfor %}
        {% endmacro %}
        """
    )
    # Own immutable tuple (the pinned npm release of the plugin DualMap uses): never mutated.
    default_js = (  # type: ignore[assignment]
        ("Leaflet.Sync", "https://cdn.jsdelivr.net/npm/leaflet.sync@0.2.4/L.Map.Sync.js"),
    )

    def __init__(self, maps: Sequence[folium.Map]) -> None:
        super().__init__()
        self._name = "SyncMaps"
        self.names = [m.get_name() for m in maps]


def add_page_css(figure: Figure) -> None:
    """Add planner's legend/table CSS to ``figure``'s header (once, however often it is called)."""
    figure.header.add_child(Element(f"<style>{PAGE_CSS}</style>"), name="planner_css")


def legend_html(
    *,
    title: str,
    kind_counts: dict[str, int],
    corridors: bool,
    demand: bool,
    coverage_radius_m: float | None,
    network: bool,
    clustered: bool = False,
    outlines: bool = False,
    deserts: bool = False,
    folded: bool = False,
    coverage_label: str | None = None,
) -> str:
    """Return the legend's HTML (a ``<details>`` block: click the title to fold it); every piece
    of text is escaped; ``folded`` shows only the title until it is clicked (narrow panes)."""
    rows = []
    for kind, count in kind_counts.items():
        style = kind_style(kind)
        swatch = (
            f'<span class="swatch" style="background:{style.hex_color}">'
            f'<i class="fa fa-{escape_text(style.icon)}"></i></span>'
        )
        rows.append((swatch, f"{escape_text(style.label)} ({count:,})"))
    if corridors:
        for compliant, label in ((True, "Corridor compliant"), (False, "Corridor with a gap")):
            line = f'<span class="line" style="background:{CORRIDOR_COLORS[compliant]}"></span>'
            rows.append((line, label))
        rows.append(
            (f'<span class="line" style="background:{CORRIDOR_COLORS[None]}"></span>', "Corridor")
        )
    if coverage_radius_m is not None:
        label = coverage_label or f"{coverage_radius_m / 1000:g} km"
        rows.append(('<span class="ring"></span>', f"Service area {escape_text(label)}"))
    if demand:
        rows.append(('<span class="heat"></span>', "Demand (low to high)"))
    if network:
        rows.append(('<span class="line" style="background:#7a7a7a;height:2px"></span>', "Roads"))
    if deserts:
        dots = "".join(
            f'<span class="dot" style="background:{color}"></span>'
            for color in DESERT_COLORS.values()
        )
        rows.append((dots, "Places &gt; 10 / 25 / 50 km from DC (layer)"))
    if outlines:
        rows.append(
            ('<span class="line" style="background:#8a8f98;height:1px"></span>', "State lines")
        )
    body = "".join(f"<tr><td>{icon}</td><td>{text}</td></tr>" for icon, text in rows)
    hint = "Discs count clustered sites: click one to zoom in. " if clustered else ""
    note = f'<div class="note">{hint}Click a marker for its details.</div>'
    return (
        f"<details{'' if folded else ' open'}><summary>{escape_text(title)}</summary>"
        f"<table>{body}</table>{note}</details>"
    )
