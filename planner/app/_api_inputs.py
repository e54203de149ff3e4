"""The Python API's input checks: city-ground tables and files, checked and converted before
any network is read (so a bad table fails in a second, not after the network is loaded)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from planner.core.errors import InputError, describe

#: A strategy's or the demand model's parameters: a TOML/JSON file, a mapping or the dataclass.
Scenario = str | Path | Mapping[str, Any] | object | None
#: A table given to the API: a file or a DataFrame.
Table = str | Path | pd.DataFrame | None


def city_inputs(
    existing: Table,
    demand: Table,
    demand_column: str,
    demand_config: Scenario,
    candidates: int,
    seed: int,
) -> dict[str, Any]:
    """The keywords of :func:`planner.ground.build.city_ground`, checked and converted before any
    network is read (so a bad table fails in a second, not after the network is loaded)."""
    from planner.strategies.base import check_seed

    return {
        "demand_config": _demand_config(demand_config),
        "n_candidates": _positive_int(candidates, "candidates"),
        "existing": _stations(existing),
        "user_points": _user_points(demand, demand_column),
        "seed": check_seed(seed),
    }


def _demand_config(config: Scenario) -> Any:
    """A :class:`planner.ground.demand.DemandConfig` from a config, a mapping, a file or
    ``None``."""
    from planner.ground.demand import DemandConfig
    from planner.io.scenario import params_from_mapping, scenario_mapping

    if config is None or isinstance(config, DemandConfig):
        return config
    mapping = scenario_mapping(config, DemandConfig, option="demand_config")
    return params_from_mapping(DemandConfig, mapping, where="demand_config")


def _user_points(demand: Table, column: str) -> str | Path | pd.DataFrame | None:
    """A demand table as ``build_demand`` takes it (``lon``, ``lat``, ``demand``), or a path."""
    from planner.ground.demand import user_points_from_frame

    if demand is None or isinstance(demand, str | Path):
        return _existing_file(demand, "demand", "a CSV/GeoJSON of demand points")
    return user_points_from_frame(demand, weight=column)


def _stations(existing: Table) -> str | Path | pd.DataFrame | None:
    """Existing stations as ``city_ground`` takes them: a checked path or a station table."""
    from planner.ground.stations import stations_from_frame

    if existing is None or isinstance(existing, str | Path):
        return _existing_file(existing, "existing", "an AFDC CSV or a GeoJSON of stations")
    return stations_from_frame(existing)


def _existing_file(path: str | Path | None, name: str, what: str) -> str | Path | None:
    """``path`` when it is ``None`` or an existing file; else a one-line :class:`InputError`."""
    if path is not None and not Path(path).is_file():
        raise InputError(f"{name}: file {path} does not exist; give {what}")
    return path


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}: expected a whole number >= 1, got {describe(value)}")
    return value


def described(value: object) -> object:
    """A JSON-friendly note of an input: a path as text, a table by its size."""
    if isinstance(value, pd.DataFrame):
        return f"{type(value).__name__} of {len(value)} rows"
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value).__name__
    return value
