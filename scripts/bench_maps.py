"""Benchmark a national comparison map: HTML size and headless-Chromium load time.

By default runs the real national comparisons (``planner compare --country us|cn --strategies
us-nevi,china-pile-swap --offline-assets``) and measures each ``compare.html``, one JSON object
per country. Goals: <= 25 MB and <= 10 s. ``--synthetic`` builds a synthetic national pair on
one US-sized ground (us-nevi with 50,000 sites, china-pile-swap with 100,000), writes the
comparison map with offline assets and loads it in
Debian's headless Chromium with no network. ``--html PATH`` measures an existing page instead
(its ``assets/`` folder must sit beside it for an offline page).

The load time runs from navigation start to the moment every map pane has drawn all its sites
(planner's site layers count them on the map element); for a page without planner's counters
(``--html`` of a foreign page) it is the moment markers or clusters first appear in every pane.
Prints one JSON object.

Usage::

    python scripts/bench_maps.py [--country us] [--repeat 3]
    python scripts/bench_maps.py --synthetic [--us-sites 50000] [--cn-sites 100000]
    python scripts/bench_maps.py --html out/compare.html
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the helpers live in tests/

from planner.app.maps import compare_map, write_map
from tests.headless_browser import browser_available, chromium, load_and_count, severe_errors
from tests.synthetic_plans import synthetic_ground, synthetic_plan

SITES_JS = (
    "return Array.from(document.querySelectorAll('div.folium-map'))"
    ".map(function (e) { return Number(e.dataset.plannerSites || 0); });"
)


def build_pair(
    out: Path, *, us_sites: int, cn_sites: int, seed: int
) -> tuple[Path, list[int], float]:
    """Write the synthetic comparison page; return its path, site counts and build seconds."""
    start = time.perf_counter()
    ground = synthetic_ground(scale="national", n_nodes=20_000, n_demand=100_000, seed=seed)
    plans = [
        synthetic_plan(ground, n_sites=us_sites, realistic=True, seed=seed),
        synthetic_plan(
            ground, n_sites=cn_sites, strategy="china-pile-swap", realistic=True, seed=seed + 1
        ),
    ]
    metrics = pd.DataFrame(
        {
            "sites": [len(p.sites) for p in plans],
            "ports": [int(p.sites.ports.sum()) for p in plans],
        },
        index=pd.Index([p.strategy for p in plans], name="strategy"),
    )
    page = compare_map(plans, metrics, offline_assets=True, title="Synthetic national comparison")
    path = write_map(page, out / "compare.html", offline_assets=True)
    return path, [len(p.sites) for p in plans], time.perf_counter() - start


def measure(path: Path, sites: list[int] | None, *, repeat: int) -> dict[str, Any]:
    """Load ``path`` ``repeat`` times; return load seconds, the last counts and browser errors."""

    def ready(counts: list[dict[str, Any]]) -> bool:
        if not counts:
            return False
        if sites is not None:
            return bool(driver.execute_script(SITES_JS) == sites)
        return all(p["markers"] + p["clusters"] > 0 for p in counts)

    times = []
    with chromium() as driver:
        for _ in range(repeat):
            counts, seconds = load_and_count(driver, path, ready=ready, timeout_s=120.0)
            times.append(seconds)
        errors = severe_errors(driver)
    return {
        "load_s": [round(t, 3) for t in times],
        "load_s_median": round(statistics.median(times), 3),
        "panes": counts,
        "severe_errors": errors,
    }


def build_real(out: Path, country: str) -> tuple[Path, list[int], float]:
    """Run ``planner compare`` on a country's embedded ground; return the page, counts, seconds."""
    from planner.app.cli import main as planner

    start = time.perf_counter()
    argv = ["compare", "--country", country, "--strategies", "us-nevi,china-pile-swap"]
    with contextlib.redirect_stdout(io.StringIO()):  # keep stdout for this script's JSON
        code = planner([*argv, "--out", str(out), "--offline-assets", "-q"])
    if code != 0:
        raise SystemExit(f"planner compare --country {country} failed with status {code}")
    metrics = json.loads((out / "metrics.json").read_text())
    return out / "compare.html", [int(m["sites"]) for m in metrics], time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", type=Path, help="measure this existing page instead")
    parser.add_argument(
        "--country",
        action="append",
        choices=("us", "cn"),
        help="real national comparison to build and measure (default: both)",
    )
    parser.add_argument("--synthetic", action="store_true", help="measure a synthetic pair")
    parser.add_argument("--us-sites", type=int, default=50_000)
    parser.add_argument("--cn-sites", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    reason = browser_available()
    if reason is not None:
        print(json.dumps({"error": f"headless Chromium unavailable: {reason}"}))
        return 1
    runs: list[str] = ["html"] if args.html else ["synthetic"] if args.synthetic else []
    runs = runs or list(args.country or ["us", "cn"])
    for run in runs:
        with tempfile.TemporaryDirectory(prefix="planner-bench-maps-") as tmp:
            result: dict[str, Any] = {}
            sites: list[int] | None
            if run == "synthetic":
                path, sites, build_s = build_pair(
                    Path(tmp), us_sites=args.us_sites, cn_sites=args.cn_sites, seed=args.seed
                )
                result.update(source="synthetic", sites=sites, build_s=round(build_s, 2))
            elif run == "html":
                path, sites = args.html, None
                result.update(source=str(path))
            else:
                path, sites, build_s = build_real(Path(tmp) / "out", run)
                result.update(
                    source=f"planner compare --country {run}",
                    sites=sites,
                    build_s=round(build_s, 2),
                )
            size = path.stat().st_size
            result.update(html_bytes=size, html_mb=round(size / 1e6, 2))
            result.update(measure(path, sites, repeat=args.repeat))
            result.update(goal_mb=25, goal_load_s=10)
            result["meets_goal"] = size <= 25e6 and result["load_s_median"] <= 10
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
