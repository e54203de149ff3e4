"""Regions of a country with their population and EV stock: US states, Chinese provinces.

The figures come from the shipped tables ``data/us_states.csv`` (50 states + DC: 2020 Census
population, AFDC 2023 battery-electric registrations, AFDC public ports where sourced) and
``data/cn_provinces.csv`` (31 mainland provinces: 2020 census population, NEV stock where a
provincial figure is published, public chargers where sourced). Every figure carries its source.

Chinese provincial NEV stocks are published at different dates (2023-10 to 2025-06), while the
national stock is that of 2025-12 (``cn_nev_stock`` in ``data/policy_facts.csv``, 43.97 M, MPS
2026-01-26). A sourced figure is therefore brought to that date at the province's share of the
national stock of its own month (``data/cn_nev_stock_national.csv``, the Ministry of Public
Security's half-yearly and quarterly figures, interpolated linearly between months): Zhejiang's
2.04 M of end-2023 is 10.0 % of 20.41 M, so 4.39 M of 43.97 M. The reported figure stays in
``ev_stock_reported`` and its month in ``ev_year_reported``. Provinces without a published figure
get a *fallback*: the national stock minus the sourced provinces' aligned stock, shared out by
population. Such rows have ``ev_fallback=True`` and an ``ev_source`` that starts with
``"fallback:"``; the national total is then exactly the MPS figure.

Region codes: US postal codes (``"CA"``); for China the ISO 3166-2:CN suffix (``"SH"`` for
Shanghai, ``"GD"`` for Guangdong). GeoNames admin-1 codes map onto them with
:func:`region_of_admin1` (US: the postal code; CN: GeoNames' numeric code, ``"23"`` = Shanghai).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from planner.core.errors import DataError
from planner.countries import get_country
from planner.ground.model import REGION_COLUMNS
from planner.io._data import data_path
from planner.io.facts import load_policy_facts

logger = logging.getLogger(__name__)

CN_NATIONAL_SERIES = "cn_nev_stock_national.csv"
_CN_TABLE = "cn_provinces.csv"  # the table the national series applies to (messages)
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
CN_FALLBACK_SOURCE = "fallback: population share of national NEV stock 43.97M (MPS 2026-01-26)"
_PORT_COLUMNS = ("existing_public_ports", "existing_dc_ports", "existing_l2_ports")


def check_region_country(country: str) -> str:
    """Return the lower-case code of a registered country; raise :class:`InputError`."""
    return get_country(country).code


def load_regions(country: str) -> pd.DataFrame:
    """Return one row per state (``"us"``) or mainland province (``"cn"``).

    Parameters
    ----------
    country
        ``"us"`` or ``"cn"`` (case-insensitive).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`planner.ground.model.REGION_COLUMNS` first (``region``, ``name``,
        ``population`` (int), ``ev_stock`` (int), ``ev_source``, ``ev_fallback`` (bool)), then the
        extras of the table: ``geonames_admin1``, ``iso_3166_2``, ``population_year``,
        ``population_source``, ``ev_year``, ``existing_public_ports`` (float, NaN where not
        sourced), ``existing_dc_ports`` and ``existing_l2_ports`` (US), ``ports_year``,
        ``ports_source``, and for China ``name_zh``, ``note``, ``ev_stock_reported`` (the published
        figure, NaN for a fallback) and ``ev_year_reported`` (its month; ``ev_year`` is the national
        figure's month, to which ``ev_stock`` is brought). Sorted by region code.

    Raises
    ------
    InputError
        For an unknown country.
    DataError
        If the shipped table is missing or inconsistent.
    """
    profile = get_country(country)
    code, path = profile.code, profile.path(profile.region_file)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    _check_table(table, path=str(path))
    table["population"] = table["population"].astype(np.int64)
    for column in _PORT_COLUMNS:
        if column in table.columns:
            table[column] = pd.to_numeric(table[column].replace("", np.nan), errors="raise")
    if profile.ev_national_series:  # regional figures brought to the national series' month
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
    """Bring sourced provincial NEV stocks to the national figure's month; fill the other
    provinces with their population share of the rest.

    A sourced figure keeps its share of the national stock of its own month (see the module
    docstring). The national stock minus the aligned sourced stock is shared out over the other
    provinces in proportion to population; all rounded by largest remainders so the total is
    exact.
    """
    fact = load_policy_facts()["cn_nev_stock"]
    national = round(fact.value)
    series = _national_series()
    if series.get(str(fact.year)) != national:
        raise DataError(
            f"{CN_NATIONAL_SERIES}: its {fact.year} row should equal cn_nev_stock {national} of "
            "policy_facts.csv; fix the shipped tables"
        )
    table = table.copy()
    sourced = table["ev_stock"].ne("").to_numpy()
    reported = np.zeros(len(table))
    reported[sourced] = table.loc[sourced, "ev_stock"].astype(np.int64).to_numpy()
    months = table["ev_year"].to_numpy()
    share = np.zeros(len(table))
    for at in np.flatnonzero(sourced):
        share[at] = reported[at] / _national_at(series, str(months[at]))
    if share.sum() > 1.0:
        raise DataError(
            f"{_CN_TABLE}: sourced provinces hold {share.sum():.1%} of the national NEV "
            "stock of their months, more than all of it; check the table"
        )
    weights = np.where(sourced, share * national, 0.0)
    rest = (1.0 - share.sum()) * national
    weights[~sourced] = (
        rest
        * table["population"].to_numpy()[~sourced]
        / max(float(table["population"].to_numpy()[~sourced].sum()), 1.0)
    )
    table["ev_stock_reported"] = np.where(sourced, reported, np.nan)
    table["ev_year_reported"] = np.where(sourced, months, "")
    table["ev_stock"] = _largest_remainder(weights, national)
    table["ev_fallback"] = ~sourced
    table.loc[~sourced, "ev_source"] = (
        CN_FALLBACK_SOURCE + "; remainder after the provinces with a sourced figure"
    )
    table["ev_year"] = str(fact.year)
    return table


def _national_series() -> dict[str, int]:
    """China's national NEV stock by month (``"YYYY-MM"``), from the shipped series."""
    path = data_path(CN_NATIONAL_SERIES)
    series = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not {"month", "nev_stock", "source"} <= set(series.columns) or series.empty:
        raise DataError(f"{path}: expected columns month, nev_stock, source; fix the shipped table")
    months_ok = series["month"].map(lambda m: bool(_MONTH.fullmatch(m))).all()
    if not (months_ok and series["source"].ne("").all() and series["month"].is_unique):
        raise DataError(
            f"{path}: every row needs its own YYYY-MM month and a source; fix the shipped table"
        )
    if not series["nev_stock"].str.fullmatch(r"[1-9]\d*").all():
        raise DataError(f"{path}: nev_stock must be positive whole numbers; fix the shipped table")
    series = series.sort_values("month")
    return dict(zip(series["month"], series["nev_stock"].astype(np.int64), strict=True))


def _national_at(series: dict[str, int], month: str) -> float:
    """National NEV stock in ``month`` (``"YYYY-MM"``), linear between the series' months."""
    if not _MONTH.fullmatch(month):
        raise DataError(f"{_CN_TABLE}: a sourced NEV stock has ev_year {month!r}; expected YYYY-MM")
    at = np.array([_month_index(m) for m in series])  # the series is sorted by month
    if not at[0] <= _month_index(month) <= at[-1]:
        raise DataError(
            f"{_CN_TABLE}: a sourced NEV stock of {month} lies outside the national "
            f"series {CN_NATIONAL_SERIES} ({min(series)} to {max(series)}); extend the series"
        )
    return float(np.interp(_month_index(month), at, np.array(list(series.values()), float)))


def _month_index(month: str) -> int:
    """Months since year 0 of a ``"YYYY-MM"`` string."""
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


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
    if get_country(country).admin1_numeric:
        if text.endswith(".0"):
            text = text[:-2]
        return text.zfill(2) if text.isdigit() else text
    return text.upper()
