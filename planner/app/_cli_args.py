"""Argument types and option groups shared by the ``planner`` commands (:mod:`planner.app.cli`,
:mod:`planner.app.cli_batch`): one line per bad value, exit status 2 through argparse."""

from __future__ import annotations

import argparse
from pathlib import Path


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
