"""Tests of planner.io.facts: the cited defaults table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from planner.core.errors import InputError
from planner.io._data import data_path
from planner.io.facts import Fact, fact_value, load_policy_facts

REQUIRED = (
    "us_target_ports",
    "nevi_spacing_mi",
    "nevi_max_offset_mi",
    "nevi_min_ports",
    "nevi_min_power_kw",
    "nrel_2030_public_dc_ports",
    "nrel_2030_public_l2_ports",
    "us_public_dc_share",
    "us_l2_port_capex_usd",
    "us_dc_port_capex_usd",
    "cn_public_piles",
    "cn_nev_stock",
    "cn_nev_per_public_pile",
    "cn_public_dc_share",
    "cn_swap_station_swaps_per_day",
    "cn_swap_station_packs",
    "cn_swap_station_capex_cny",
    "cn_dc_pile_capex_cny",
    "cn_ac_pile_capex_cny",
    "cn_service_area_spacing_km",
    "cn_ldv_daily_km",
    "usd_per_cny",
    "cn_avg_public_pile_kw",
    "us_mean_corridor_aadt_veh_day",
    "cn_mean_corridor_aadt_veh_day",
)


def test_every_fact_has_a_finite_value_a_unit_and_a_source() -> None:
    facts = load_policy_facts()
    assert set(REQUIRED) <= set(facts)
    for key, fact in facts.items():
        assert isinstance(fact, Fact)
        assert fact.key == key
        assert math.isfinite(fact.value)
        assert fact.unit.strip(), key
        assert len(fact.source.strip()) > 10, key
        assert fact.region in {"US", "CN", "EU"}, key


def test_known_values_and_documented_midpoints() -> None:
    facts = load_policy_facts()
    assert facts["us_target_ports"].value == 500_000
    assert facts["nevi_spacing_mi"].value == 50
    assert facts["nevi_min_ports"].value * facts["nevi_min_power_kw"].value == 600
    assert facts["cn_nev_stock"].value == 43_970_000
    # Derived figures recomputed from their parts.
    dc, l2 = facts["nrel_2030_public_dc_ports"].value, facts["nrel_2030_public_l2_ports"].value
    assert facts["us_public_dc_share"].value == pytest.approx(dc / (dc + l2), abs=1e-6)
    assert facts["us_l2_port_capex_usd"].value == (5000 + 11000) / 2
    assert facts["us_dc_port_capex_usd"].value == (148_000 + 242_000) / 2
    assert facts["cn_swap_station_capex_cny"].value == (1.5e6 + 3.0e6) / 2
    assert facts["cn_public_dc_share"].value == pytest.approx(1.785 / 3.900, abs=1e-4)
    assert facts["cn_ldv_daily_km"].value == pytest.approx(18_900 / 365, abs=0.05)
    assert facts["usd_per_cny"].value == pytest.approx(1 / 7.1918, rel=1e-5)
    per_lane = facts["us_rural_interstate_veh_per_lane_day"].value
    assert facts["us_mean_corridor_aadt_veh_day"].value == 4 * per_lane
    assert "5000-11000" in facts["us_l2_port_capex_usd"].note.replace(",", "")


def test_assumptions_are_marked() -> None:
    facts = load_policy_facts()
    assert facts["cn_ac_pile_capex_cny"].is_assumption
    assert facts["cn_mean_corridor_aadt_veh_day"].is_assumption
    assert facts["us_mean_corridor_aadt_veh_day"].is_assumption
    assert not facts["nevi_spacing_mi"].is_assumption


def test_table_keys_are_unique_and_columns_fixed() -> None:
    table = pd.read_csv(data_path("policy_facts.csv"))
    assert list(table.columns) == ["key", "region", "value", "unit", "year", "source", "note"]
    assert table["key"].is_unique


def test_fact_value_and_unknown_key() -> None:
    assert fact_value("nevi_max_offset_mi") == 1
    with pytest.raises(InputError, match="key"):
        fact_value("no_such_fact")


def test_shared_facts_agree(shared_data) -> None:  # type: ignore[no-untyped-def]
    """Values typed into the project's table match the shared facts file they cite."""
    shared = pd.read_csv(shared_data / "facts" / "policy_parameters.csv")

    def shared_value(parameter: str, region: str = "CN") -> float:
        row = shared[(shared["parameter"] == parameter) & (shared["region"] == region)]
        return float(row["value"].iloc[0])

    facts = load_policy_facts()
    assert facts["cn_public_piles"].value == shared_value("public charging facilities") * 1e6
    assert facts["cn_avg_public_pile_kw"].value == shared_value("avg power per public charger")
    assert facts["nrel_2030_public_dc_ports"].value == shared_value(
        "NREL 2030 public DC fast ports", "US"
    )
