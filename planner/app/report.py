"""A self-contained HTML report: results, charts, equity, links to the maps, then parameters.

The report is one file (``report.html``): charts are matplotlib PNGs (Agg backend, no pyplot
state) embedded as base64, the CSS is inline, and every piece of text is HTML-escaped.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from planner import ATTRIBUTION, __version__
from planner.app.maps import escape_text, metrics_table_html
from planner.app.maps._layers import KIND_STYLES, kind_style
from planner.core.errors import InputError, OutputError, describe
from planner.io._atomic import write_text_atomic
from planner.strategies.base import Plan

logger = logging.getLogger(__name__)

REPORT_NAME = "report.html"
_COVERAGE_COLUMN = re.compile(r"^share_within_(\d+(?:\.\d+)?)_?km$")
_CAPEX_COLUMN = re.compile(r"^capex_(.+)_usd$")
_UNSAFE_LINK = re.compile(r"^\s*(javascript|data|vbscript):", re.IGNORECASE)
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; max-width: 1100px; margin: 24px auto;
  padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; vertical-align: top; }
th { background: #f0f0f0; text-align: left; } td { text-align: right; }
table.params td { text-align: left; font-family: ui-monospace, monospace; }
figure { margin: 12px 0; } figcaption { color: #555; font-size: 12px; }
section { overflow-x: auto; }
img { max-width: 100%; } footer { margin-top: 32px; color: #666; font-size: 12px; }
"""


def write_report(
    plans: Sequence[Plan],
    metrics: pd.DataFrame | None,
    out_dir: str | Path,
    *,
    params: Mapping[str, Any],
    map_links: Mapping[str, str],
    filename: str = REPORT_NAME,
) -> Path:
    """Write ``out_dir/<filename>`` (``report.html``) and return its path.

    Parameters
    ----------
    plans
        The plans compared (ports and capex by site kind are read from their ``sites``).
    metrics
        One row per strategy (index or a ``strategy`` column); columns ``share_within_<d>km``
        give the coverage curve, ``capex_<category>_usd`` the capex chart. ``None`` for none.
    out_dir
        Folder to write into (created if missing).
    params
        Parameters of the run, shown as a table (nested mappings are flattened to dotted keys).
    map_links
        Link text -> relative path (or http(s) URL) of each map.

    Returns
    -------
    pathlib.Path
        The report's path.
    """
    plans = _check_inputs(plans, metrics, params, map_links)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"out_dir: cannot create {out} ({exc.strerror}); choose a writable path"
        ) from None
    table = _metrics_by_strategy(metrics)
    sections = [  # results first, the parameters that produced them last
        _section("Results", _results(table)),
        _section("Charts", _charts(plans, table)),
        _section("Equity by state or province", _equity(plans)),
        _section("Maps and files", _links(map_links)),
        _section("All metrics", metrics_table_html(table) if table is not None else "<p>None.</p>"),
        _section("Parameters", _params_table(params)),
    ]
    areas = sorted({p.ground.name for p in plans})
    title = "planner report" + (f": {', '.join(areas)}" if areas else "")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape_text(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape_text(title)}</h1>"
        f"<p>Strategies: {escape_text(', '.join(p.strategy for p in plans) or 'none')}.</p>"
        + "".join(sections)
        + f"<footer>{escape_text(ATTRIBUTION)}. Written by planner {escape_text(__version__)}."
        "</footer></body></html>\n"
    )
    path = write_text_atomic(out / filename, page)
    logger.info("wrote report %s (%.0f kB)", path, path.stat().st_size / 1e3)
    return path


def _check_inputs(
    plans: Sequence[Plan],
    metrics: pd.DataFrame | None,
    params: Mapping[str, Any],
    map_links: Mapping[str, str],
) -> list[Plan]:
    """Validate the arguments of :func:`write_report`; return the plans as a list."""
    if isinstance(plans, str | bytes) or not all(isinstance(p, Plan) for p in plans):
        raise InputError(
            f"plans: expected a sequence of Plan objects, got {describe(plans)}; "
            "pass the strategies' results"
        )
    if metrics is not None and not isinstance(metrics, pd.DataFrame):
        raise InputError(
            f"metrics: expected a pandas DataFrame or None, got {type(metrics).__name__}; "
            "pass the comparison table"
        )
    if not isinstance(params, Mapping):
        raise InputError(
            f"params: expected a mapping of parameters, got {type(params).__name__}; pass a dict"
        )
    if not isinstance(map_links, Mapping):
        raise InputError(
            f"map_links: expected a mapping of link text to path, got {type(map_links).__name__}; "
            "pass e.g. {'Comparison map': 'compare.html'}"
        )
    for text, href in map_links.items():
        if not isinstance(href, str) or _UNSAFE_LINK.match(href):
            raise InputError(
                f"map_links[{text!r}]: expected a relative path or an http(s) URL, got "
                f"{describe(href)}; pass the map file's name"
            )
    return list(plans)


def _metrics_by_strategy(metrics: pd.DataFrame | None) -> pd.DataFrame | None:
    """The metrics indexed by strategy (the ``strategy`` column if there is one)."""
    if metrics is None:
        return None
    if "strategy" in metrics.columns:
        return metrics.set_index("strategy")
    return metrics


# The headline figures shown first, one row per figure (those the metrics have).
HEADLINE = (
    ("sites", "Sites"),
    ("ports", "Ports"),
    ("dc_ports", "DC ports"),
    ("capex_usd", "Capex (USD)"),
    ("share_within_5km", "Share of people within 5 km of a site"),
    ("mean_fast_km", "Mean distance to fast charging (km)"),
    ("ports_per_1000_ev", "Ports per 1,000 EVs"),
    ("ports_per_1000_people", "Ports per 1,000 people"),
    ("desert_beyond_10km", "People > 10 km from a DC site"),
    ("desert_beyond_25km", "People > 25 km from a DC site"),
    ("desert_beyond_50km", "People > 50 km from a DC site"),
    ("max_corridor_gap_mi", "Largest corridor gap (mi)"),
)


def _results(metrics: pd.DataFrame | None) -> str:
    """The headline figures, one strategy per column."""
    if metrics is None:
        return "<p>None.</p>"
    rows = [(label, c) for c, label in HEADLINE if c in metrics.columns]
    if not rows:
        return "<p>No headline figures.</p>"
    table = pd.DataFrame(
        [metrics[c].to_numpy() for _, c in rows],
        index=pd.Index([label for label, _ in rows], name=""),
        columns=[str(i) for i in metrics.index],
    )
    return metrics_table_html(table)


def _equity(plans: Sequence[Plan]) -> str:
    """Ports per 1,000 people and per 1,000 EVs by region, one column pair per strategy."""
    from planner.app.equity import equity_by_region

    long = equity_by_region(plans)
    if long.empty:
        return "<p>No regions on this ground.</p>"
    wide = long.pivot_table(
        index=["region", "name"],
        columns="strategy",
        values=["ports_per_1000_people", "ports_per_1000_ev"],
        aggfunc="first",
    )
    pairs = cast(list[tuple[Any, Any]], list(wide.columns))
    wide.columns = pd.Index([f"{s}: {str(m).replace('_', ' ')}" for m, s in pairs])
    keys = cast(list[tuple[Any, Any]], list(wide.index))
    wide.index = pd.Index([f"{r} {n}" for r, n in keys], name="region")
    note = (
        "<p>Ports of each plan in the state or province per 1,000 residents and per 1,000 "
        "registered EVs (the ground's regions table, with its sources).</p>"
    )
    return note + metrics_table_html(wide)


def _section(title: str, body: str) -> str:
    return f"<section><h2>{escape_text(title)}</h2>{body}</section>"


def _params_table(params: Mapping[str, Any]) -> str:
    rows = _flatten(params)
    if not rows:
        return "<p>None.</p>"
    body = "".join(
        f"<tr><th>{escape_text(key)}</th><td>{escape_text(value)}</td></tr>" for key, value in rows
    )
    return f'<table class="params">{body}</table>'


def _flatten(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows += _flatten(value, prefix=f"{name}.")
        else:
            rows.append((name, str(value)))
    return rows


def _links(map_links: Mapping[str, str]) -> str:
    if not map_links:
        return "<p>No maps were written.</p>"
    items = "".join(
        f'<li><a href="{escape_text(href)}">{escape_text(text)}</a></li>'
        for text, href in map_links.items()
    )
    return f"<ul>{items}</ul>"


def _charts(plans: list[Plan], metrics: pd.DataFrame | None) -> str:
    """Render every chart the data allows, as ``<figure>`` elements with embedded PNGs."""
    figures = []
    ports = ports_by_kind(plans)
    if not ports.empty:
        figures.append(_bar_chart(ports, "Ports by site kind", "ports"))
    curves = coverage_curves(metrics)
    if not curves.empty:
        figures.append(_coverage_chart(curves))
    capex = capex_by_category(plans, metrics)
    if not capex.empty:
        figures.append(_bar_chart(capex / 1e6, "Capex by category", "million USD"))
    return "".join(figures) or "<p>No chartable data.</p>"


def ports_by_kind(plans: Sequence[Plan]) -> pd.DataFrame:
    """Ports per site kind (rows) and strategy (columns)."""
    frames = {
        p.strategy: p.sites.groupby("kind")["ports"].sum()
        for p in plans
        if {"kind", "ports"} <= set(p.sites.columns) and len(p.sites)
    }
    return pd.DataFrame(frames).fillna(0).sort_index() if frames else pd.DataFrame()


def coverage_curves(metrics: pd.DataFrame | None) -> pd.DataFrame:
    """Share of demand within ``d`` km (rows: d in km, ascending; columns: strategies), in %."""
    if metrics is None:
        return pd.DataFrame()
    columns = {c: float(m.group(1)) for c in metrics.columns if (m := _COVERAGE_COLUMN.match(c))}
    if not columns:
        return pd.DataFrame()
    table = metrics[list(columns)].apply(pd.to_numeric, errors="coerce").T
    table.index = pd.Index([columns[c] for c in table.index], name="distance_km")
    table = table.sort_index()
    finite = table.to_numpy(float)[np.isfinite(table.to_numpy(float))]
    return table * 100.0 if finite.size and finite.max() <= 1.0 else table


def capex_by_category(plans: Sequence[Plan], metrics: pd.DataFrame | None) -> pd.DataFrame:
    """Capex in USD per category (rows) and strategy (columns).

    Categories are the metrics' ``capex_<category>_usd`` columns when present (the total,
    ``capex_total_usd``, is left out), else the plans' site kinds.
    """
    if metrics is not None:
        columns = {
            c: m.group(1)
            for c in metrics.columns
            if (m := _CAPEX_COLUMN.match(c)) and m.group(1) != "total"
        }
        if columns:
            table = metrics[list(columns)].apply(pd.to_numeric, errors="coerce").T
            table.index = pd.Index(list(columns.values()), name="category")
            return table.fillna(0.0)
    frames = {
        p.strategy: p.sites.groupby("kind")["capex_usd"].sum()
        for p in plans
        if {"kind", "capex_usd"} <= set(p.sites.columns) and len(p.sites)
    }
    return pd.DataFrame(frames).fillna(0.0).sort_index() if frames else pd.DataFrame()


def _label(text: object) -> str:
    """Text safe for matplotlib (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def _bar_chart(table: pd.DataFrame, title: str, unit: str) -> str:
    """Grouped bars: one group per category (rows), one bar per strategy (columns)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(table.index))
    width = 0.8 / max(len(table.columns), 1)
    for i, strategy in enumerate(table.columns):
        offset = (i - (len(table.columns) - 1) / 2) * width
        ax.bar(x + offset, table[strategy].to_numpy(float), width, label=_label(strategy))
    labels = [_label(kind_style(str(k)).label if k in KIND_STYLES else k) for k in table.index]
    ax.set_xticks(x, labels, rotation=20, ha="right")
    ax.set_ylabel(_label(unit))
    ax.set_title(_label(title))
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _figure_html(fig, title)


def _coverage_chart(curves: pd.DataFrame) -> str:
    """Share of demand within d km, one line per strategy."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for strategy in curves.columns:
        ax.plot(curves.index, curves[strategy].to_numpy(float), marker="o", label=_label(strategy))
    ax.set_xlabel("distance to the nearest site (km)")
    ax.set_ylabel("share of demand (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Coverage by distance")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _figure_html(fig, "Coverage by distance")


def _figure_html(fig: Any, caption: str) -> str:
    """The figure as an ``<img>`` with a base64 PNG and an escaped caption."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = escape_text(caption)
    return (
        f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
        f"<figcaption>{alt}</figcaption></figure>"
    )
