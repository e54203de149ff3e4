"""``--same``: the budget search of :mod:`planner.app.comparison` on a fake strategy (fast,
exact)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from planner.app import comparison
from planner.strategies.base import Plan, StrategySpec


@dataclass(frozen=True)
class FakeParams:
    target: int = 100


def _spec(floor: int, runs: list[int]) -> StrategySpec:
    def run(ground: object, params: FakeParams, *, seed: int = 0) -> Plan:
        runs.append(params.target)
        ports = max(floor, params.target)
        sites = pd.DataFrame({"ports": [ports], "capex_usd": [1000.0 * ports + 5000.0]})
        return Plan("fake", ground, sites, pd.DataFrame(), pd.DataFrame())  # type: ignore[arg-type]

    return StrategySpec("fake", "fake", FakeParams, run, has_cost_model=True)


@pytest.fixture(autouse=True)
def fake_knob(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(comparison.BUDGET_KNOBS, "fake", ("target", "ports"))


@pytest.mark.parametrize(("same", "reference"), [("ports", 3_700.0), ("capex", 420_000.0)])
def test_reaches_reference(same: str, reference: float) -> None:
    runs: list[int] = []
    spec = _spec(floor=0, runs=runs)
    first = spec.run(None, FakeParams())
    plan, params = comparison._match_budget(None, spec, {}, first, reference, same, 0)  # type: ignore[arg-type]
    assert abs(comparison._budget(plan, same) - reference) <= 0.01 * reference
    assert len(runs) <= 1 + comparison._SAME_ROUNDS
    assert params.target == plan.sites["ports"].iloc[0]


def test_stops_at_a_floor_and_keeps_the_nearest() -> None:
    runs: list[int] = []
    spec = _spec(floor=180, runs=runs)
    first = spec.run(None, FakeParams(target=100))
    plan, _ = comparison._match_budget(None, spec, {}, first, 59.0, "ports", 0)  # type: ignore[arg-type]
    assert comparison._budget(plan, "ports") == 180
    assert len(runs) <= 3  # one move down shows the budget no longer changes


def test_budget_columns_show_the_gap_to_the_reference() -> None:
    spec = _spec(floor=0, runs=[])
    plans = [spec.run(None, FakeParams(target=t)) for t in (200, 200, 150)]
    named = pd.DataFrame({"strategy": ["a", "b", "c"]})
    metrics = comparison._with_budget_columns(named, plans, "ports", reference=200.0)
    assert metrics["budget_ports"].tolist() == [200.0, 200.0, 150.0]
    assert metrics["budget_ports_gap_pct"].tolist() == [0.0, 0.0, -25.0]


def test_derived_size_parameter_is_shown_with_its_value() -> None:
    @dataclass(frozen=True)
    class Derived:
        target: int | None = None
        other: float = 1.5

    plan = _spec(floor=0, runs=[]).run(None, FakeParams(target=1234))
    shown = comparison._params_shown(Derived(), plan, "fake")
    assert shown == {"target": "1,234 (derived)", "other": 1.5}
    assert comparison._params_shown(Derived(target=7), plan, "fake")["target"] == 7
