"""What each CLI command does, step by step: load, plan, write. Called by :mod:`planner.cli`.

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

from planner import ATTRIBUTION
from planner._atomic import write_json_atomic
from planner._outdir import output_folder
from planner.errors import InputError
from planner.export import PLAN_PRODUCTS, write_csv, write_plan
from planner.ground import Ground
from planner.strategies.base import Plan

logger = logging.getLogger(__name__)

DEFAULT_STRATEGY = {"us": "us-nevi", "cn": "china-pile-swap"}
COMPARE_PRODUCTS = ("metrics.csv", "metrics.json", "compare.html", "report.html")
#: The offline map assets (``--offline-assets``): removed by a run with ``--overwrite``.
ASSET_FILES = ("assets/**/*",)


class _Steps:
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
        self._bar.set_description(name)
        t = time.perf_counter()
        logger.info("%s ...", name)
        yield
        self.timings[name] = round(time.perf_counter() - t, 3)
        self._bar.update(1)

    def close(self) -> float:
        self._bar.close()
        return round(time.perf_counter() - self._t0, 3)


#: Radius of the within-radius figures of a non-coverage plan without ``--radius-km``.
DEFAULT_RADIUS_KM = 3.0


def _check_input_file(path: Path | None, option: str) -> None:
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


def load_city_network(args: argparse.Namespace) -> Any:
    """The street network named by ``--osm``, ``--place`` or ``--bbox``."""
    from planner.network import load_network, network_from_bbox, network_from_place

    if getattr(args, "osm", None) is not None:
        return load_network(args.osm)
    if getattr(args, "place", None):
        return network_from_place(args.place, cache_dir=args.cache_dir)
    return network_from_bbox(args.bbox, cache_dir=args.cache_dir)


def build_city_ground(args: argparse.Namespace, network: Any) -> Ground:
    from planner.demand import DemandConfig
    from planner.grounds import city_ground
    from planner.scenario import load_scenario, params_from_mapping

    config = (
        params_from_mapping(
            DemandConfig,
            load_scenario(args.config, option="--config"),
            where=f"--config {args.config}",
        )
        if args.config
        else DemandConfig()
    )
    return city_ground(
        network,
        demand_config=config,
        n_candidates=args.candidates,
        existing=args.existing,
        seed=args.seed,
    )


def strategy_params(
    name: str, scenario: Path | None, overrides: dict[str, Any] | None = None
) -> Any:
    """The parameters of strategy ``name``: its defaults, a scenario file, then ``overrides``."""
    from planner.scenario import load_scenario, params_from_mapping
    from planner.strategies import get_strategy

    spec = get_strategy(name)
    mapping: dict[str, Any] = dict(load_scenario(scenario)) if scenario else {}
    mapping.update(overrides or {})
    where = f"--scenario {scenario}" if scenario else f"parameters of {name}"
    return params_from_mapping(spec.params_type, mapping, where=where)


def _coverage_extras(plan: Plan, radius: Any) -> dict[str, Any]:
    """``within_radius_*`` figures of any plan for the ``ServiceRadius`` ``radius``."""
    from planner.strategies.coverage import coverage_figures

    nodes = plan.sites["node_idx"].to_numpy()
    figures = coverage_figures(plan.ground, nodes, radius.radius_m, radius_min=radius.radius_min)
    return {f"within_radius_{k}": v for k, v in figures.items()}


def _service_radius(args: argparse.Namespace, params: Any) -> Any:
    """The plan's service radius: ``--radius-min``, else the strategy's or ``--radius-km``."""
    from planner.reach import ServiceRadius

    if getattr(args, "radius_min", None) is not None:
        return ServiceRadius(radius_min=float(args.radius_min))
    if getattr(params, "radius_min", None) is not None:
        return ServiceRadius(radius_min=float(params.radius_min))
    radius_km = float(getattr(params, "radius_km", args.radius_km or DEFAULT_RADIUS_KM))
    return ServiceRadius(radius_m=radius_km * 1000.0)


def cmd_plan(args: argparse.Namespace) -> None:
    """``planner plan``: one city, one strategy."""
    from planner.strategies import get_strategy

    get_strategy(args.strategy)
    _check_input_file(args.osm, "--osm")
    _check_input_file(args.existing, "--existing")
    _check_input_file(args.config, "--config")
    _check_input_file(args.scenario, "--scenario")
    given = {
        "sites": args.sites,
        "radius_km": args.radius_km,
        "radius_min": getattr(args, "radius_min", None),
        "model": args.model,
    }
    overrides = {k: v for k, v in given.items() if v is not None}
    coverage_only = [k for k in ("sites", "model") if k in overrides]
    if args.strategy != "coverage" and coverage_only:
        logger.warning(
            "--%s: only for the coverage strategy; ignored for %s",
            ", --".join(coverage_only),
            args.strategy,
        )
    params = strategy_params(
        args.strategy, args.scenario, overrides if args.strategy == "coverage" else {}
    )
    # the radius of the within-radius figures (and of the map's service areas)
    radius = _service_radius(args, params)
    with _plan_folder(args) as stage:
        plan, total = _city_plan(args, params, stage, radius=radius)
    _report(args.out, plan, total)


def _plan_folder(args: argparse.Namespace) -> Any:
    """The all-or-nothing ``--out`` of a single plan (see :func:`planner._outdir.output_folder`)."""
    return output_folder(
        args.out,
        products=PLAN_PRODUCTS,
        replaces=(*PLAN_PRODUCTS, *ASSET_FILES),
        overwrite=args.overwrite,
        keep=_inputs(args),
    )


def _city_plan(
    args: argparse.Namespace, params: Any, out: Path, *, radius: Any
) -> tuple[Plan, float]:
    """Load the network, build the ground, run the strategy and write its files and map."""
    from planner.maps import city_map, write_map
    from planner.strategies import get_strategy

    steps = _Steps(5, quiet=args.quiet)
    with steps.step("loading network"):
        network = load_city_network(args)
    with steps.step("demand and candidates"):
        ground = build_city_ground(args, network)
    with steps.step(f"planning ({args.strategy})"):
        plan = get_strategy(args.strategy).plan(ground, params, seed=args.seed)
    with steps.step("writing"):
        plan.summary.update(_coverage_extras(plan, radius))
        plan.summary.setdefault("service_radius", radius.label)
        _finish_summary(plan, args, steps)
        written = write_plan(plan, out)
    with steps.step("map"):
        m = city_map(
            plan,
            edges=ground.edges,
            coverage_radius_m=_map_radius_m(radius) if args.strategy == "coverage" else None,
            offline_assets=args.offline_assets,
        )
        path = write_map(m, out / "map.html", offline_assets=args.offline_assets)
    plan.summary["map_html_bytes"] = path.stat().st_size
    write_json_atomic(out / "summary.json", plan.summary)
    logger.debug("wrote %s", ", ".join(sorted(written)))
    return plan, steps.close()


def _map_radius_m(radius: Any) -> float:
    """The map's coverage radius in metres; a drive-time plan's service area is read from its
    summary (``radius_min``), so any positive number does (the radius in seconds)."""
    return float(radius.limit)


def _inputs(args: argparse.Namespace) -> list[Any]:
    """The files a command reads (never removed from its --out)."""
    files = [getattr(args, name, None) for name in ("osm", "existing", "config")]
    scenario = getattr(args, "scenario", None)
    if isinstance(scenario, list):  # compare: NAME=FILE items
        files += [str(item).partition("=")[2] for item in scenario]
    else:
        files.append(scenario)
    return [f for f in files if f]


def _finish_summary(plan: Plan, args: argparse.Namespace, steps: _Steps) -> None:
    g = plan.ground
    plan.summary.setdefault("strategy", plan.strategy)
    plan.summary["inputs"] = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if k not in {"verbose", "quiet"}
    }
    plan.summary["ground"] = {
        "name": g.name,
        "scale": g.scale,
        "country": g.country,
        "crs": g.crs,
        "nodes": g.n_nodes,
        "demand_points": int(g.demand.demand.size),
        "candidates": len(g.candidates),
        "corridors": len(g.corridors),
        "demand_unit": g.demand.unit,
        **{k: v for k, v in g.meta.items() if isinstance(v, int | float | str)},
    }
    plan.summary["site_count"] = len(plan.sites)
    plan.summary["timings_s"] = dict(steps.timings)
    plan.summary["attribution"] = "; ".join([ATTRIBUTION, *plan.ground.extra_credits()])


def _report(out: Path, plan: Plan, seconds: float) -> None:
    size_mb = plan.summary["map_html_bytes"] / 1e6
    print(
        f"planner: {len(plan.sites)} sites ({plan.strategy}) on {plan.ground.name} -> {out} "
        f"[map.html {size_mb:.1f} MB] in {seconds:.1f} s"
    )


def cmd_national(args: argparse.Namespace) -> None:
    """``planner national``: a country's national plan."""
    from planner.grounds import check_country
    from planner.strategies import get_strategy

    country = check_country(args.country)
    name = args.strategy or DEFAULT_STRATEGY[country]
    get_strategy(name)
    _check_input_file(args.scenario, "--scenario")
    _check_input_file(args.osm, "--osm")
    params = strategy_params(name, args.scenario)
    with _plan_folder(args) as stage:
        plan, total = national_plan(country, name, params, stage, args)
    _report(args.out, plan, total)


def national_plan(
    country: str, name: str, params: Any, out: Path, args: argparse.Namespace
) -> tuple[Plan, float]:
    """Build the national ground, run ``name`` and write its files and map into ``out``."""
    from planner.grounds import national_ground
    from planner.maps import national_map, write_map
    from planner.strategies import get_strategy

    steps = _Steps(4, quiet=args.quiet)
    with steps.step("national ground"):
        ground = national_ground(country, osm=getattr(args, "osm", None), seed=args.seed)
    with steps.step(f"planning ({name})"):
        plan = get_strategy(name).plan(ground, params, seed=args.seed)
    with steps.step("writing"):
        _finish_summary(plan, args, steps)
        written = write_plan(plan, out)
    with steps.step("map"):
        path = write_map(
            national_map(plan, offline_assets=args.offline_assets),
            out / "map.html",
            offline_assets=args.offline_assets,
        )
    plan.summary["map_html_bytes"] = path.stat().st_size
    write_json_atomic(out / "summary.json", plan.summary)
    logger.debug("wrote %s", ", ".join(sorted(written)))
    return plan, steps.close()


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


def _scenario_files(items: Sequence[str | Path]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for item in items:
        name, sep, path = str(item).partition("=")
        if not sep:
            raise InputError(f"--scenario: expected NAME=FILE, got {item!r}")
        _check_input_file(Path(path), "--scenario")
        files[name] = Path(path)
    return files


def cmd_compare(args: argparse.Namespace) -> None:
    """``planner compare``: several strategies on one ground, metrics, synced maps, report."""
    from planner.compare import run_comparison

    names = parse_strategies(args.strategies)
    scenarios = _scenario_files(args.scenario)
    unknown = sorted(set(scenarios) - set(names))
    if unknown:
        raise InputError(
            f"--scenario: {', '.join(map(repr, unknown))} is not one of --strategies "
            f"({', '.join(names)}); give NAME=FILE with NAME among them"
        )
    _check_input_file(args.osm, "--osm")
    _check_input_file(args.existing, "--existing")
    _check_input_file(args.config, "--config")
    for name, path in scenarios.items():  # every parameter is checked before the ground loads
        strategy_params(name, path)
    run_comparison_check_same(names, args.same)
    products = (*COMPARE_PRODUCTS, *(f"{n}/{p}" for n in names for p in PLAN_PRODUCTS))
    earlier = (*products, *_strategy_files(""), *ASSET_FILES)
    with output_folder(
        args.out, products=products, replaces=earlier, overwrite=args.overwrite, keep=_inputs(args)
    ) as out:
        steps = _Steps(3, quiet=args.quiet)
        with steps.step("ground"):
            ground = _compare_ground(args)
        with steps.step("planning"):
            result = run_comparison(
                ground, names, same=args.same, scenarios=scenarios, seed=args.seed
            )
        with steps.step("writing"):
            paths = write_comparison(result, out, offline_assets=args.offline_assets)
            size_mb = paths["compare.html"].stat().st_size / 1e6
    print(
        f"planner: compared {', '.join(names)} on {ground.name} -> "
        f"{Path(args.out) / paths['compare.html'].name} ({size_mb:.1f} MB), "
        f"{paths['report.html'].name}"
    )


def _strategy_files(suffix: str) -> list[str]:
    """The plan files of every registered strategy's subfolder ``<strategy><suffix>/``."""
    from planner.strategies import strategy_names

    return [f"{n}{suffix}/{p}" for n in strategy_names() for p in PLAN_PRODUCTS]


def run_comparison_check_same(names: Sequence[str], same: str) -> None:
    """``--same capex`` needs every strategy to have a cost model."""
    from planner.strategies import get_strategy

    if same == "capex":
        missing = [n for n in names if not get_strategy(n).has_cost_model]
        if missing:
            raise InputError(
                f"--same capex: strategy {', '.join(missing)} has no cost model; "
                "use --same ports or --same none"
            )


def _compare_ground(args: argparse.Namespace) -> Ground:
    from planner.grounds import national_ground

    if args.country:
        return national_ground(args.country, seed=args.seed)
    return build_city_ground(args, load_city_network(args))


def write_comparison(
    result: Any,
    out: Path,
    *,
    offline_assets: bool,
    suffix: str = "",
) -> dict[str, Path]:
    """Write ``compare{suffix}.html``, ``report{suffix}.html`` and ``metrics{suffix}.csv/json``
    into ``out`` (a run's staging folder), and each strategy's files into
    ``out/<strategy>{suffix}/``."""
    from planner.maps import compare_map, write_map
    from planner.report import write_report

    paths: dict[str, Path] = {}
    for plan in result.plans:
        sub = out / f"{plan.strategy}{suffix}"
        sub.mkdir(exist_ok=True)
        write_plan(plan, sub)
    paths["metrics.csv"] = write_csv(result.metrics, out / f"metrics{suffix}.csv")
    paths["metrics.json"] = write_json_atomic(
        out / f"metrics{suffix}.json", result.metrics.to_dict(orient="records")
    )
    m = compare_map(list(result.plans), result.metrics, offline_assets=offline_assets)
    name = f"compare{suffix}.html"
    paths["compare.html"] = write_map(m, out / name, offline_assets=offline_assets)
    links = {
        "Comparison map": name,
        **{
            f"{p.strategy} sites (GeoJSON)": f"{p.strategy}{suffix}/sites.geojson"
            for p in result.plans
        },
    }
    paths["report.html"] = write_report(
        list(result.plans),
        result.metrics,
        out,
        params=result.params,
        map_links=links,
        filename=f"report{suffix}.html",
    )
    return paths


def cmd_demo(args: argparse.Namespace) -> None:
    """``planner demo``: both strategies on the US and China grounds (see :mod:`planner.demo`)."""
    from planner.demo import demo_products, resolve_offline_assets, run_demo

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

    for name in strategy_names():
        spec = get_strategy(name)
        note = "" if spec.has_cost_model or "no cost model" in spec.title else " (no cost model)"
        print(f"{name:18s} {spec.title}{note}")
