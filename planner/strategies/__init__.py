"""Strategies: one module each, registered in one table, sharing one signature.

Every strategy is ``run(ground, params, *, seed=0) -> Plan`` with a frozen parameter dataclass
(``params_type``) that a scenario file fills through
:func:`planner.io.scenario.params_from_mapping`.
Modules are imported when a strategy is asked for, so ``planner --help`` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from planner.core.errors import InputError
from planner.strategies.base import Plan, StrategySpec

# The registry: strategy name -> module defining ``SPEC``.
STRATEGIES: Mapping[str, str] = {
    "coverage": "planner.strategies.coverage",
    "us-nevi": "planner.strategies.us_nevi",
    "china-pile-swap": "planner.strategies.china_pile_swap",
    "grid-baseline": "planner.strategies.grid_baseline",
    "eu-afir": "planner.strategies.eu_afir",
}


def strategy_names() -> tuple[str, ...]:
    """Names of the registered strategies."""
    return tuple(STRATEGIES)


def get_strategy(name: str) -> StrategySpec:
    """Return the registered strategy ``name``; raise :class:`InputError` listing the valid ones."""
    if name not in STRATEGIES:
        raise InputError(
            f"strategy: unknown strategy {name!r}; valid strategies are {', '.join(STRATEGIES)}"
        )
    spec = importlib.import_module(STRATEGIES[name]).SPEC
    if not isinstance(spec, StrategySpec):
        raise TypeError(f"{STRATEGIES[name]}.SPEC is not a StrategySpec")
    return spec


def run_strategy(
    name: str, ground: Any, params: Mapping[str, Any] | None = None, *, seed: int = 0
) -> Plan:
    """Build ``name``'s parameters from ``params`` (a scenario mapping) and run it on ``ground``."""
    from planner.io.scenario import params_from_mapping

    spec = get_strategy(name)
    p: Any = params_from_mapping(spec.params_type, dict(params or {}), where=f"scenario ({name})")
    return spec.plan(ground, p, seed=seed)


__all__ = ["STRATEGIES", "Plan", "StrategySpec", "get_strategy", "run_strategy", "strategy_names"]
