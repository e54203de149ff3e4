"""Optimizer invariants on a real coverage instance (central Shanghai street network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from planner import optimize
from planner.ground.build import city_ground
from planner.ground.network import load_network


@pytest.fixture(scope="module")
def shanghai(shared_data: Path) -> tuple[object, np.ndarray]:
    net = load_network(shared_data / "osm" / "cn_shanghai_central.osm")
    ground = city_ground(net, n_candidates=1500)
    cover = optimize.coverage_from_network(
        ground.length_m, ground.demand.node_idx, ground.candidates.node_idx, 1000.0
    )
    return cover, ground.demand.demand


@pytest.mark.parametrize("method", ["exact", "heuristic", "auto"])
def test_set_cover_status_matches_bound(
    shanghai: tuple[sp.csr_array, np.ndarray], method: str
) -> None:
    """An "optimal" answer has bound == objective; every answer reaches the share it was asked."""
    cover, w = shanghai
    result = optimize.solve_set_cover(cover, w, min_share=0.95, method=method)
    covered = np.asarray(cover[:, result.selected].sum(axis=1)).ravel() > 0
    assert w[covered].sum() >= 0.95 * w.sum() * (1 - 1e-9)
    assert result.objective == len(result.selected)
    assert result.bound <= result.objective + 1e-9
    if result.status == "optimal":
        assert result.bound == pytest.approx(result.objective)


def test_exact_cover_not_worse_than_heuristic(shanghai: tuple[sp.csr_array, np.ndarray]) -> None:
    cover, w = shanghai
    exact = optimize.solve_set_cover(cover, w, min_share=0.95, method="exact")
    heur = optimize.solve_set_cover(cover, w, min_share=0.95, method="heuristic")
    assert exact.objective <= heur.objective
    assert heur.bound <= exact.objective + 1e-9  # the heuristic's bound is a valid lower bound


def test_max_coverage_bound_is_valid(shanghai: tuple[sp.csr_array, np.ndarray]) -> None:
    cover, w = shanghai
    exact = optimize.solve_max_coverage(cover, w, 6, method="exact")
    heur = optimize.solve_max_coverage(cover, w, 6, method="heuristic")
    assert exact.status == "optimal"
    assert heur.objective <= exact.objective + 1e-6
    assert heur.bound >= exact.objective - 1e-6
