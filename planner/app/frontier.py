"""The cost-coverage frontier of a sweep: which scenarios no other one beats on both.

A scenario is dominated when another costs no more and covers no less, and is strictly better on
one of the two. :func:`write_frontier` draws every scenario (capex against covered share) with
the frontier in colour and the dominated scenarios grey, as ``frontier.png`` and as
``frontier.html`` (the same chart as SVG, each point a link to its scenario's map, and the table).
"""

from __future__ import annotations

import html
import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

logger = logging.getLogger(__name__)

FRONTIER_COLOUR = "#2563eb"
DOMINATED_COLOUR = "#b0b0b0"


def dominated(cost: ArrayLike, coverage: ArrayLike) -> np.ndarray:
    """``True`` where another point has cost <= and coverage >=, one of them strictly.

    Parameters
    ----------
    cost, coverage
        One value per scenario.

    Returns
    -------
    numpy.ndarray
        Booleans, one per scenario.
    """
    c = np.asarray(cost, dtype=float)[:, None]
    v = np.asarray(coverage, dtype=float)[:, None]
    no_worse = (c >= c.T) & (v <= v.T)
    better = (c > c.T) | (v < v.T)
    return np.asarray((no_worse & better).any(axis=1))


def frontier_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """The scenarios that planned (``status == "ok"``) with a ``dominated`` column."""
    ok = sweep[sweep["status"] == "ok"].copy()
    ok["dominated"] = dominated(ok["capex_usd"].astype(float), ok["covered_share"].astype(float))
    return ok


def _label(row: pd.Series, params: list[str]) -> str:
    return f"{row['scenario']} " + ", ".join(
        f"{k}={row[k]:g}" if isinstance(row[k], float) else f"{k}={row[k]}" for k in params
    )


def _figure(table: pd.DataFrame, *, title: str, credit_text: str, params: list[str]) -> object:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.5), dpi=110)
    ax = fig.subplots()
    capex_bn = table["capex_usd"].astype(float) / 1e9
    share = table["covered_share"].astype(float) * 100
    for is_dominated, colour, label in (
        (True, DOMINATED_COLOUR, "dominated"),
        (False, FRONTIER_COLOUR, "frontier"),
    ):
        mask = (table["dominated"] == is_dominated).to_numpy()
        points = ax.scatter(capex_bn[mask], share[mask], s=60, c=colour, label=label, zorder=3)
        points.set_urls([f"{SCENARIO_LINK.format(s)}" for s in table["scenario"][mask]])
    front = table[~table["dominated"]].sort_values("capex_usd")
    ax.plot(
        front["capex_usd"].astype(float) / 1e9,
        front["covered_share"].astype(float) * 100,
        color=FRONTIER_COLOUR,
        zorder=2,
    )
    middle = float(capex_bn.mean()) if len(capex_bn) else 0.0
    for (_, row), x, y in zip(table.iterrows(), capex_bn, share, strict=True):
        right = x > middle  # labels of the right half go left of their point
        ax.annotate(
            _label(row, params),
            (x, y),
            xytext=(-4 if right else 4, 4),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=7,
        )
    ax.set_xlabel("capex (billion USD)")
    ax.set_ylabel("people within 10 km of a charging site (%)")
    ax.set_title(title, fontsize=10)
    ax.margins(x=0.1, y=0.08)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.text(0.01, 0.01, credit_text, fontsize=5, color="#555555")
    return fig


SCENARIO_LINK = "scenarios/{}/map.html"


def credit(country: str) -> str:
    """The data credit of a national plan of ``country`` (as its exported files carry it)."""
    from planner import ATTRIBUTION
    from planner.ground.boundaries import national_credit

    extra = national_credit("national", country)
    return f"{ATTRIBUTION}; {extra}" if extra else ATTRIBUTION


def write_frontier(
    sweep: pd.DataFrame, out: Path, *, title: str, params: list[str], country: str
) -> pd.DataFrame:
    """Write ``frontier.png`` and ``frontier.html`` into ``out``; returns the frontier table.

    ``params`` are the grid's columns of ``sweep`` (shown beside each point).
    """
    from planner.io._atomic import write_bytes_atomic, write_text_atomic

    table = frontier_table(sweep)
    credit_text = credit(country)
    fig = _figure(table, title=title, credit_text=credit_text, params=params)
    for fmt in ("png", "svg"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt)  # type: ignore[attr-defined]
        if fmt == "png":
            write_bytes_atomic(out / "frontier.png", buffer.getvalue())
        else:
            svg = buffer.getvalue().decode("utf-8")
    write_text_atomic(
        out / "frontier.html",
        _page(table, svg[svg.index("<svg") :], title=title, credit_text=credit_text),
    )
    return table


def _page(table: pd.DataFrame, svg: str, *, title: str, credit_text: str) -> str:
    shown = table.drop(columns=["status", "error"], errors="ignore")
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = []
    for _, row in shown.iterrows():
        cells = []
        for col, value in row.items():
            text = html.escape(_fmt(value))
            if col == "scenario":
                text = f'<a href="{SCENARIO_LINK.format(value)}">{text}</a>'
            cells.append(f"<td>{text}</td>")
        style = ' style="color:#888"' if row["dominated"] else ""
        body.append(f"<tr{style}>{''.join(cells)}</tr>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font:14px sans-serif;margin:1em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>"
        "<p>Each point is a scenario; click it for its plan's map. Grey points are dominated "
        "(another scenario costs no more and covers no less). Data: "
        '<a href="sweep.csv">sweep.csv</a>.</p>'
        f"{svg}<table><tr>{head}</tr>{''.join(body)}</table>"
        f"<p><small>{html.escape(credit_text)}</small></p></body></html>"
    )


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)
