"""``planner sweep``: national plans over a grid of strategy parameters, one Dask task each.

Every scenario is one point of the Cartesian product of the grid (``spacing_mi=50,70`` x
``target_ports=300000,500000`` is four scenarios), planned on the same national ground. The
ground is built once per worker process (:func:`national_ground_once`) and reused by every
scenario that worker plans, instead of being pickled into each task. Each scenario's plan is
written, like ``planner national`` writes it, into ``scenarios/<id>/``; ``sweep.csv`` holds one
row of figures per scenario (:data:`FIGURES`).
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.core.errors import InputError

logger = logging.getLogger(__name__)

#: The figures of ``sweep.csv`` after the scenario id, its parameters, status and error.
FIGURES = (
    "ports",
    "sites",
    "capex_usd",
    "covered_share",
    "mean_distance_km",
    "corridors",
    "corridors_compliant",
    "corridor_compliance",
    "seconds",
)
#: The distance within which a person counts as covered (straight line to a site with ports).
COVERED_WITHIN_KM = 10
SCENARIO_DIR = "scenarios"


@dataclass(frozen=True)
class ScenarioJob:
    """One scenario of a sweep: a national plan with ``params`` over the strategy's defaults."""

    scenario: str
    country: str
    strategy: str
    params: Mapping[str, Any]
    out: Path
    seed: int = 0
    offline_assets: bool = False


def parse_value(text: str) -> Any:
    """A grid value: an int, a float, ``true``/``false``, or the text itself."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d[\d_]*", text):
        return int(text.replace("_", ""))
    try:
        return float(text)
    except ValueError:
        pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """The grid of ``--grid`` items: ``key=v1,v2,...`` or a TOML file of ``key = [v1, v2]``."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item and item.endswith(".toml"):
            grid.update(_toml_grid(Path(item)))
            continue
        key, sep, values = item.partition("=")
        parsed = [parse_value(v) for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not parsed:
            raise InputError(
                f"--grid: expected key=v1,v2,... or a .toml file, got {item!r}; e.g. "
                "--grid spacing_mi=50,70 target_ports=300000,500000"
            )
        grid[key.strip()] = list(dict.fromkeys(parsed))
    if not grid:
        raise InputError("--grid: expected at least one key=v1,v2,...; e.g. spacing_mi=50,70")
    return grid


def _toml_grid(path: Path) -> dict[str, list[Any]]:
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"--grid: cannot read {path} ({exc}); give a TOML file") from None
    table = data.get("grid", data)
    grid = {str(k): list(v) if isinstance(v, list) else [v] for k, v in table.items()}
    if not all(grid.values()):
        raise InputError(f"--grid: {path} has a key with no values; give key = [v1, v2]")
    return grid


def scenarios(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the last key varying fastest."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def check_scenarios(strategy: str, combos: Sequence[Mapping[str, Any]]) -> None:
    """Refuse, before anything runs, a key the strategy does not take or a value out of range."""
    from planner.app.api import strategy_params

    for combo in combos:
        try:
            strategy_params(strategy, caller="sweep", **combo)
        except TypeError as exc:
            raise InputError(f"--grid: {exc}") from None
        except InputError as exc:
            raise InputError(f"--grid {combo}: {exc}") from None


def sweep_jobs(
    country: str, strategy: str, grid: Mapping[str, Sequence[Any]], out: Path, **options: Any
) -> list[ScenarioJob]:
    """One job per scenario of ``grid``; ids ``s01``, ``s02``, ... in grid order."""
    combos = scenarios(grid)
    check_scenarios(strategy, combos)
    width = max(2, len(str(len(combos))))
    return [
        ScenarioJob(
            f"s{i:0{width}d}",
            country,
            strategy,
            combo,
            out / SCENARIO_DIR / f"s{i:0{width}d}",
            **options,
        )
        for i, combo in enumerate(combos, start=1)
    ]


@functools.lru_cache(maxsize=2)
def national_ground_once(country: str, seed: int) -> Any:
    """The national ground of ``country``, built once per process (read-only afterwards)."""
    from planner.ground.build import national_ground

    return national_ground(country, seed=seed)


def plan_scenario(job: ScenarioJob) -> Any:
    """The national plan of one scenario (:class:`planner.Plan`), on the process's ground."""
    from planner.app.api import finish_summary, strategy_params
    from planner.app.plan import Plan
    from planner.strategies import get_strategy

    ground = national_ground_once(job.country, job.seed)
    chosen = strategy_params(job.strategy, caller="sweep", **job.params)
    t0 = time.perf_counter()
    core = get_strategy(job.strategy).plan(ground, chosen, seed=job.seed)
    seconds = round(time.perf_counter() - t0, 3)
    inputs = {
        "country": job.country,
        "strategy": job.strategy,
        "scenario": job.scenario,
        "seed": job.seed,
        "params": dict(job.params),
    }
    timings = {f"planning ({job.strategy})": seconds}
    return Plan(finish_summary(core, inputs=inputs, timings=timings))


def run_scenario_job(job: ScenarioJob) -> dict[str, Any]:
    """Plan one scenario, write its folder and return its ``sweep.csv`` row (a Dask task)."""
    from planner.app.export import write_plan
    from planner.app.maps import national_map, write_map
    from planner.io._atomic import write_json_atomic

    t0 = time.perf_counter()
    try:
        plan = plan_scenario(job)
        job.out.mkdir(parents=True, exist_ok=True)
        write_plan(plan.core, job.out)
        m = national_map(plan.core, offline_assets=job.offline_assets)
        path = write_map(m, job.out / "map.html", offline_assets=job.offline_assets)
        summary = {**plan.core.summary, "map_html_bytes": path.stat().st_size}
        write_json_atomic(job.out / "summary.json", summary)
    except Exception as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        return failed_row(job, f"{type(exc).__name__}: {message}")
    row = scenario_row(job, plan)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


def scenario_row(job: ScenarioJob, plan: Any) -> dict[str, Any]:
    """The ``sweep.csv`` row of a scenario's plan: its parameters, then :data:`FIGURES`."""
    from planner.app.comparison import plan_metrics

    metrics = plan_metrics(plan.core)
    corridors = plan.corridors
    compliant = int(corridors["compliant"].astype(bool).sum()) if "compliant" in corridors else None
    row = _head(job, "ok", "")
    row.update(
        ports=int(metrics["ports"]),
        sites=int(metrics["sites"]),
        capex_usd=float(metrics["capex_usd"]),
        covered_share=float(metrics[f"share_within_{COVERED_WITHIN_KM}km"]),
        mean_distance_km=float(metrics["mean_fast_km"]),
        corridors=len(corridors),
        corridors_compliant=compliant if compliant is not None else "",
        corridor_compliance=compliant / len(corridors)
        if compliant is not None and len(corridors)
        else "",
        seconds="",
    )
    return row


def failed_row(job: ScenarioJob, error: str) -> dict[str, Any]:
    """The ``sweep.csv`` row of a scenario that failed."""
    row = _head(job, "failed", error)
    row.update(dict.fromkeys(FIGURES, ""))
    return row


def _head(job: ScenarioJob, status: str, error: str) -> dict[str, Any]:
    return {"scenario": job.scenario, **dict(job.params), "status": status, "error": error}


def run_sweep(
    jobs: Sequence[ScenarioJob], *, scheduler: str | None = None, n_workers: int | None = None
) -> list[dict[str, Any]]:
    """Every scenario of ``jobs`` on a Dask cluster (one task each); rows in job order
    (``scheduler`` as for :func:`planner.app.batch.run_batch`)."""
    from planner.app._dask import run_tasks

    return run_tasks(
        run_scenario_job, jobs, scheduler=scheduler, n_workers=n_workers, on_error=failed_row
    )
