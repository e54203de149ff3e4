"""The parameter spec (planner.core.fields): every strategy's parameters are declared and
checked."""

from __future__ import annotations

import dataclasses
import math

import pytest

from planner.core.errors import InputError
from planner.core.fields import param_table, specs
from planner.ground.demand import DemandConfig
from planner.io.scenario import params_from_mapping
from planner.strategies import get_strategy, strategy_names

PARAM_TYPES = [get_strategy(n).params_type for n in strategy_names()] + [DemandConfig]


@pytest.mark.parametrize("cls", PARAM_TYPES, ids=lambda c: c.__name__)
def test_every_number_is_declared_with_its_bounds(cls: type) -> None:
    declared = specs(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        value = getattr(defaults, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        spec = declared[f.name]
        assert spec.low is not None, f"{cls.__name__}.{f.name} has no lower bound"
        # just outside the lower bound is refused, naming the field
        outside = spec.low if spec.low_open else spec.low - 1
        if isinstance(value, float) and not spec.low_open:
            outside = spec.low - 1e-6
        with pytest.raises(InputError, match=rf"^{f.name}: expected"):
            cls(**{f.name: outside})
        if spec.high is not None and math.isfinite(spec.high):
            with pytest.raises(InputError, match=rf"^{f.name}: expected"):
                cls(**{f.name: type(value)(spec.high * 2 + 1)})


def test_wrong_types_are_refused() -> None:
    nevi = get_strategy("us-nevi").params_type
    with pytest.raises(InputError, match=r"^subtract_existing: expected true or false, got 1"):
        nevi(subtract_existing=1)
    with pytest.raises(InputError, match=r"^min_dc_ports: expected a whole number >= 1, got 2.5"):
        nevi(min_dc_ports=2.5)
    cov = get_strategy("coverage").params_type
    with pytest.raises(InputError, match=r"^after_saturation: expected 'fill' or 'stop'"):
        cov(after_saturation="more")


def test_bound_by_another_field() -> None:
    china = get_strategy("china-pile-swap").params_type
    china(swaps_per_day=100.0, swap_min_swaps_per_day=100.0)
    with pytest.raises(InputError, match=r"swap_min_swaps_per_day: expected >= 0.0 and <= 100.0"):
        china(swaps_per_day=100.0, swap_min_swaps_per_day=100.5)


def test_scenario_loader_names_the_unit() -> None:
    nevi = get_strategy("us-nevi").params_type
    with pytest.raises(
        InputError, match=r"key 'spacing_mi' expected a number, got 'x' \(unit: mi\)"
    ):
        params_from_mapping(nevi, {"spacing_mi": "x"})


def test_cli_lists_the_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    from planner.app.cli import main

    assert main(["strategies", "--params", "grid-baseline"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == [
        r["name"] for r in param_table(get_strategy("grid-baseline").params_type)
    ]
    spacing = next(ln for ln in lines if ln.startswith("spacing_km"))
    assert "[km]" in spacing and "> 0" in spacing and "= 5.0" in spacing
