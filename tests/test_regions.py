"""Tests of planner.ground.regions: states and provinces with population and EV stock."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.core.errors import DataError, InputError
from planner.ground.model import REGION_COLUMNS
from planner.ground.regions import CN_FALLBACK_SOURCE, load_regions, region_of_admin1
from planner.io._data import data_path
from planner.io.facts import load_policy_facts


@pytest.fixture(scope="module")
def us() -> pd.DataFrame:
    return load_regions("us")


@pytest.fixture(scope="module")
def cn() -> pd.DataFrame:
    return load_regions("cn")


@pytest.mark.parametrize("country", ["us", "cn"])
def test_columns_and_positive_figures(country: str) -> None:
    regions = load_regions(country)
    assert tuple(regions.columns[: len(REGION_COLUMNS)]) == REGION_COLUMNS
    assert {"geonames_admin1", "iso_3166_2", "existing_public_ports"} <= set(regions.columns)
    assert regions["region"].is_unique
    assert (regions["population"] > 0).all()
    assert (regions["ev_stock"] > 0).all()
    assert regions["ev_source"].str.len().gt(10).all()
    assert regions["ev_fallback"].dtype == bool
    assert regions["population_source"].str.len().gt(10).all()


def test_us_totals(us: pd.DataFrame) -> None:
    assert len(us) == 51  # 50 states + DC
    assert int(us["ev_stock"].sum()) == 3_555_445  # AFDC 2023 BEV total
    assert int(us["population"].sum()) == 331_449_281  # 2020 Census resident population
    assert not us["ev_fallback"].any()
    row = us.set_index("region").loc["CA"]
    assert (row["ev_stock"], row["population"]) == (1_256_646, 39_538_223)
    assert row["existing_public_ports"] == 63_333
    assert (us["region"] == us["geonames_admin1"]).all()


def test_us_ports_sourced_or_missing(us: pd.DataFrame) -> None:
    has = us["existing_public_ports"].notna()
    assert has.sum() >= 6
    assert us.loc[has, "ports_source"].str.len().gt(10).all()
    assert (us.loc[~has, "ports_source"] == "").all()
    split = us.loc[has, "existing_dc_ports"] + us.loc[has, "existing_l2_ports"]
    assert (split <= us.loc[has, "existing_public_ports"]).all()


def test_us_matches_shared_afdc_table(us: pd.DataFrame, shared_data) -> None:  # type: ignore[no-untyped-def]
    table = pd.read_csv(shared_data / "facts" / "us_ev_registrations_by_state.csv")
    afdc = table[table["year"] == 2023].set_index("state_code")["bev"].astype(int)
    ours = us.set_index("region")["ev_stock"]
    assert ours.sort_index().to_dict() == afdc.sort_index().to_dict()


def _national_series() -> dict[str, float]:
    table = pd.read_csv(data_path("cn_nev_stock_national.csv"), dtype={"month": str})
    return dict(zip(table["month"], table["nev_stock"].astype(float), strict=True))


def test_cn_totals_and_fallback(cn: pd.DataFrame) -> None:
    assert len(cn) == 31
    assert int(cn["population"].sum()) == 1_409_778_724  # 2020 census, 31 provinces
    national = load_policy_facts()["cn_nev_stock"].value
    assert int(cn["ev_stock"].sum()) == national
    assert (cn["ev_year"] == "2025-12").all()
    by = cn.set_index("region")
    reported = {
        "SH": (1_510_000, "2024-12"),
        "BJ": (870_000, "2024-06"),
        "JS": (2_092_300, "2024-06"),
        "HI": (464_200, "2025-06"),
        "ZJ": (2_040_000, "2023-12"),
        "AH": (544_000, "2023-10"),
        "GX": (923_700, "2024-11"),
    }
    for region, (stock, month) in reported.items():
        row = by.loc[region]
        assert not row["ev_fallback"]
        assert (row["ev_stock_reported"], row["ev_year_reported"]) == (stock, month)
    fallback = cn[cn["ev_fallback"]]
    assert len(fallback) == 24 and "GD" in set(fallback["region"])
    assert fallback["ev_stock_reported"].isna().all()
    assert fallback["ev_source"].str.startswith(CN_FALLBACK_SOURCE).all()
    assert not cn.loc[~cn["ev_fallback"], "ev_source"].str.startswith("fallback").any()


def test_cn_sourced_stock_keeps_its_share_of_the_national_stock(cn: pd.DataFrame) -> None:
    national = load_policy_facts()["cn_nev_stock"].value
    series = _national_series()
    stock = {
        str(region): float(value)
        for region, value in zip(cn["region"], cn["ev_stock"], strict=True)
    }
    # a month of the series: the share of that month's national stock, brought to 2025-12
    assert abs(stock["ZJ"] - 2_040_000 / series["2023-12"] * national) <= 1.0
    assert abs(stock["HI"] - 464_200 / series["2025-06"] * national) <= 1.0
    # between two months (2024-11: five sixths of the way from 2024-06 to 2024-12)
    nov = series["2024-06"] + 5 / 6 * (series["2024-12"] - series["2024-06"])
    assert abs(stock["GX"] - 923_700 / nov * national) <= 1.0
    # growth since the figure's month only raises a province's stock
    sourced = cn[~cn["ev_fallback"]]
    assert (sourced["ev_stock"] >= sourced["ev_stock_reported"]).all()


def test_cn_fallback_is_population_share_of_the_remainder(cn: pd.DataFrame) -> None:
    national = load_policy_facts()["cn_nev_stock"].value
    sourced = cn.loc[~cn["ev_fallback"], "ev_stock"].sum()
    fallback = cn[cn["ev_fallback"]]
    expected = (national - sourced) * fallback["population"] / fallback["population"].sum()
    assert np.all(np.abs(fallback["ev_stock"] - expected) <= 1.0)


def test_cn_national_series_is_sourced_and_ends_at_the_national_fact() -> None:
    table = pd.read_csv(data_path("cn_nev_stock_national.csv"), dtype={"month": str})
    assert table["month"].is_monotonic_increasing
    assert table["nev_stock"].is_monotonic_increasing
    assert table["source"].str.contains("Ministry of Public Security").all()
    fact = load_policy_facts()["cn_nev_stock"]
    assert _national_series()[fact.year] == fact.value


def test_cn_figure_outside_the_national_series_is_a_data_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("cn_provinces.csv", "cn_nev_stock_national.csv", "policy_facts.csv"):
        shutil.copy(data_path(name), tmp_path / name)
    table = pd.read_csv(tmp_path / "cn_provinces.csv", dtype=str, keep_default_na=False)
    table.loc[table["region"] == "ZJ", "ev_year"] = "2021-12"
    table.to_csv(tmp_path / "cn_provinces.csv", index=False)
    monkeypatch.setenv("PLANNER_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="outside the national series"):
        load_regions("cn")


def test_cn_codes(cn: pd.DataFrame) -> None:
    assert cn["geonames_admin1"].str.fullmatch(r"\d\d").all()
    assert (cn["iso_3166_2"] == "CN-" + cn["region"]).all()
    assert cn.set_index("geonames_admin1").loc["23", "region"] == "SH"


def test_region_of_admin1() -> None:
    got = region_of_admin1("cn", ["23", 23, "1", "01", "30", "", None, "99"])
    assert got.tolist() == ["SH", "SH", "AH", "AH", "GD", "", "", ""]
    assert got.dtype == object
    assert region_of_admin1("US", ["ca", "DC", "PR"]).tolist() == ["CA", "DC", ""]
    assert region_of_admin1("us", []).size == 0


@pytest.mark.parametrize("bad", ["fr", "", "usa", None])
def test_unknown_country(bad: object) -> None:
    with pytest.raises(InputError, match="country"):
        load_regions(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="country"):
        region_of_admin1(bad, ["23"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("month", "stock"), [("2024-13", "31400000"), ("2023-12", "31400000"), ("2024-12", "3.1e7")]
)
def test_bad_national_series_is_a_data_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, month: str, stock: str
) -> None:
    for name in ("cn_provinces.csv", "cn_nev_stock_national.csv", "policy_facts.csv"):
        shutil.copy(data_path(name), tmp_path / name)
    series = pd.read_csv(tmp_path / "cn_nev_stock_national.csv", dtype=str)
    series.loc[series["month"] == "2024-12", ["month", "nev_stock"]] = [month, stock]
    series.to_csv(tmp_path / "cn_nev_stock_national.csv", index=False)
    monkeypatch.setenv("PLANNER_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"cn_nev_stock_national\.csv"):
        load_regions("cn")


@pytest.mark.parametrize("country", ["us", "cn"])
def test_every_region_has_one_boundary_polygon(country: str) -> None:
    from planner.ground.boundaries import load_boundaries

    table = load_regions(country)
    polygons = load_boundaries(country)
    assert sorted(polygons["region"]) == sorted(table["region"])
    if country == "us":  # both tables use the ISO 3166-2 code of the state
        iso = dict(zip(table["region"], table["iso_3166_2"], strict=True))
        assert all(
            iso[r] == c for r, c in zip(polygons["region"], polygons["iso_3166_2"], strict=True)
        )
