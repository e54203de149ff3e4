"""Country profiles: one module per country (``us``, ``cn``) and one registry.

Adding a country is one module defining a :class:`CountryProfile` plus its data files, and one
:func:`register` call; every country-specific branch of planner reads the profile.

>>> from planner.countries import get_country
>>> get_country("US").crs
'EPSG:5070'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from planner.core.errors import InputError
from planner.countries import cn, us
from planner.countries._profile import Box, CountryProfile

_REGISTRY: dict[str, CountryProfile] = {p.code: p for p in (us.PROFILE, cn.PROFILE)}
#: Whose facts apply to a city outside every registered country's box.
FALLBACK = "us"


def country_codes() -> tuple[str, ...]:
    """The codes of the registered countries, in registration order."""
    return tuple(_REGISTRY)


def get_country(code: object) -> CountryProfile:
    """The profile of country ``code`` (case-insensitive); :class:`InputError` if unknown."""
    key = str(code).strip().lower()
    if key not in _REGISTRY:
        raise InputError(
            f"country: expected one of {', '.join(_REGISTRY)}, got {code!r}; "
            "use 'us' for the United States or 'cn' for China"
        )
    return _REGISTRY[key]


def register(profile: CountryProfile) -> None:
    """Add ``profile`` to the registry (replacing a profile of the same code)."""
    _REGISTRY[profile.code] = profile


def unregister(code: str) -> None:
    """Remove country ``code`` from the registry (no error when absent)."""
    _REGISTRY.pop(code, None)


class ByCountry(Mapping[str, object]):
    """A read-only view ``{code: profile.<field>}`` over the registered countries (a country
    registered later appears in it too)."""

    def __init__(self, field: str) -> None:
        self._field = field

    def __getitem__(self, code: str) -> Any:
        if str(code).lower() not in _REGISTRY:
            raise KeyError(code)
        return getattr(_REGISTRY[str(code).lower()], self._field)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(_REGISTRY))

    def __len__(self) -> int:
        return len(_REGISTRY)


def country_at_point(lon: float, lat: float) -> str | None:
    """The code of the first registered country whose box holds the point, else ``None``."""
    for profile in _REGISTRY.values():
        if profile.contains(lon, lat):
            return profile.code
    return None


__all__ = [
    "FALLBACK",
    "Box",
    "ByCountry",
    "CountryProfile",
    "country_at_point",
    "country_codes",
    "get_country",
    "register",
    "unregister",
]
