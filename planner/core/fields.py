"""One way to declare and check parameters: a field spec per dataclass field.

A parameter dataclass declares each checked field with :func:`param` (its default, unit,
bounds and help) and calls :func:`check_params` in ``__post_init__``. The scenario loader
(:func:`planner.io.scenario.params_from_mapping`) builds the dataclass, so scenario files, the
Python API and the command line all pass through the same checks; :func:`param_table` lists the
specs for ``planner strategies --params``.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class P:
...     spacing_km: float = param(50.0, low=0.0, low_open=True, help="distance between sites")
...     def __post_init__(self) -> None:
...         check_params(self)
>>> P(spacing_km=-1.0)
Traceback (most recent call last):
...
planner.core.errors.InputError: spacing_km: expected > 0.0, got -1.0; give spacing_km > 0
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from planner.core.errors import InputError

#: Unit of a field by the suffix of its name (names carry their units, see STYLE.md).
_SUFFIX_UNITS = (
    ("_veh_day", "vehicles/day"),
    ("_per_day", "per day"),
    ("_per_km2", "per km2"),
    ("_usd", "USD"),
    ("_cny", "CNY"),
    ("_kwh", "kWh"),
    ("_kw", "kW"),
    ("_km", "km"),
    ("_mi", "mi"),
    ("_min", "min"),
    ("_h", "h"),
    ("_s", "s"),
    ("_m", "m"),
    ("_share", "share"),
)


@dataclass(frozen=True)
class Spec:
    """What a parameter accepts.

    Attributes
    ----------
    unit
        Unit of the value (``""``: from the name's suffix, see :attr:`unit_of`).
    low, high
        Bounds (``None``: unbounded); ``low_open`` excludes ``low`` itself.
    high_field
        Name of another field whose value is the upper bound.
    help
        One line for listings.
    fix
        What the error message suggests (default: ``give <name> <bounds>``).
    """

    unit: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_field: str | None = None
    help: str = ""
    fix: str = ""

    def unit_of(self, name: str) -> str:
        """The declared unit, else the unit of ``name``'s suffix, else ``""``."""
        if self.unit:
            return self.unit
        return next((u for suffix, u in _SUFFIX_UNITS if name.endswith(suffix)), "")

    def bounds_text(self) -> str:
        """The bounds as ``> 0``, ``[0, 1]``, ``>= 1``; ``""`` when unbounded."""
        high = self.high_field or (None if self.high is None else f"{self.high:g}")
        if self.low is None:
            return "" if high is None else f"<= {high}"
        if high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"{'(' if self.low_open else '['}{self.low:g}, {high}]"


def param(
    default: Any,
    *,
    unit: str = "",
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_field: str | None = None,
    help: str = "",
    fix: str = "",
) -> Any:
    """A dataclass field with default ``default`` and the :class:`Spec` of its value."""
    spec = Spec(unit, low, high, low_open, high_field, help, fix)
    return dataclasses.field(default=default, metadata={"spec": spec})


def specs(cls: type) -> dict[str, Spec]:
    """The :class:`Spec` of every field of the dataclass ``cls`` (an empty spec if undeclared)."""
    return {f.name: f.metadata.get("spec", Spec()) for f in dataclasses.fields(cls)}


def check_params(obj: Any) -> None:
    """Check every field of the parameter dataclass ``obj``: its type (from the annotation) and
    its bounds (from its :class:`Spec`); raise :class:`InputError` naming the first bad field."""
    hints = typing.get_type_hints(type(obj))
    for name, spec in specs(type(obj)).items():
        value = getattr(obj, name)
        hint = hints[name]
        if value is None and _optional(hint):
            continue
        _check_type(name, value, _strip_optional(hint), spec)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        high = getattr(obj, spec.high_field) if spec.high_field else spec.high
        _check_bounds(name, value, spec, high)


def _optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(
        None
    ) in typing.get_args(hint)


def _strip_optional(hint: Any) -> Any:
    if not _optional(hint):
        return hint
    rest = [a for a in typing.get_args(hint) if a is not type(None)]
    return rest[0] if len(rest) == 1 else hint


def _check_type(name: str, value: Any, hint: Any, spec: Spec) -> None:
    if hint is bool and not isinstance(value, bool):
        raise InputError(f"{name}: expected true or false, got {value!r}; set one")
    if typing.get_origin(hint) is typing.Literal and value not in typing.get_args(hint):
        options = " or ".join(map(repr, typing.get_args(hint)))
        raise InputError(f"{name}: expected {options}, got {value!r}")
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InputError(f"{name}: expected {_whole(spec)}, got {value!r}; fix {name}")
    if hint is float and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise InputError(f"{name}: expected a number, got {value!r}; fix {name}")


def _whole(spec: Spec) -> str:
    if spec.low is not None and spec.high is not None:
        return f"a whole number from {spec.low:,g} to {spec.high:,.0f}"
    return "a whole number" + (f" >= {spec.low:g}" if spec.low is not None else "")


def _check_bounds(name: str, value: float, spec: Spec, high: float | None) -> None:
    """Raise :class:`InputError` unless ``low (<|<=) value <= high`` (and finite)."""
    low = spec.low
    if isinstance(value, int) and not isinstance(value, bool) and low is not None:
        bad = value < low or (spec.low_open and value == low) or (high is not None and value > high)
        if bad:
            raise InputError(f"{name}: expected {_whole(spec)}, got {value!r}" + _fix(spec, name))
        return
    fix = _fix(spec, name).removeprefix("; ")
    check_range(name, value, low=spec.low, high=high, low_open=spec.low_open, fix=fix)


def check_range(
    name: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    fix: str = "",
) -> None:
    """Raise :class:`InputError` unless ``low (<|<=) value <= high``; the message names ``name``."""
    bad = not math.isfinite(value)
    if low is not None:
        bad = bad or (value <= low if low_open else value < low)
    if high is not None:
        bad = bad or value > high
    if bad:
        lo = "" if low is None else (f"> {low}" if low_open else f">= {low}")
        hi = "" if high is None else f"<= {high}"
        expected = " and ".join(x for x in (lo, hi) if x) or "a finite number"
        raise InputError(
            f"{name}: expected {expected}, got {value!r}" + (f"; {fix}" if fix else "")
        )


def _fix(spec: Spec, name: str) -> str:
    """``"; <fix>"``: the spec's own, else ``give <name> <bounds>``."""
    bounds = spec.bounds_text()
    if spec.fix:
        return f"; {spec.fix}"
    if not bounds:
        return ""
    return f"; give {name} {'in ' if bounds[0] in '[(' else ''}{bounds}"


def param_table(cls: type) -> list[dict[str, str]]:
    """One row per field of the dataclass ``cls``: name, type, unit, bounds, default, help."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("spec", Spec())
        default = f.default if f.default is not dataclasses.MISSING else "(computed)"
        rows.append(
            {
                "name": f.name,
                "type": _type_name(hints[f.name]),
                "unit": spec.unit_of(f.name),
                "bounds": spec.bounds_text(),
                "default": repr(default),
                "help": spec.help,
            }
        )
    return rows


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Literal:
        return " | ".join(map(repr, typing.get_args(hint)))
    if _optional(hint):
        return f"{_type_name(_strip_optional(hint))} | None"
    return getattr(hint, "__name__", str(hint))


__all__ = ["Spec", "check_params", "check_range", "param", "param_table", "specs"]
