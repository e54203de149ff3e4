"""The CLI commands ``compare``, ``demo`` and ``strategies``, and what every command shares:
progress steps, input-file checks, the all-or-nothing ``--out``, writing a plan's folder. Called by
:mod:`planner.app.cli` (which runs ``plan`` and ``national`` itself, straight on the API).

Progress bars (tqdm, to stderr) live here and in the CLI only; library modules just log.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from planner.app.export import PLAN_PRODUCTS, write_csv, write_plan
from planner.core.errors import InputError
from planner.io._atomic import write_json_atomic
from planner.io._outdir import output_folder

logger = logging.getLogger(__name__)

COMPARE_PRODUCTS = ("metrics.csv", "metrics.json", "compare.html", "report.html")
#: The offline map assets (``--offline-assets``): removed by a run with ``--overwrite``.
ASSET_FILES = ("assets/**/*",)


class Steps:
    """A progress bar over named steps (silent with ``-q``)."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=total,
            disable=quiet or not sys.stderr.isatty(),
            unit="step",
            file=sys.stderr,
            leave=False,
        )
        self._t0 = time.perf_counter()
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Advance the bar around a step (the API's progress hook, ``progress=steps.step``)."""
        self._bar.set_description(name)
        t = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t, 3)
        self._bar.update(1)

    def close(self) -> float:
        self._bar.close()
        return round(time.perf_counter() - self._t0, 3)


def check_input_file(path: Path | None, option: str) -> None:
    """Refuse a missing, folder or unreadable input file before any work is done."""
    if path is not None and Path(path).is_dir():
        raise InputError(f"{option}: {path} is a folder, not a file; give a file")
    if path is not None and not Path(path).is_file():
        raise InputError(f"{option}: file {path} does not exist; give an existing file")
    if path is not None:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise InputError(
                f"{option}: cannot read {path} ({exc.strerror}); fix its permissions"
            ) from None


def parse_formats(text: str) -> tuple[str, ...]:
    """``--format geojson,gpkg,parquet``: the formats of a plan's tables (see
    :func:`planner.app.export.check_formats`)."""
    from planner.app.export import check_formats

    return check_formats([f.strip() for f in str(text).split(",")], option="--format")


def network_source(args: argparse.Namespace) -> Any:
    """What ``--osm``, ``--place`` or ``--bbox`` names, as :func:`planner.load_network` takes it."""
    if getattr(args, "osm", None) is not None:
        return args.osm
    return args.place if getattr(args, "place", None) else args.bbox


def recorded_options(args: argparse.Namespace) -> dict[str, Any]:
    """The command's options, as ``summary["inputs"]`` records them."""
    return {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if k not in {"verbose", "quiet"}
    }


def plan_folder(args: argparse.Namespace) -> Any:
    """The all-or-nothing ``--out`` of a single plan (see
    :func:`planner.io._outdir.output_folder`)."""
    return output_folder(
        args.out,
        products=PLAN_PRODUCTS,
        replaces=(*PLAN_PRODUCTS, *ASSET_FILES),
        overwrite=args.overwrite,
        keep=_inputs(args),
    )


def write_plan_folder(
    plan: Any, out: Path, steps: Steps, args: argparse.Namespace, formats: Sequence[str]
) -> int:
    """Write a :class:`planner.Plan`'s files in ``formats``, its map and ``summary.json`` (the
    plan's summary plus ``map_html_bytes``; the plan itself is not changed); return the map's
    size in bytes."""
    from planner.app.maps import write_map

    with steps.step("writing"):
        written = write_plan(plan.core, out, formats=formats)
    with steps.step("map"):
        m = plan.explore(offline_assets=args.offline_assets)
        path = write_map(m, out / "map.html", offline_assets=args.offline_assets)
    map_bytes = path.stat().st_size
    write_json_atomic(out / "summary.json", {**plan.core.summary, "map_html_bytes": map_bytes})
    logger.debug("wrote %s", ", ".join(sorted(written)))
    return map_bytes


def _inputs(args: argparse.Namespace) -> list[Any]:
    """The files a command reads (never removed from its --out)."""
    files = [getattr(args, name, None) for name in ("osm", "existing", "config")]
    scenario = getattr(args, "scenario", None)
    if isinstance(scenario, list):  # compare: NAME=FILE items
        files += [str(item).partition("=")[2] for item in scenario]
    else:
        files.append(scenario)
    return [f for f in files if f]


def report_plan(out: Path, plan: Any, *, map_bytes: int, seconds: float) -> None:
    """The one line a finished ``plan`` or ``national`` command prints."""
    size_mb = map_bytes / 1e6
    print(
        f"planner: {len(plan.core.sites)} sites ({plan.strategy}) on {plan.ground.name} -> "
        f"{out} [map.html {size_mb:.1f} MB] in {seconds:.1f} s"
    )


def parse_strategies(text: str) -> list[str]:
    """``--strategies a,b``: at least two registered, distinct names."""
    from planner.strategies import get_strategy

    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        get_strategy(n)
    if len(set(names)) < 2:
        raise InputError(
            f"--strategies: expected at least two different strategies, got {text!r}; "
            "e.g. --strategies us-nevi,china-pile-swap"
        )
    return names


def _scenario_files(items: Sequence[str | Path], names: Sequence[str]) -> dict[str, Path]:
    """``--scenario NAME=FILE`` items by strategy name, each NAME among ``names``."""
    files: dict[str, Path] = {}
    for item in items:
        name, sep, path = str(item).partition("=")
        if not sep:
            raise InputError(f"--scenario: expected NAME=FILE, got {item!r}")
        check_input_file(Path(path), "--scenario")
        files[name] = Path(path)
    unknown = sorted(set(files) - set(names))
    if unknown:
        raise InputError(
            f"--scenario: {', '.join(map(repr, unknown))} is not one of --strategies "
            f"({', '.join(names)}); give NAME=FILE with NAME among them"
        )
    return files


def cmd_compare(args: argparse.Namespace) -> None:
    """``planner compare``: several strategies on one ground (:func:`planner.compare`),
    metrics, synced maps, report."""
    import planner
    from planner.app.comparison import check_same

    names = parse_strategies(args.strategies)
    formats = parse_formats(args.format)
    scenarios = _scenario_files(args.scenario, names)
    check_input_file(args.osm, "--osm")
    check_input_file(args.existing, "--existing")
    check_input_file(args.config, "--config")
    for name, path in scenarios.items():  # every parameter is checked before the ground loads
        planner.strategy_params(name, path)
    check_same(names, args.same)
    products = (*COMPARE_PRODUCTS, *(f"{n}/{p}" for n in names for p in PLAN_PRODUCTS))
    earlier = (*products, *_strategy_files(""), *ASSET_FILES)
    with output_folder(
        args.out, products=products, replaces=earlier, overwrite=args.overwrite, keep=_inputs(args)
    ) as out:
        steps = Steps(3, quiet=args.quiet)
        city = args.country is None
        result = planner.compare(
            names,
            country=args.country,
            network=network_source(args) if city else None,
            same=args.same,
            scenarios=scenarios,
            seed=args.seed,
            existing=args.existing if city else None,
            demand_config=args.config if city else None,
            candidates=args.candidates,
            cache_dir=args.cache_dir,
            progress=steps.step,
            inputs=recorded_options(args),
        )
        with steps.step("writing"):
            paths = write_comparison(
                result, out, offline_assets=args.offline_assets, formats=formats
            )
            size_mb = paths["compare.html"].stat().st_size / 1e6
        steps.close()
    print(
        f"planner: compared {', '.join(names)} on {result.plans[0].ground.name} -> "
        f"{Path(args.out) / paths['compare.html'].name} ({size_mb:.1f} MB), "
        f"{paths['report.html'].name}"
    )


def _strategy_files(suffix: str) -> list[str]:
    """The plan files of every registered strategy's subfolder ``<strategy><suffix>/``."""
    from planner.strategies import strategy_names

    return [f"{n}{suffix}/{p}" for n in strategy_names() for p in PLAN_PRODUCTS]


#: How the report names a plan's sites file, by format (the first format written is linked).
_SITES_LINKS = {
    "geojson": ("GeoJSON", "sites.geojson"),
    "gpkg": ("GeoPackage", "plan.gpkg"),
    "parquet": ("GeoParquet", "sites.parquet"),
}


def write_comparison(
    result: Any,
    out: Path,
    *,
    offline_assets: bool,
    formats: Sequence[str] = ("geojson",),
    suffix: str = "",
) -> dict[str, Path]:
    """Write ``compare{suffix}.html``, ``report{suffix}.html`` and ``metrics{suffix}.csv/json``
    of a :class:`planner.Comparison` into ``out`` (a run's staging folder), and each strategy's
    files in ``formats`` into ``out/<strategy>{suffix}/``."""
    from planner.app.maps import compare_map, write_map
    from planner.app.report import write_report

    plans = [p.core for p in result.plans]
    paths: dict[str, Path] = {}
    for plan in plans:
        sub = out / f"{plan.strategy}{suffix}"
        sub.mkdir(exist_ok=True)
        write_plan(plan, sub, formats=formats)
    paths["metrics.csv"] = write_csv(result.metrics, out / f"metrics{suffix}.csv")
    paths["metrics.json"] = write_json_atomic(
        out / f"metrics{suffix}.json", result.metrics.to_dict(orient="records")
    )
    m = compare_map(plans, result.metrics, offline_assets=offline_assets)
    name = f"compare{suffix}.html"
    paths["compare.html"] = write_map(m, out / name, offline_assets=offline_assets)
    kind, sites_file = _SITES_LINKS["geojson" if "geojson" in formats else formats[0]]
    links = {
        "Comparison map": name,
        **{f"{p.strategy} sites ({kind})": f"{p.strategy}{suffix}/{sites_file}" for p in plans},
    }
    paths["report.html"] = write_report(
        plans,
        result.metrics,
        out,
        params=result.params,
        map_links=links,
        filename=f"report{suffix}.html",
    )
    return paths


def cmd_demo(args: argparse.Namespace) -> None:
    """``planner demo``: both strategies on the US and China grounds (see
    :mod:`planner.app.demo`)."""
    from planner.app.demo import demo_products, resolve_offline_assets, run_demo

    out = Path(args.out)
    products = (*demo_products(), *_OLD_DEMO_FILES)  # an earlier layout's demo counts too
    with output_folder(
        out,
        products=products,
        replaces=products,
        overwrite=args.overwrite,
    ) as stage:
        offline = resolve_offline_assets(args.offline_assets)
        steps = iter(range(1, 9))

        def progress(text: str) -> None:
            if not args.quiet:
                print(f"planner demo [{next(steps)}/8] {text} ...", file=sys.stderr, flush=True)

        pages = run_demo(
            stage,
            offline_assets=offline,
            seed=args.seed,
            progress=progress,
            inputs={"command": "demo", "seed": args.seed, "offline_assets": offline},
        )
        staged = [p for p in stage.rglob("*") if p.is_file()]
        size_mb = sum(f.stat().st_size for f in staged) / 1e6
    shown = ", ".join(str(out / p.relative_to(stage)) for p in pages)
    print(f"planner demo: {shown} ({size_mb:.1f} MB in {out})")


#: Files of the demo's earlier layout (before the per-country folders), replaced by a new demo.
_OLD_DEMO_FILES = (
    "us_nevi/*",
    "china_pile_swap/*",
    "compare_us.html",
    "compare_cn.html",
    "report_us.html",
    "report_cn.html",
    "metrics_*.csv",
    "metrics_*.json",
    "*-*_us/*",
    "*-*_cn/*",
)


def cmd_strategies(args: argparse.Namespace) -> None:
    """``planner strategies``: list the registry."""
    from planner.strategies import get_strategy, strategy_names

    if getattr(args, "params", None):
        _print_params(get_strategy(args.params).params_type)
        return
    for name in strategy_names():
        spec = get_strategy(name)
        note = "" if spec.has_cost_model or "no cost model" in spec.title else " (no cost model)"
        print(f"{name:18s} {spec.title}{note}")


def _print_params(cls: type) -> None:
    """One line per parameter of ``cls`` (its :func:`planner.core.fields.param_table`)."""
    from planner.core.fields import param_table

    for row in param_table(cls):
        unit = f" [{row['unit']}]" if row["unit"] else ""
        bounds = f" {row['bounds']}" if row["bounds"] else ""
        note = f"  ({row['help']})" if row["help"] else ""
        print(f"{row['name']:30s} {row['type']}{unit}{bounds} = {row['default']}{note}")
