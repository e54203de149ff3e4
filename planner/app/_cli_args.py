"""The ``planner`` command line's options: every command's argument parser (:func:`build_parser`),
their argument types and shared option groups. A bad value is one line and exit status 2 through
argparse; what each command then does is in :mod:`planner.app.cli`, :mod:`planner.app.commands` and
:mod:`planner.app.cli_batch`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn

from planner import ATTRIBUTION, __version__
from planner.countries import country_codes


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _seed(text: str) -> int:
    from planner.strategies.base import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a whole number 0 to {MAX_SEED}, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected W,S,E,N in degrees, got {text!r}") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise argparse.ArgumentTypeError(
            f"expected west < east and south < north in degrees, got {text!r}"
        )
    return west, south, east, north


def _out_folder(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "expected a folder path, got an empty string; e.g. --out results"
        )
    return Path(text)


def _format(p: argparse.ArgumentParser) -> None:
    """``--format``: the formats of a plan's tables (checked by the command)."""
    p.add_argument(
        "--format",
        default="geojson",
        help="comma list of geojson, gpkg, parquet: the formats of the plan's tables "
        "(default geojson)",
    )


def _verbosity(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="errors only, no progress bars")


def _common(
    p: argparse.ArgumentParser,
    *,
    out_default: Path | None = None,
    offline_help: str = "write maps with local Leaflet/plugin files beside them (no CDN links)",
) -> None:
    """Options every command shares (``--out`` is required unless it has a default)."""
    if out_default is None:
        p.add_argument(
            "--out", type=_out_folder, required=True, help="output folder (created if missing)"
        )
    else:
        p.add_argument(
            "--out",
            type=_out_folder,
            default=out_default,
            help=f"output folder (default {out_default}/)",
        )
    p.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--offline-assets", action="store_true", help=offline_help)
    _verbosity(p)


#: Exit status of a usage error (bad option or value).
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _ground_options(p: argparse.ArgumentParser, *, country: bool) -> None:
    """Where to plan: an OSM file, a place or bbox (online, cached), or an embedded network."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--osm", type=Path, help="OSM extract: .osm, .osm.bz2 (XML) or .osm.pbf")
    src.add_argument(
        "--place", help="place name, geocoded and downloaded with osmnx (online, cached)"
    )
    src.add_argument(
        "--bbox", type=_bbox, help="W,S,E,N in degrees, downloaded with osmnx (online, cached)"
    )
    if country:
        src.add_argument(
            "--country", choices=country_codes(), help="embedded national corridor network"
        )
    p.add_argument("--config", type=Path, help="demand configuration (TOML or JSON)")
    p.add_argument("--existing", type=Path, help="existing stations: AFDC CSV or GeoJSON")
    p.add_argument(
        "--candidates",
        type=_positive_int,
        default=1500,
        help="candidate sites kept after clustering (default 1500)",
    )
    p.add_argument(
        "--cache-dir", type=Path, help="cache for online downloads (default ~/.cache/planner)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``planner`` argument parser."""
    from planner.strategies import strategy_names

    names = ", ".join(strategy_names())
    parser = _Parser(
        prog="planner",
        description="Plan EV charging sites on real OSM networks and compare national strategies.",
        epilog=ATTRIBUTION,
    )
    parser.add_argument("--version", action="version", version=f"planner {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_plan(sub, names)
    _add_national(sub, names)
    _add_compare(sub, names)
    _add_demo(sub)
    strat = sub.add_parser("strategies", help="list the registered strategies")
    strat.add_argument(
        "--params",
        metavar="NAME",
        choices=names.split(", "),
        help="list one strategy's parameters: type, unit, bounds, default, source",
    )
    _verbosity(strat)
    add_batch(sub, names)
    add_sweep(sub, names)
    return parser


def _add_plan(sub: Any, names: str) -> None:
    """``planner plan``."""
    plan = sub.add_parser(
        "plan",
        help="plan charging sites in a city from its OSM street network",
        description="Place and size charging sites on a real OSM street network.",
    )
    _ground_options(plan, country=False)
    plan.add_argument(
        "--sites",
        type=_positive_int,
        help="number of new sites (coverage strategy; default 25, or the --scenario's)",
    )
    radius = plan.add_mutually_exclusive_group()
    radius.add_argument(
        "--radius-km",
        type=_positive_float,
        help="service radius, network km (default 3, or the coverage --scenario's)",
    )
    radius.add_argument(  # issue 18: drive time instead of road distance
        "--radius-min",
        type=_positive_float,
        help="service radius in minutes of driving on the network (edge travel times from "
        "maxspeed or data/road_speeds.csv), instead of --radius-km",
    )
    plan.add_argument(
        "--model",
        choices=("mclp", "lscp", "pmedian"),
        help="coverage model of the coverage strategy (default mclp, or the --scenario's)",
    )
    plan.add_argument(
        "--strategy", default="coverage", help=f"strategy ({names}); default coverage"
    )
    plan.add_argument("--scenario", type=Path, help="strategy parameters (TOML or JSON)")
    _format(plan)
    _common(plan)


def _add_national(sub: Any, names: str) -> None:
    """``planner national``."""
    nat = sub.add_parser(
        "national",
        help="plan a national network on embedded corridors (offline)",
        description="Plan a country's network on its embedded corridor network, "
        "or on motorways from a country-wide OSM PBF (--osm).",
    )
    nat.add_argument("--country", required=True, help=" or ".join(country_codes()))
    nat.add_argument("--osm", type=Path, help="country-wide .osm.pbf: use its motorways instead")
    nat.add_argument("--strategy", default=None, help=f"strategy ({names}); default by country")
    nat.add_argument("--scenario", type=Path, help="strategy parameters (TOML or JSON)")
    _format(nat)
    _common(nat)


def _add_compare(sub: Any, names: str) -> None:
    """``planner compare``."""
    cmp_ = sub.add_parser(
        "compare",
        help="run several strategies on the same ground and compare them",
        description="Run strategies on one ground; write synced maps, metrics, report.",
    )
    _ground_options(cmp_, country=True)
    cmp_.add_argument(
        "--strategies", default="us-nevi,china-pile-swap", help=f"comma list of >= 2 ({names})"
    )
    cmp_.add_argument(
        "--same",
        choices=("capex", "ports", "none"),
        default="none",
        help="normalise budgets to the first strategy's capex or ports",
    )
    cmp_.add_argument(
        "--scenario",
        type=Path,
        action="append",
        default=[],
        help="NAME=FILE parameters for one strategy (repeatable)",
    )
    _format(cmp_)
    _common(cmp_)


def _add_demo(sub: Any) -> None:
    """``planner demo``."""
    demo = sub.add_parser(
        "demo",
        help="offline demo: US and China national plans compared, into maps/",
        description="Plan both strategies (us-nevi, china-pile-swap) on the embedded US and "
        "China national grounds and write, per country, a comparison map, a report, the "
        "metrics and equity tables and each plan's files (about 19 MB; see the README's "
        "demo table). Maps use local Leaflet assets, fetched once with Python into "
        "~/.cache/planner/assets; without them and without network they link pinned CDN "
        "copies and a warning says so.",
    )
    _common(
        demo,
        out_default=Path("maps"),
        offline_help="require local map assets (fail instead of falling back to CDN links)",
    )


_EPILOG = (
    "Exit status: 0 all planned (or already planned), 3 some failed (see the error column of "
    "the CSV), 2 bad input."
)


def _cluster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scheduler",
        help="address of a running Dask scheduler (tcp://host:8786), or 'synchronous' for "
        "every task in this process, one after another; default: a local cluster of one "
        "single-threaded worker process per core, started and stopped with the command",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        help="worker processes of the local cluster (default: cores)",
    )


def _command(sub: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=description, epilog=_EPILOG
    )
    return parser


def add_batch(sub: Any, names: str) -> None:
    """``planner batch``: the ``plan`` options, a folder of extracts or a places CSV."""
    from planner.app._cli_args import _common, _positive_float, _positive_int

    p = _command(
        sub,
        "batch",
        "plan many cities at once on Dask (a folder of OSM extracts or a places CSV)",
        "Plan every city of --osm-dir or --places, one Dask task per city; a city already "
        "planned in --out is skipped unless --overwrite.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--osm-dir", type=Path, help="folder of OSM extracts, one city per file")
    src.add_argument(
        "--places",
        type=Path,
        help="CSV with a place column (or west,south,east,north) and optional name; online "
        "via osmnx, cached",
    )
    p.add_argument("--config", type=Path, help="demand configuration (TOML or JSON)")
    p.add_argument("--existing", type=Path, help="existing stations: AFDC CSV or GeoJSON")
    p.add_argument("--candidates", type=_positive_int, default=1500, help="default 1500")
    p.add_argument("--cache-dir", type=Path, help="cache of online downloads")
    p.add_argument("--sites", type=_positive_int, help="new sites per city (coverage)")
    radius = p.add_mutually_exclusive_group()
    radius.add_argument("--radius-km", type=_positive_float, help="service radius, network km")
    radius.add_argument("--radius-min", type=_positive_float, help="service radius, minutes")
    p.add_argument("--model", choices=("mclp", "lscp", "pmedian"), help="coverage model")
    p.add_argument("--strategy", default="coverage", help=f"strategy ({names})")
    p.add_argument("--scenario", type=Path, help="strategy parameters (TOML or JSON)")
    _cluster_options(p)
    _common(p)


def add_sweep(sub: Any, names: str) -> None:
    """``planner sweep``: national plans over a parameter grid, and their frontier."""
    from planner.app._cli_args import _common

    p = _command(
        sub,
        "sweep",
        "national plans over a grid of parameters on Dask, and their cost-coverage frontier",
        "Plan every combination of the --grid values on the national ground; write sweep.csv, "
        "frontier.png and frontier.html.",
    )
    p.add_argument("--country", choices=country_codes(), required=True)
    p.add_argument("--strategy", help=f"strategy ({names}); default us-nevi / china-pile-swap")
    p.add_argument(
        "--grid",
        nargs="+",
        required=True,
        help="key=v1,v2,... (repeatable), or a TOML file of key = [v1, v2]",
    )
    _cluster_options(p)
    _common(p)
