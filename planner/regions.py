"""Regions of a country with their population and EV stock: US states, Chinese provinces.

The figures come from the shipped tables ``data/us_states.csv`` (50 states + DC: 2020 Census
population, AFDC 2023 battery-electric registrations, AFDC public ports where sourced) and
``data/cn_provinces.csv`` (31 mainland provinces: 2020 census population, NEV stock where a
provincial figure is published, public chargers where sourced). Every figure carries its source.

Chinese provinces without a published NEV stock get a *fallback*: the national NEV stock
(``cn_nev_stock`` in ``data/policy_facts.csv``, 43.97 M, MPS 2026-01-26) minus the sourced
provinces' stock, shared out by population. Such rows have ``ev_fallback=True`` and an
``ev_source`` that starts with ``"fallback:"``; the national total is then exactly the MPS figure.

Region codes: US postal codes (``"CA"``); for China the ISO 3166-2:CN suffix (``"SH"`` for
Shanghai, ``"GD"`` for Guangdong). GeoNames admin-1 codes map onto them with
:func:`region_of_admin1` (US: the postal code; CN: GeoNames' numeric code, ``"23"`` = Shanghai).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from planner._data import data_path
from planner.errors import DataError, InputError, describe
from planner.facts import load_policy_facts
from planner.ground import REGION_COLUMNS

logger = logging.getLogger(__name__)

REGION_FILES = {"us": "us_states.csv", "cn": "cn_provinces.csv"}
CN_FALLBACK_SOURCE = "fallback: population share of national NEV stock 43.97M (MPS 2026-01-26)"
_PORT_COLUMNS = ("existing_public_ports", "existing_dc_ports", "existing_l2_ports")


def check_region_country(country: str) -> str:
    """Return the lower-case country code ``"us"`` or ``"cn"``; raise :class:`InputError`."""
    code = str(country).strip().lower()
    if code not in REGION_FILES:
        raise InputError(
            f"country: expected one of {', '.join(map(repr, REGION_FILES))}, got "
            f"{describe(country)}; use 'us' for the United States or 'cn' for China"
        )
    return code


def load_regions(country: str) -> pd.DataFrame:
    """Return one row per state (``"us"``) or mainland province (``"cn"``).

    Parameters
    ----------
    country
        ``"us"`` or ``"cn"`` (case-insensitive).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`planner.ground.REGION_COLUMNS` first (``region``, ``name``, ``population``
        (int), ``ev_stock`` (int), ``ev_source``, ``ev_fallback`` (bool)), then the extras of the
        table: ``geonames_admin1``, ``iso_3166_2``, ``population_year``, ``population_source``,
        ``ev_year``, ``existing_public_ports`` (float, NaN where not sourced),
        ``existing_dc_ports`` and ``existing_l2_ports`` (US), ``ports_year``, ``ports_source``,
        and for China ``name_zh`` and ``note``. Sorted by region code.

    Raises
    ------
    InputError
        For an unknown country.
    DataError
        If the shipped table is missing or inconsistent.
    """
    code = check_region_country(country)
    path = data_path(REGION_FILES[code])
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    _check_table(table, path=str(path))
    table["population"] = table["population"].astype(np.int64)
    for column in _PORT_COLUMNS:
        if column in table.columns:
            table[column] = pd.to_numeric(table[column].replace("", np.nan), errors="raise")
    if code == "cn":
        table = _cn_ev_stock(table)
    else:
        table["ev_stock"] = table["ev_stock"].astype(np.int64)
        table["ev_fallback"] = table["ev_fallback"].str.lower().eq("true")
    extras = [c for c in table.columns if c not in REGION_COLUMNS]
    out = table[list(REGION_COLUMNS) + extras].sort_values("region", kind="stable")
    logger.debug("loaded %d regions of %s from %s", len(out), code, path)
    return out.reset_index(drop=True)


def _check_table(table: pd.DataFrame, *, path: str) -> None:
    """Raise :class:`DataError` listing every problem of a shipped region table."""
    needed = ("region", "name", "geonames_admin1", "population", "ev_stock", "ev_source")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    problems = []
    if not table["region"].is_unique:
        problems.append("region codes repeat")
    if not table["geonames_admin1"].is_unique:
        problems.append("GeoNames admin-1 codes repeat")
    bad_pop = ~table["population"].str.fullmatch(r"\d+") | table["population"].eq("0")
    if bad_pop.any():
        problems.append(f"population not a positive integer in {list(table['region'][bad_pop])}")
    bad_ev = ~table["ev_stock"].str.fullmatch(r"\d*")
    if bad_ev.any():
        problems.append(f"ev_stock not an integer in {list(table['region'][bad_ev])}")
    unsourced = table["ev_stock"].ne("") & table["ev_source"].str.strip().eq("")
    if unsourced.any():
        problems.append(f"ev_stock without ev_source in {list(table['region'][unsourced])}")
    if problems:
        raise DataError(f"{path}: {'; '.join(problems)}; fix the shipped table")


def _cn_ev_stock(table: pd.DataFrame) -> pd.DataFrame:
    """Fill provinces without a sourced NEV stock with their population share of the rest.

    The national stock minus the sourced provinces' stock is shared out over the other provinces
    in proportion to population, rounded by largest remainders so the total is exact.
    """
    national = round(load_policy_facts()["cn_nev_stock"].value)
    table = table.copy()
    sourced = table["ev_stock"].ne("")
    stock = np.zeros(len(table), dtype=np.int64)
    stock[sourced.to_numpy()] = table.loc[sourced, "ev_stock"].astype(np.int64).to_numpy()
    rest = national - int(stock.sum())
    if rest < 0:
        raise DataError(
            f"{REGION_FILES['cn']}: sourced provincial NEV stock {int(stock.sum())} exceeds the "
            f"national stock {national}; check the table"
        )
    fallback = ~sourced.to_numpy()
    stock[fallback] = _largest_remainder(table["population"].to_numpy()[fallback], rest)
    table["ev_stock"] = stock
    table["ev_fallback"] = fallback
    table.loc[fallback, "ev_source"] = (
        CN_FALLBACK_SOURCE + "; remainder after the provinces with a sourced figure"
    )
    table.loc[fallback, "ev_year"] = "2025-12"
    return table


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` that sum exactly to ``total``."""
    weights = np.asarray(weights, dtype=float)
    if weights.size == 0:
        return np.zeros(0, dtype=np.int64)
    exact = weights / weights.sum() * total
    base = np.floor(exact).astype(np.int64)
    short = int(total - base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:short]] += 1
    return base


def admin1_mapping(country: str) -> dict[str, str]:
    """Return ``{GeoNames admin-1 code: region code}`` for ``country``."""
    table = load_regions(country)
    return dict(zip(table["geonames_admin1"], table["region"], strict=True))


def region_of_admin1(country: str, admin1_codes: Iterable[object]) -> np.ndarray:
    """Map GeoNames admin-1 codes to region codes.

    Parameters
    ----------
    country
        ``"us"`` or ``"cn"``.
    admin1_codes
        GeoNames admin-1 codes (US: postal codes such as ``"CA"``; CN: numeric codes such as
        ``"23"`` or ``23``, a leading zero is optional).

    Returns
    -------
    numpy.ndarray
        Object array of region codes, ``""`` where a code is unknown or empty.
    """
    code = check_region_country(country)
    mapping = admin1_mapping(code)
    keys = [_normal_admin1(code, a) for a in admin1_codes]
    return np.array([mapping.get(k, "") for k in keys], dtype=object)


def _normal_admin1(country: str, value: object) -> str:
    """Canonical admin-1 key: upper-case postal code (US), two-digit string (CN)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = str(value).strip()
    if country == "cn":
        if text.endswith(".0"):
            text = text[:-2]
        return text.zfill(2) if text.isdigit() else text
    return text.upper()
