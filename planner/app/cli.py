"""The ``planner`` command line: ``plan``, ``national``, ``compare``, ``demo``, ``strategies``.

Only this module sets up logging and progress bars. Every user error ends as one line on stderr
and exit status 2; nothing already on disk is overwritten unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from planner import ATTRIBUTION, __version__
from planner.app._cli_args import (
    _bbox,
    _common,
    _format,
    _positive_float,
    _positive_int,
    _verbosity,
)
from planner.core.errors import InputError
from planner.countries import country_codes

logger = logging.getLogger("planner")

EXIT_USAGE = 2
EXIT_INTERNAL = 1
EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143

#: OS errors caused by the user's environment (permissions, a full or read-only disk, a missing
#: or misplaced path): one line naming the path and exit status 2, not an internal error.
_ENVIRONMENT_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.ENAMETOOLONG,
        errno.ELOOP,
        errno.EFBIG,
        errno.EMFILE,
        errno.EIO,
    }
)


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, like ``KeyboardInterrupt`` on SIGINT, so that a run
    unwinds (its staging folder removed, ``--out`` untouched) before the process exits."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


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
    from planner.app.cli_batch import add_batch, add_sweep

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


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.captureWarnings(True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``planner`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed as one line
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
    _setup_logging(getattr(args, "verbose", 0), getattr(args, "quiet", False))
    in_main = threading.current_thread() is threading.main_thread()
    earlier = signal.getsignal(signal.SIGTERM)
    if in_main:
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return _dispatch(args)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, earlier if earlier is not None else signal.SIG_DFL)


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command; turn every exception into one line on stderr and an exit status."""
    try:
        from planner.app import cli_batch, workflows

        handler = {
            "plan": workflows.cmd_plan,
            "national": workflows.cmd_national,
            "compare": workflows.cmd_compare,
            "demo": workflows.cmd_demo,
            "strategies": workflows.cmd_strategies,
            "batch": cli_batch.cmd_batch,
            "sweep": cli_batch.cmd_sweep,
        }[args.command]
        t0 = time.perf_counter()
        status = handler(args)  # batch and sweep return EXIT_SOME_FAILED when some failed
        logger.info("done in %.1f s", time.perf_counter() - t0)
        return int(status or 0)
    except InputError as exc:
        print(f"planner: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("planner: interrupted (SIGINT); --out is unchanged", file=sys.stderr)
        return EXIT_SIGINT
    except Terminated:
        print("planner: terminated (SIGTERM); --out is unchanged", file=sys.stderr)
        return EXIT_SIGTERM
    except OSError as exc:
        if exc.errno not in _ENVIRONMENT_ERRNOS or not exc.filename:
            return _internal(args, exc)
        print(
            f"planner: error: cannot use {exc.filename} ({exc.strerror}); "
            "check that path (permissions, free space, read-only disk) or choose another",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except MemoryError:
        print(
            "planner: error: out of memory; plan a smaller area or fewer candidates",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    except Exception as exc:
        return _internal(args, exc)


def _internal(args: argparse.Namespace, exc: Exception) -> int:
    if getattr(args, "verbose", 0) > 1:
        raise exc
    print(
        f"planner: internal error: {type(exc).__name__}: {_one_line(exc)} "
        "(run with -vv for the traceback and report it)",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def run(argv: Sequence[str] | None = None) -> Any:
    """Alias of :func:`main` for ``python -m planner``."""
    return main(argv)


if __name__ == "__main__":
    sys.exit(main())
