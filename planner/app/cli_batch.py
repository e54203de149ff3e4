"""What the ``batch`` and ``sweep`` commands do (see :mod:`planner.app.batch` and
:mod:`planner.app.sweep`; their options are in :mod:`planner.app._cli_args`).

Exit status: 0 when every city or scenario planned (or was already planned),
:data:`EXIT_SOME_FAILED` when some failed (each one's error is in ``cities.csv`` /
``sweep.csv``), 2 on bad input.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from planner.core.errors import InputError

logger = logging.getLogger(__name__)

#: Exit status of a batch or sweep in which some cities or scenarios failed.
EXIT_SOME_FAILED = 3
SWEEP_PRODUCTS = ("sweep.csv", "frontier.html", "frontier.png", "scenarios/**/*")


def quiet_dask(verbose: int) -> None:
    """Dask's own INFO logs (cluster start and stop) only with ``-vv``."""
    import distributed  # noqa: F401  (its import sets its loggers' levels: set ours after it)

    level = logging.INFO if verbose > 1 else logging.ERROR
    for name in ("distributed", "dask"):
        logging.getLogger(name).setLevel(level)


def _city_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`planner.plan_city` keywords of the ``plan`` options, checked once."""
    from planner.app.api import strategy_params
    from planner.app.commands import check_input_file
    from planner.strategies import get_strategy

    get_strategy(args.strategy)
    for option in ("existing", "config", "scenario"):
        check_input_file(getattr(args, option), f"--{option}")
    extra = {"sites": args.sites, "model": args.model, "radius_min": args.radius_min}
    extra = {k: v for k, v in extra.items() if v is not None}
    if args.strategy != "coverage" and extra:
        logger.warning("--%s: only for the coverage strategy; ignored", ", --".join(extra))
        extra = {}
    try:
        strategy_params(args.strategy, args.scenario, caller="batch", **extra)
    except TypeError as exc:
        raise InputError(f"batch: {exc}") from None
    options = {
        "strategy": args.strategy,
        "radius_km": args.radius_km,
        "existing": args.existing,
        "demand_config": args.config,
        "candidates": args.candidates,
        "scenario": args.scenario,
        "seed": args.seed,
        "cache_dir": args.cache_dir,
        **extra,
    }
    return {k: v for k, v in options.items() if v is not None}


def cmd_batch(args: argparse.Namespace) -> int:
    """``planner batch``; returns the exit status."""
    from planner.app.batch import (
        CityJob,
        failed_count,
        osm_dir_sources,
        places_sources,
        run_batch,
        write_collection,
    )
    from planner.io._outdir import locked_folder

    t0 = time.perf_counter()
    quiet_dask(args.verbose)
    options = _city_options(args)
    sources: dict[str, Any] = (
        osm_dir_sources(args.osm_dir) if args.osm_dir else places_sources(args.places)
    )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: expected a folder, got the existing file {out}; choose another")
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        CityJob(name, source, out / name, options, args.overwrite, args.offline_assets)
        for name, source in sources.items()
    ]
    with locked_folder(out):  # one batch at a time into an --out
        logger.info("inputs checked in %.2f s", time.perf_counter() - t0)
        results = run_batch(jobs, scheduler=args.scheduler, n_workers=args.workers)
        t1 = time.perf_counter()
        write_collection(out, jobs, results, offline_assets=args.offline_assets)
        logger.info("collection files written in %.2f s", time.perf_counter() - t1)
    counts = {s: sum(r.status == s for r in results) for s in ("planned", "skipped", "failed")}
    print(
        f"planner batch: {counts['planned']} planned, {counts['skipped']} skipped, "
        f"{counts['failed']} failed of {len(jobs)} cities -> {out} in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    for result in results:
        if result.status == "failed":
            print(f"planner: {result.city} failed: {result.error}", file=sys.stderr)
    return EXIT_SOME_FAILED if failed_count(results) else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """``planner sweep``; returns the exit status."""
    import pandas as pd

    from planner.app.api import DEFAULT_STRATEGY
    from planner.app.export import write_csv
    from planner.app.frontier import write_frontier
    from planner.app.sweep import check_scenarios, parse_grid, run_sweep, scenarios, sweep_jobs
    from planner.io._outdir import output_folder
    from planner.strategies import get_strategy

    t0 = time.perf_counter()
    quiet_dask(args.verbose)
    strategy = args.strategy or DEFAULT_STRATEGY[args.country]
    get_strategy(strategy)
    grid = parse_grid(args.grid)
    check_scenarios(strategy, scenarios(grid))
    with output_folder(
        args.out, products=SWEEP_PRODUCTS, replaces=SWEEP_PRODUCTS, overwrite=args.overwrite
    ) as stage:
        jobs = sweep_jobs(
            args.country, strategy, grid, stage, seed=args.seed, offline_assets=args.offline_assets
        )
        logger.info("inputs checked in %.2f s", time.perf_counter() - t0)
        rows = run_sweep(jobs, scheduler=args.scheduler, n_workers=args.workers)
        t1 = time.perf_counter()
        frame = pd.DataFrame(rows)
        write_csv(frame, stage / "sweep.csv")
        title = f"{strategy} ({args.country}): {len(jobs)} scenarios of " + ", ".join(grid)
        table = write_frontier(frame, stage, title=title, params=list(grid), country=args.country)
        logger.info("sweep.csv and frontier written in %.2f s", time.perf_counter() - t1)
    failed = frame[frame["status"] != "ok"]
    print(
        f"planner sweep: {len(jobs) - len(failed)} of {len(jobs)} scenarios planned, "
        f"{int((~table['dominated']).sum())} on the frontier -> {args.out} in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    for _, row in failed.iterrows():
        print(f"planner: scenario {row['scenario']} failed: {row['error']}", file=sys.stderr)
    return EXIT_SOME_FAILED if len(failed) else 0
