"""The ``planner`` command line: ``plan``, ``national``, ``compare``, ``demo``, ``strategies``.

Only this module sets up logging and progress bars. Every user error ends as one line on stderr
and exit status 2; nothing already on disk is overwritten unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from planner.app._cli_args import EXIT_USAGE, build_parser
from planner.core.errors import InputError

logger = logging.getLogger("planner")

EXIT_INTERNAL = 1
EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143
#: A reader that stopped reading (``planner strategies | head -3``): the status of a process
#: ended by SIGPIPE, and no message, as the shell's own tools do.
EXIT_SIGPIPE = 128 + signal.SIGPIPE  # 141

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


def cmd_plan(args: argparse.Namespace) -> None:
    """``planner plan``: one city, one strategy (:func:`planner.plan_city`)."""
    from planner.app.api import plan_city, strategy_params
    from planner.app.commands import (
        Steps,
        check_input_file,
        network_source,
        parse_formats,
        plan_folder,
        recorded_options,
        report_plan,
        write_plan_folder,
    )
    from planner.strategies import get_strategy

    get_strategy(args.strategy)
    formats = parse_formats(args.format)
    check_input_file(args.osm, "--osm")
    check_input_file(args.existing, "--existing")
    check_input_file(args.config, "--config")
    check_input_file(args.scenario, "--scenario")
    given = {"sites": args.sites, "model": args.model}
    overrides = {k: v for k, v in given.items() if v is not None}
    if args.strategy != "coverage" and overrides:
        logger.warning(
            "--%s: only for the coverage strategy; ignored for %s",
            ", --".join(overrides),
            args.strategy,
        )
        overrides = {}
    # every parameter is checked before any map data is read
    params = strategy_params(args.strategy, args.scenario, **overrides)
    with plan_folder(args) as stage:
        steps = Steps(5, quiet=args.quiet)
        plan = plan_city(
            network_source(args),
            strategy=args.strategy,
            scenario=params,
            radius_km=args.radius_km,
            radius_min=getattr(args, "radius_min", None),
            existing=args.existing,
            demand_config=args.config,
            candidates=args.candidates,
            seed=args.seed,
            cache_dir=args.cache_dir,
            progress=steps.step,
            inputs=recorded_options(args),
        )
        map_bytes = write_plan_folder(plan, stage, steps, args, formats)
    report_plan(args.out, plan, map_bytes=map_bytes, seconds=steps.close())


def cmd_national(args: argparse.Namespace) -> None:
    """``planner national``: a country's national plan (:func:`planner.plan_national`)."""
    from planner.app.api import DEFAULT_STRATEGY, plan_national, strategy_params
    from planner.app.commands import (
        Steps,
        check_input_file,
        parse_formats,
        plan_folder,
        recorded_options,
        report_plan,
        write_plan_folder,
    )
    from planner.ground.build import check_country
    from planner.strategies import get_strategy

    country = check_country(args.country)
    name = args.strategy or DEFAULT_STRATEGY[country]
    get_strategy(name)
    formats = parse_formats(args.format)
    check_input_file(args.scenario, "--scenario")
    check_input_file(args.osm, "--osm")
    params = strategy_params(name, args.scenario)
    with plan_folder(args) as stage:
        steps = Steps(4, quiet=args.quiet)
        plan = plan_national(
            country,
            strategy=name,
            osm=getattr(args, "osm", None),
            scenario=params,
            seed=args.seed,
            progress=steps.step,
            inputs=recorded_options(args),
        )
        map_bytes = write_plan_folder(plan, stage, steps, args, formats)
    report_plan(args.out, plan, map_bytes=map_bytes, seconds=steps.close())


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
    _warm_cluster_first(sys.argv[1:] if argv is None else argv)
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


def _warm_cluster_first(argv: Sequence[str]) -> None:
    """``batch`` and ``sweep`` on a local cluster start its forkserver before anything else:
    it warms the workers (~2 CPU s) on the other core while this process imports the CLI
    (~0.6 s) and checks its inputs. Read from the raw arguments, as the parser needs those
    imports; a usage error later only leaves an idle forkserver that ends with this process."""
    words = [a for a in argv if not a.startswith("-")]
    if not words or words[0] not in ("batch", "sweep"):
        return
    if any(a in ("-h", "--help") or a.split("=")[0] == "--scheduler" for a in argv):
        return
    from planner.app._dask import start_forkserver

    start_forkserver()


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command; turn every exception into one line on stderr and an exit status."""
    try:
        from planner.app import cli_batch, commands

        handler = {
            "plan": cmd_plan,
            "national": cmd_national,
            "compare": commands.cmd_compare,
            "demo": commands.cmd_demo,
            "strategies": commands.cmd_strategies,
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
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_SIGPIPE
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


def _silence_stdout() -> None:
    """Point stdout at the null device, so that flushing it at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def run(argv: Sequence[str] | None = None) -> Any:
    """Alias of :func:`main` for ``python -m planner``."""
    return main(argv)


if __name__ == "__main__":
    sys.exit(main())
