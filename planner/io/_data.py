"""Locate the data tables that planner ships in ``data/``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from planner.core.errors import DataError

_ENV = "PLANNER_DATA_DIR"


def data_dir() -> Path:
    """Return the folder holding planner's shipped data tables.

    ``$PLANNER_DATA_DIR`` wins; then ``data/`` beside the package (a source checkout or an
    editable install, which is what the README installs); then ``<prefix>/share/planner/data``
    (a regular ``pip install``).
    """
    env = os.environ.get(_ENV)
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "data")
    candidates.append(Path(sys.prefix) / "share" / "planner" / "data")
    for path in candidates:
        if path.is_dir():
            return path
    raise DataError(
        f"planner's data tables were not found (looked in {', '.join(map(str, candidates))}); "
        f"install planner from a source checkout with 'pip install -e .' or set {_ENV}"
    )


def data_path(name: str) -> Path:
    """Return the path of the shipped table ``name``; raise :class:`DataError` if it is missing."""
    path = data_dir() / name
    if not path.exists():
        raise DataError(f"shipped data table {name!r} is missing from {path.parent}")
    return path
