"""Scenario files: parameters of a strategy, read from TOML or JSON, checked key by key."""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from planner.core.errors import InputError
from planner.core.fields import check_range, specs

T = TypeVar("T")


#: Largest whole number a scenario key takes (2**31 - 1): every count of a plan (sites, ports,
#: iterations, people: China's 1.4 billion included) is below it, and larger values would
#: overflow the 32-bit index arrays of the solvers.
MAX_WHOLE_NUMBER = 2**31 - 1


def load_scenario(path: str | Path, *, option: str = "--scenario") -> dict[str, Any]:
    """Read a scenario or configuration file (``.toml`` or ``.json``) into a dict; raise
    :class:`InputError` naming ``option``, the command-line option that gave it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{option}: file {path} does not exist; give an existing TOML or JSON file"
        )
    try:
        raw = path.read_bytes()
        if path.suffix.lower() == ".json":
            data = json.loads(raw.decode("utf-8"))
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(
            f"{option}: file {path} is not valid {path.suffix or 'TOML'} ({exc})"
        ) from None
    if not isinstance(data, dict):
        raise InputError(
            f"{option}: file {path} holds a {type(data).__name__}; expected a table of keys"
        )
    return data


def scenario_mapping(
    scenario: str | Path | Mapping[str, Any] | object | None,
    cls: type,
    *,
    option: str = "scenario",
) -> dict[str, Any]:
    """The keys of a scenario given as a TOML/JSON file, a mapping or a ``cls`` instance.

    ``None`` gives ``{}`` (the dataclass defaults); an instance of the parameter dataclass
    ``cls`` gives its fields, so it can be checked again with overrides through
    :func:`params_from_mapping`.
    """
    if scenario is None:
        return {}
    if isinstance(scenario, str | Path):
        return dict(load_scenario(scenario, option=option))
    if isinstance(scenario, Mapping):
        return dict(scenario)
    if isinstance(scenario, cls) and dataclasses.is_dataclass(scenario):
        return {f.name: getattr(scenario, f.name) for f in dataclasses.fields(scenario)}
    raise InputError(
        f"{option}: expected a TOML/JSON file, a mapping or a {cls.__name__}, got "
        f"{type(scenario).__name__}; pass e.g. {cls.__name__}() or a dict of its keys"
    )


def params_from_mapping(cls: type[T], mapping: Mapping[str, Any], *, where: str = "scenario") -> T:
    """Build the frozen parameter dataclass ``cls`` from ``mapping``.

    Unknown keys and values of the wrong type raise :class:`InputError` naming the key; ints are
    accepted where floats are expected. Range checks live in the dataclass's ``__post_init__``.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise InputError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"valid keys are {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    spec = specs(cls)
    kwargs: dict[str, Any] = {}
    for key, value in mapping.items():
        try:
            kwargs[key] = _coerce(value, hints[key], key=key, where=where)
        except InputError as exc:
            unit = spec[key].unit_of(key)
            raise InputError(f"{exc}" + (f" (unit: {unit})" if unit else "")) from None
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, *, key: str, where: str) -> Any:
    """Check ``value`` against the type ``hint``; widen int to float."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key=key, where=where)
            except InputError:
                continue
        raise InputError(f"{where}: key {key!r} expected {hint}, got {value!r}")
    if origin is typing.Literal:
        if value in typing.get_args(hint):
            return value
        raise InputError(
            f"{where}: key {key!r} expected one of {typing.get_args(hint)}, got {value!r}"
        )
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise InputError(f"{where}: key {key!r} expected a list, got {value!r}")
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_coerce(v, item, key=key, where=where) for v in value)
    if hint is Any:
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{where}: key {key!r} expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{where}: key {key!r} expected a whole number, got {value!r}")
        if abs(value) > MAX_WHOLE_NUMBER:
            raise InputError(
                f"{where}: key {key!r} expected a whole number of at most {MAX_WHOLE_NUMBER:,} "
                f"in size, got {value!r}; give a realistic count"
            )
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise InputError(f"{where}: key {key!r} expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise InputError(f"{where}: key {key!r} expected a string, got {value!r}")
        return value
    if isinstance(hint, type) and not isinstance(value, hint):
        raise InputError(f"{where}: key {key!r} expected {hint.__name__}, got {value!r}")
    return value


__all__ = [
    "MAX_WHOLE_NUMBER",
    "check_range",
    "load_scenario",
    "params_from_mapping",
    "scenario_mapping",
]
