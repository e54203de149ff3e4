"""Cited policy and cost defaults: the shipped table ``data/policy_facts.csv``.

Every number a strategy uses as a default (NEVI rule, port targets, costs per port, China's pile
and swap-station figures, the exchange rate, traffic calibration targets) is one row of that
table with its unit, year and source. Where a source gives a range, ``value`` holds the documented
midpoint and ``note`` keeps the range; assumptions and unsourced estimates say so in ``source``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import pandas as pd

from planner.core.errors import DataError, InputError
from planner.io._data import data_path

logger = logging.getLogger(__name__)

POLICY_FACTS_FILE = "policy_facts.csv"
FACT_COLUMNS = ("key", "region", "value", "unit", "year", "source", "note")


@dataclass(frozen=True)
class Fact:
    """One cited default.

    Attributes
    ----------
    key
        Unique name with its unit where it has one, e.g. ``"nevi_spacing_mi"``.
    value
        The number (a documented midpoint where the source gives a range).
    unit
        Unit of ``value`` in words.
    source
        Where the number comes from; starts with ``ASSUMPTION`` or ``UNSOURCED`` where it is one.
    region
        ``"US"`` or ``"CN"``.
    year
        Year or date the number refers to, as written in the table.
    note
        Range, caveats, derivation.
    """

    key: str
    value: float
    unit: str
    source: str
    region: str = ""
    year: str = ""
    note: str = ""

    @property
    def is_assumption(self) -> bool:
        """Whether the value is an assumption or an unsourced estimate rather than a citation."""
        head = self.source.upper()
        return (
            head.startswith("ASSUMPTION")
            or head.startswith("UNSOURCED")
            or ("ASSUMPTION" in self.note.upper())
        )


def load_policy_facts() -> dict[str, Fact]:
    """Read ``data/policy_facts.csv`` into ``{key: Fact}``.

    Returns
    -------
    dict of str to Fact
        One entry per row, in table order.

    Raises
    ------
    DataError
        If the table is missing, lacks a column, repeats a key, or has a row whose value is not a
        finite number or whose source is empty.
    """
    path = data_path(POLICY_FACTS_FILE)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in FACT_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; expected {FACT_COLUMNS}")
    problems: list[str] = []
    facts: dict[str, Fact] = {}
    for row in table.itertuples(index=False):
        key = str(row.key).strip()
        try:
            value = float(str(row.value))
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            problems.append(f"{key}: value {row.value!r} is not a number")
        if not str(row.source).strip():
            problems.append(f"{key}: empty source")
        if key in facts:
            problems.append(f"{key}: repeated key")
        facts[key] = Fact(
            key=key,
            value=value,
            unit=str(row.unit),
            source=str(row.source),
            region=str(row.region),
            year=str(row.year),
            note=str(row.note),
        )
    if problems:
        raise DataError(f"{path}: {'; '.join(problems)}; fix the table rows")
    logger.debug("loaded %d policy facts from %s", len(facts), path)
    return facts


def fact_value(key: str) -> float:
    """Return the value of the cited default ``key``; raise :class:`InputError` if unknown."""
    facts = load_policy_facts()
    if key not in facts:
        raise InputError(
            f"key: expected one of the keys of {POLICY_FACTS_FILE} ({', '.join(sorted(facts))}), "
            f"got {key!r}; add the fact with its source to the table"
        )
    return facts[key].value
