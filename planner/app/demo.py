"""``planner demo``: both strategies on the US and the Chinese national grounds, offline.

The demo writes one comparison per country and nothing twice (see :data:`DEMO_FILES`)::

    <out>/assets/                         Leaflet, plugins, CSS, fonts (offline maps only)
    <out>/<cc>_compare.html               both plans side by side, metrics table, layers
    <out>/<cc>_report.html                results, equity, charts, then the parameters
    <out>/<cc>_metrics.csv                one row per strategy
    <out>/<cc>_equity.csv                 ports per 1,000 people / EVs by state or province
    <out>/<cc>/<strategy>/sites.geojson.gz    the plan's sites (gzip-compressed GeoJSON)
    <out>/<cc>/<strategy>/corridors.geojson   corridors with their compliance
    <out>/<cc>/<strategy>/regions.csv         the plan by state or province
    <out>/<cc>/<strategy>/summary.json        the plan's summary

``cc`` is ``us`` or ``cn``; ``strategy`` is ``us-nevi`` or ``china-pile-swap``. Sites are
gzip-compressed because the US NEVI plan has ~72,000 of them (25 MB as plain GeoJSON);
``gzip -d`` or ``geopandas.read_file`` opens them.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from planner.core.errors import InputError
from planner.io._atomic import write_bytes_atomic

logger = logging.getLogger(__name__)

COUNTRIES = ("us", "cn")
STRATEGIES = ("us-nevi", "china-pile-swap")
PLAN_FILES = ("sites.geojson.gz", "corridors.geojson", "regions.csv", "summary.json")
COUNTRY_FILES = ("compare.html", "report.html", "metrics.csv", "equity.csv")


def demo_files(*, offline_assets: bool) -> list[str]:
    """Every file (relative path, ``/``-separated) the demo writes, sorted; ``assets/`` as one."""
    files = [f"{cc}_{name}" for cc in COUNTRIES for name in COUNTRY_FILES]
    files += [f"{cc}/{s}/{name}" for cc in COUNTRIES for s in STRATEGIES for name in PLAN_FILES]
    return sorted([*files, *(["assets/"] if offline_assets else [])])


def demo_products() -> list[str]:
    """The demo's files as patterns relative to its ``--out`` (for the ``--overwrite`` check)."""
    return [*demo_files(offline_assets=False), "assets/**/*"]


def resolve_offline_assets(requested: bool) -> bool:
    """Whether maps can be written with local assets: cached, or fetched now with Python.

    ``requested`` maps must have them (an :class:`InputError` otherwise). Unrequested, they are
    used when available; when neither the cache nor the npm registry is there, one warning says
    so and how to fix it, and the maps link the pinned CDN copies instead (they draw online).
    """
    from planner.io import assets

    try:
        assets.find_assets(fetch=True)
    except InputError as exc:
        if requested:
            raise
        logger.warning("maps link pinned CDN copies of Leaflet (need internet to draw): %s", exc)
        return False
    return True


def run_demo(
    out: Path,
    *,
    offline_assets: bool,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    inputs: dict[str, Any] | None = None,
) -> list[Path]:
    """Plan, compare and write both countries into ``out`` (an existing folder).

    Parameters
    ----------
    out
        Output folder (checked and created by the caller).
    offline_assets
        Write the maps with local assets (no tiles, outlines instead) or with pinned CDN links.
    seed
        Random seed of the strategies.
    progress
        Called with a short description before each step (the CLI prints it).
    inputs
        Recorded in each plan's ``summary.json`` (the command's options).

    Returns
    -------
    list of pathlib.Path
        The HTML pages written.
    """
    from planner.app.api import compare

    say = progress or (lambda _: None)
    pages = []
    for cc in COUNTRIES:
        result = compare(
            list(STRATEGIES),
            country=cc,
            seed=seed,
            progress=_announced(say, cc.upper()),
            inputs=dict(inputs or {}),
        )
        plans = [p.core for p in result.plans]
        say(f"{cc.upper()}: writing plans, metrics and equity tables")
        for plan in plans:
            _write_plan_files(plan, out / cc / plan.strategy)
        _write_tables(plans, result.metrics, out, cc)
        say(f"{cc.upper()}: comparison map and report")
        pages += _write_pages(plans, result, out, cc, offline_assets=offline_assets)
    return pages


def _announced(say: Callable[[str], None], prefix: str) -> Callable[[str], Any]:
    """A progress hook of :func:`planner.compare` that announces each step with ``say``."""

    @contextmanager
    def step(name: str) -> Iterator[None]:
        say(f"{prefix}: {name}")
        yield

    return step


def _write_plan_files(plan: Any, folder: Path) -> None:
    """The plan's files, its sites as gzip-compressed GeoJSON."""
    from planner.app.export import write_plan

    folder.mkdir(parents=True, exist_ok=True)
    written = write_plan(plan, folder)
    geojson = written["sites.geojson"]
    write_bytes_atomic(folder / "sites.geojson.gz", gzip.compress(geojson.read_bytes(), 6, mtime=0))
    geojson.unlink()


def _write_tables(plans: list[Any], metrics: Any, out: Path, cc: str) -> None:
    from planner.app.equity import equity_by_region
    from planner.app.export import write_csv

    write_csv(metrics, out / f"{cc}_metrics.csv")
    write_csv(equity_by_region(plans), out / f"{cc}_equity.csv")


def _write_pages(
    plans: list[Any], result: Any, out: Path, cc: str, *, offline_assets: bool
) -> list[Path]:
    from planner.app.maps import compare_map, write_map
    from planner.app.report import write_report

    title = f"{plans[0].ground.name}: {' vs '.join(STRATEGIES)}"
    page = compare_map(plans, result.metrics, offline_assets=offline_assets, title=title)
    compare = write_map(page, out / f"{cc}_compare.html", offline_assets=offline_assets)
    links = {
        "Comparison map": compare.name,
        "Metrics (CSV)": f"{cc}_metrics.csv",
        "Equity by region (CSV)": f"{cc}_equity.csv",
        **{
            f"{p.strategy} sites (GeoJSON, gzip)": f"{cc}/{p.strategy}/sites.geojson.gz"
            for p in plans
        },
    }
    report = write_report(
        plans,
        result.metrics,
        out,
        params=result.params,
        map_links=links,
        filename=f"{cc}_report.html",
    )
    return [compare, report]
