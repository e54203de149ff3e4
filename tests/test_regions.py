"""Tests of planner.regions: states and provinces with population and EV stock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.errors import InputError
from planner.facts import load_policy_facts
from planner.ground import REGION_COLUMNS
from planner.regions import CN_FALLBACK_SOURCE, load_regions, region_of_admin1


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


def test_cn_totals_and_fallback(cn: pd.DataFrame) -> None:
    assert len(cn) == 31
    assert int(cn["population"].sum()) == 1_409_778_724  # 2020 census, 31 provinces
    national = load_policy_facts()["cn_nev_stock"].value
    assert int(cn["ev_stock"].sum()) == national
    by = cn.set_index("region")
    assert by.loc["SH", "ev_stock"] == 1_510_000 and not by.loc["SH", "ev_fallback"]
    assert by.loc["BJ", "ev_stock"] == 870_000 and not by.loc["BJ", "ev_fallback"]
    assert by.loc["JS", "ev_stock"] == 2_092_300 and not by.loc["JS", "ev_fallback"]
    assert by.loc["HI", "ev_stock"] == 464_200 and not by.loc["HI", "ev_fallback"]
    fallback = cn[cn["ev_fallback"]]
    assert len(fallback) == 27 and "GD" in set(fallback["region"])
    assert fallback["ev_source"].str.startswith(CN_FALLBACK_SOURCE).all()
    assert not cn.loc[~cn["ev_fallback"], "ev_source"].str.startswith("fallback").any()


def test_cn_fallback_is_population_share_of_the_remainder(cn: pd.DataFrame) -> None:
    national = load_policy_facts()["cn_nev_stock"].value
    sourced = cn.loc[~cn["ev_fallback"], "ev_stock"].sum()
    fallback = cn[cn["ev_fallback"]]
    expected = (national - sourced) * fallback["population"] / fallback["population"].sum()
    assert np.all(np.abs(fallback["ev_stock"] - expected) <= 1.0)


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
