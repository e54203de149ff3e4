"""The Python API: load a road network, plan a city or a country, compare strategies.

Each function reads like the pipeline the command line runs, one step per line: network ->
ground (demand, candidates, corridors, regions, existing stations) -> strategy -> summary. The
strategies' parameters are the frozen dataclasses a scenario file fills
(:func:`strategy_params`); keyword arguments override single keys and an unknown one raises
:class:`TypeError` naming it. Bad values raise :class:`planner.core.errors.InputError` (a
``ValueError``) with a one-line message.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.app._api_inputs import Scenario, Table, city_inputs, described
from planner.app.plan import Comparison, Plan
from planner.core.errors import InputError, describe
from planner.countries import ByCountry
from planner.ground.network import RoadNetwork, load_network
from planner.ground.reach import ServiceRadius
from planner.ground.sites import settle_plan
from planner.strategies.base import Plan as StrategyPlan

logger = logging.getLogger(__name__)

#: The strategy a national plan runs when none is named.
DEFAULT_STRATEGY: Mapping[str, Any] = ByCountry("default_strategy")
#: Radius of the within-radius figures of a city plan whose strategy has no radius of its own.
DEFAULT_RADIUS_KM = 3.0

Source = RoadNetwork | str | Path | Sequence[float]
#: A progress hook: called with a step's name, it returns the context manager the step runs in
#: (the command line's progress bar); see ``progress=`` of :func:`plan_city`.
Progress = Callable[[str], AbstractContextManager[Any]]

__all__ = [
    "DEFAULT_STRATEGY",
    "compare",
    "load_network",
    "plan_city",
    "plan_national",
    "strategy_params",
]


class _Timer:
    """Wall-clock seconds of named steps, for ``summary["timings_s"]``; each step runs inside
    ``progress(name)`` when a progress hook is given."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.timings: dict[str, float] = {}
        self._progress = progress

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        logger.info("%s ...", name)
        with self._progress(name) if self._progress is not None else nullcontext():
            yield
        self.timings[name] = round(time.perf_counter() - t0, 3)


def strategy_params(
    strategy: str, scenario: Scenario = None, *, caller: str = "strategy_params", **params: Any
) -> Any:
    """The parameters of ``strategy``: its defaults, then ``scenario``, then ``params``.

    Parameters
    ----------
    strategy
        A registered strategy (:func:`planner.strategies.strategy_names`).
    scenario
        A TOML/JSON scenario file, a mapping of its keys, or an instance of the strategy's
        parameter dataclass (e.g. ``CoverageParams(sites=10)``); ``None`` for the defaults.
    caller
        The public function named in a :class:`TypeError`.
    **params
        Single keys overriding the scenario (``sites=10``, ``target_ports=250_000``).

    Returns
    -------
    object
        The strategy's frozen parameter dataclass, checked key by key.

    Raises
    ------
    TypeError
        A keyword the strategy does not take (the message lists the valid ones).
    planner.core.errors.InputError
        A value of the wrong type or out of range.

    Examples
    --------
    >>> planner.strategy_params("coverage", sites=10).radius_km
    3.0
    """
    from planner.io.scenario import params_from_mapping, scenario_mapping
    from planner.strategies import get_strategy

    spec = get_strategy(strategy)
    valid = sorted(f.name for f in dataclasses.fields(spec.params_type))
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise TypeError(
            f"{caller}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))} "
            f"for strategy {strategy!r}; its parameters are {', '.join(valid)}"
        )
    mapping = scenario_mapping(scenario, spec.params_type, option="scenario")
    mapping.update(params)
    where = "scenario" if scenario is not None else f"parameters of {strategy}"
    return params_from_mapping(spec.params_type, mapping, where=where)


def plan_city(
    network: Source,
    *,
    strategy: str = "coverage",
    sites: int | None = None,
    radius_km: float | None = None,
    radius_min: float | None = None,
    existing: Table = None,
    demand: Table = None,
    demand_column: str = "demand",
    demand_config: Scenario = None,
    candidates: int = 1500,
    country: str | None = None,
    scenario: Scenario = None,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    inputs: Mapping[str, Any] | None = None,
    **params: Any,
) -> Plan:
    """Plan charging sites in a city on its OpenStreetMap street network.

    Parameters
    ----------
    network
        A :class:`~planner.ground.network.RoadNetwork` from :func:`load_network`, or what it loads:
        an OSM file (``.osm``, ``.osm.bz2``, ``.osm.pbf``), a place name or a
        ``(west, south, east, north)`` box (the last two online, cached in ``cache_dir``).
    strategy
        A registered strategy: ``"coverage"`` (default), ``"us-nevi"``,
        ``"china-pile-swap"``, ``"grid-baseline"``.
    sites
        New sites to place (coverage strategy; default 25, or the scenario's).
    radius_km
        Service radius in network km (coverage; default 3). For other strategies, the radius
        of the plan's ``within_radius_*`` figures only.
    radius_min
        Service radius in minutes of driving instead (edge travel times from ``maxspeed`` or
        ``data/road_speeds.csv``); as ``radius_km`` for other strategies.
    existing
        Existing stations: an AFDC CSV, a GeoJSON/GeoPackage path, or a GeoDataFrame of
        points with ``dc_ports``/``ac_ports`` (any CRS).
    demand
        Extra user demand: a CSV/GeoJSON path (``lon, lat, demand``) or a GeoDataFrame of
        points whose ``demand_column`` holds each point's weight (person-equivalents).
    demand_column
        The weight column of a ``demand`` GeoDataFrame.
    demand_config
        The demand model (:class:`planner.ground.demand.DemandConfig`, a mapping or a TOML/JSON
        file).
    candidates
        Candidate sites kept after clustering.
    country
        ``"us"`` or ``"cn"``: whose facts apply (default: from the area's position).
    scenario
        Strategy parameters: a TOML/JSON file, a mapping or the parameter dataclass.
    seed
        Random seed, 0 to 2**32 - 1.
    cache_dir
        Cache of online downloads (default ``~/.cache/planner``).
    progress
        Called with each step's name (``"loading network"``, ``"demand and candidates"``,
        ``"planning (<strategy>)"``); the step runs inside the context manager it returns.
    inputs
        What ``summary["inputs"]`` records (default: these arguments); the command line
        records its own options.
    **params
        Any other parameter of the strategy, e.g. ``model="pmedian"`` or ``time_limit_s=2``.

    Returns
    -------
    Plan

    Examples
    --------
    >>> plan = planner.plan_city("bangor.osm.pbf", sites=10, radius_km=3)  # doctest: +SKIP
    >>> plan.summary["covered_share"]  # doctest: +SKIP
    """
    from planner.ground.build import city_ground
    from planner.strategies import get_strategy

    spec = get_strategy(strategy)
    overrides = _city_overrides(spec.params_type, params, sites, radius_km, radius_min)
    chosen = strategy_params(strategy, scenario, caller="plan_city", **overrides)
    radius = _service_radius(chosen, radius_km=radius_km, radius_min=radius_min)
    city = city_inputs(existing, demand, demand_column, demand_config, candidates, seed)
    seed = city["seed"]  # checked
    timer = _Timer(progress)
    with timer.step("loading network"):
        net = _network(network, cache_dir=cache_dir)
    with timer.step("demand and candidates"):
        ground = city_ground(net, country=country, **city)
    with timer.step(f"planning ({strategy})"):
        core = settle_plan(spec.run(ground, chosen, seed=seed))
    within = {"service_radius": radius.label, **core.summary, **_within_radius(core, radius)}
    core = replace(core, summary=within)
    recorded = (
        inputs
        if inputs is not None
        else {
            "network": net.source or net.name,
            "strategy": strategy,
            "existing": described(existing),
            "demand": described(demand),
            "candidates": candidates,
            "country": country,
            "scenario": described(scenario),
            "seed": seed,
            "params": overrides,
        }
    )
    return Plan(finish_summary(core, inputs=recorded, timings=timer.timings))


def plan_national(
    country: str,
    *,
    strategy: str | None = None,
    osm: str | Path | None = None,
    scenario: Scenario = None,
    seed: int = 0,
    progress: Progress | None = None,
    inputs: Mapping[str, Any] | None = None,
    **params: Any,
) -> Plan:
    """Plan a country's charging network on its national corridor network (offline).

    Parameters
    ----------
    country
        ``"us"`` (Interstates, states) or ``"cn"`` (national expressways, provinces).
    strategy
        A registered strategy; default ``"us-nevi"`` for the US, ``"china-pile-swap"`` for
        China.
    osm
        A country-wide ``.osm.pbf``: plan on its motorways instead of the embedded corridors.
    scenario
        Strategy parameters: a TOML/JSON file, a mapping or the parameter dataclass.
    seed
        Random seed, 0 to 2**32 - 1; the same seed gives the same plan as
        ``planner national --seed``.
    progress, inputs
        As :func:`plan_city` takes them (steps ``"national ground"``, ``"planning (<name>)"``).
    **params
        Any parameter of the strategy, e.g. ``target_ports=250_000``.

    Returns
    -------
    Plan

    Examples
    --------
    >>> us = planner.plan_national("us", seed=0)  # doctest: +SKIP
    >>> us.corridors["max_gap_mi"].max() <= 50  # doctest: +SKIP
    True
    """
    from planner.ground.build import check_country, national_ground
    from planner.strategies import get_strategy
    from planner.strategies.base import check_seed

    code = check_country(country)
    name = strategy or DEFAULT_STRATEGY[code]
    spec = get_strategy(name)
    chosen = strategy_params(name, scenario, caller="plan_national", **params)
    seed = check_seed(seed)
    timer = _Timer(progress)
    with timer.step("national ground"):
        ground = national_ground(code, osm=osm, seed=seed)
    with timer.step(f"planning ({name})"):
        core = settle_plan(spec.run(ground, chosen, seed=seed))
    recorded = (
        inputs
        if inputs is not None
        else {
            "country": code,
            "strategy": name,
            "osm": described(osm),
            "scenario": described(scenario),
            "seed": seed,
            "params": params,
        }
    )
    return Plan(finish_summary(core, inputs=recorded, timings=timer.timings))


def compare(
    plans_or_strategies: Sequence[Plan | str],
    *,
    country: str | None = None,
    network: Source | None = None,
    same: str = "none",
    scenarios: Mapping[str, Scenario] | None = None,
    seed: int = 0,
    existing: Table = None,
    demand: Table = None,
    demand_column: str = "demand",
    demand_config: Scenario = None,
    candidates: int = 1500,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> Comparison:
    """Compare plans, or run several strategies on one ground and compare them.

    Parameters
    ----------
    plans_or_strategies
        Two or more :class:`Plan` objects, or two or more strategy names to run on the
        ground given by ``country`` or ``network``.
    country
        ``"us"`` or ``"cn"``: run the strategies on that national ground.
    network
        A road network or its source (as :func:`plan_city` takes): run them on that city.
    same
        ``"none"``, ``"ports"`` or ``"capex"``: scale the later strategies to the first one's
        ports or capex (their size parameter is searched).
    scenarios
        Parameters by strategy name: a TOML/JSON file, a mapping or the parameter dataclass.
    seed
        Random seed, 0 to 2**32 - 1.
    existing, demand, demand_column, demand_config, candidates, cache_dir
        The city ground's inputs, as :func:`plan_city` takes them (``network=`` only).
    progress, inputs
        As :func:`plan_city` takes them (steps ``"city ground"`` or ``"national ground"``,
        then ``"planning (<names>)"``); ``inputs`` is recorded in each plan's summary.

    Returns
    -------
    Comparison
        ``.metrics`` (a DataFrame, one row per plan) and ``.explore()`` (synchronised maps).

    Examples
    --------
    >>> cmp = planner.compare(["us-nevi", "china-pile-swap"], country="us")  # doctest: +SKIP
    >>> cmp.metrics.set_index("strategy")["ports_per_1000_ev"]  # doctest: +SKIP
    """
    from planner.app.comparison import check_same, run_comparison
    from planner.ground.build import city_ground, national_ground
    from planner.strategies.base import check_seed

    items = _compared_items(plans_or_strategies)
    seed = check_seed(seed)
    city = {"existing": existing, "demand": demand, "demand_config": demand_config}
    if any(isinstance(item, Plan) for item in items):
        ground_given = country is not None or network is not None
        return _compare_plans(items, same=same, scenarios=scenarios, ground_given=ground_given)
    if (country is None) == (network is None):
        raise InputError(
            "compare: expected exactly one of country= (a national ground) or network= (a "
            "city) to run the strategies on; e.g. country='us'"
        )
    names = [str(item) for item in items]
    chosen = _compared_scenarios(names, scenarios)
    check_same(names, same)
    given = [k for k, v in city.items() if v is not None]
    if country is not None and given:
        raise InputError(
            f"compare: {', '.join(given)} apply to a city ground (network=), not to "
            f"country={country!r}"
        )
    ground_inputs = city_inputs(existing, demand, demand_column, demand_config, candidates, seed)
    timer = _Timer(progress)
    with timer.step("city ground" if network is not None else "national ground"):
        if network is not None:
            ground = city_ground(_network(network, cache_dir=cache_dir), **ground_inputs)
        else:
            ground = national_ground(str(country), seed=seed)
    with timer.step(f"planning ({', '.join(names)})"):
        result = run_comparison(ground, names, same=same, scenarios=chosen, seed=seed)
    if inputs is None:
        inputs = {"strategies": names, "same": same, "seed": seed, "country": country}
    wrapped = tuple(
        Plan(finish_summary(p, inputs=inputs, timings=timer.timings)) for p in result.plans
    )
    return Comparison(wrapped, result.metrics, result.params, result.same)


def _compare_plans(
    items: Sequence[Plan | str],
    *,
    same: str,
    scenarios: Mapping[str, Scenario] | None,
    ground_given: bool,
) -> Comparison:
    """The comparison of finished plans, as they are."""
    from planner.app.comparison import metrics_table

    plans = [item for item in items if isinstance(item, Plan)]
    if same != "none" or ground_given or scenarios:
        raise InputError(
            "compare: plans are compared as they are; same=, scenarios=, country= and "
            "network= apply to strategy names only"
        )
    params = {p.strategy: dict(p.core.summary.get("params", {})) for p in plans}
    return Comparison(tuple(plans), metrics_table([p.core for p in plans]), params, same)


def _compared_scenarios(
    names: Sequence[str], scenarios: Mapping[str, Scenario] | None
) -> dict[str, Any]:
    """Each named strategy's parameters, checked before any ground is built."""
    given = dict(scenarios or {})
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InputError(
            f"scenarios: {', '.join(map(repr, unknown))} is not one of the compared strategies "
            f"({', '.join(names)}); key the scenarios by strategy name"
        )
    return {name: strategy_params(name, given[name], caller="compare") for name in given}


def finish_summary(
    plan: StrategyPlan, *, inputs: Mapping[str, Any], timings: Mapping[str, float]
) -> StrategyPlan:
    """``plan`` with its summary completed as ``summary.json`` shows it (a new plan; ``plan`` is
    not changed).

    Adds ``strategy``, ``inputs``, ``ground`` (name, scale, CRS, counts, provenance),
    ``site_count``, ``timings_s`` and ``attribution``.
    """
    from planner.app.export import plan_attribution

    g = plan.ground
    ground = {
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
    summary = {
        "strategy": plan.strategy,
        **plan.summary,
        "inputs": dict(inputs),
        "ground": ground,
        "site_count": len(plan.sites),
        "timings_s": dict(timings),
        "attribution": plan_attribution(plan),
    }
    return replace(plan, summary=summary)


def _service_radius(
    params: Any, *, radius_km: float | None, radius_min: float | None
) -> ServiceRadius:
    """A city plan's service radius (of its ``within_radius_*`` figures and map): minutes of
    driving when given (``radius_min=`` or the strategy's), else the strategy's ``radius_km``,
    else ``radius_km=``, else :data:`DEFAULT_RADIUS_KM`."""
    minutes = radius_min if radius_min is not None else getattr(params, "radius_min", None)
    if minutes is not None:
        return ServiceRadius(radius_min=float(minutes))
    km = getattr(params, "radius_km", radius_km if radius_km is not None else DEFAULT_RADIUS_KM)
    return ServiceRadius(radius_m=float(km) * 1000.0)


def _within_radius(plan: StrategyPlan, radius: ServiceRadius) -> dict[str, float]:
    """``within_radius_*``: demand share within ``radius`` of a site, mean and p95 distance
    (and travel time with a radius in minutes)."""
    from planner.strategies.coverage import coverage_figures

    nodes = plan.sites["node_idx"].to_numpy()
    figures = coverage_figures(plan.ground, nodes, radius.radius_m, radius_min=radius.radius_min)
    return {f"within_radius_{key}": value for key, value in figures.items()}


def _compared_items(items: object) -> list[Plan | str]:
    """Two or more plans, or two or more distinct registered strategy names."""
    from planner.strategies import get_strategy

    seq = list(items) if isinstance(items, Sequence) and not isinstance(items, str) else []
    plans = all(isinstance(i, Plan) for i in seq)
    names = all(isinstance(i, str) for i in seq)
    if len(seq) < 2 or not (plans or names):
        raise InputError(
            f"plans_or_strategies: expected two or more Plans or strategy names, got "
            f"{describe(items)}; e.g. ['us-nevi', 'china-pile-swap']"
        )
    if names:
        for name in seq:
            get_strategy(str(name))
        if len(set(seq)) < len(seq):
            raise InputError(
                f"plans_or_strategies: expected distinct strategies, got {describe(items)}"
            )
    return seq


def _network(source: Source, *, cache_dir: str | Path | None) -> RoadNetwork:
    """``source`` itself when it is a network, else the network it names."""
    from planner.ground import network

    if isinstance(source, RoadNetwork):
        return source
    return network.load_network(source, cache_dir=cache_dir)


def _city_overrides(
    params_type: type,
    params: Mapping[str, Any],
    sites: int | None,
    radius_km: float | None,
    radius_min: float | None,
) -> dict[str, Any]:
    """The parameters :func:`plan_city` sets over the scenario's: ``params``, ``sites`` (refused
    by name later unless the strategy has a site count) and the radius where the strategy has
    one."""
    overrides = dict(params)
    if sites is not None:
        overrides["sites"] = sites
    fields = {f.name for f in dataclasses.fields(params_type)}
    for key, value in (("radius_km", radius_km), ("radius_min", radius_min)):
        if value is not None and key in fields:
            overrides[key] = value
    return overrides
