"""Known answers on published instances (spopt San Francisco, OR-Library p-median)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from planner.core.errors import DataError
from planner.optimize import (
    solve_max_coverage,
    solve_p_center,
    solve_p_median,
    solve_set_cover,
)
from tests.optimize_instances import (
    SFInstance,
    clustered_layout,
    read_orlib_optima,
    read_orlib_pmed,
    read_spopt_sf,
)


@pytest.fixture(scope="module")
def sf(shared_data: Path) -> SFInstance:
    return read_spopt_sf(shared_data / "benchmarks" / "spopt_sf")


def test_sf_instance_shape(sf: SFInstance) -> None:
    assert sf.cost.shape == (205, 16)
    assert sf.tracts[0] == "060816029.00"  # tract names keep their leading zero
    assert sf.population.sum() > 0


@pytest.mark.parametrize("method", ["exact", "heuristic", "auto"])
def test_sf_set_cover_needs_8_sites(sf: SFInstance, method: str) -> None:
    result = solve_set_cover(sp.csr_array(sf.cost <= 5_000.0), None, method=method)
    assert result.objective == 8
    assert result.covered.all()
    assert result.status == "optimal"


@pytest.mark.parametrize("method", ["exact", "heuristic", "auto"])
def test_sf_max_coverage(sf: SFInstance, method: str) -> None:
    result = solve_max_coverage(sp.csr_array(sf.cost <= 5_000.0), sf.population, 4, method=method)
    assert result.objective == 875_247
    assert int((~result.covered).sum()) == 21
    assert result.covered.mean() == pytest.approx(0.89756, abs=5e-6)  # 89.756 % of tracts


@pytest.mark.parametrize("method", ["exact", "heuristic", "auto"])
def test_sf_p_median(sf: SFInstance, method: str) -> None:
    result = solve_p_median(sf.cost, sf.population, 4, method=method)
    assert round(result.objective, 2) == 2_848_268_129.71
    assert [sf.stores[j] for j in result.selected] == [
        "Store_2",
        "Store_11",
        "Store_12",
        "Store_15",
    ]
    assert result.mean_cost == pytest.approx(2_982.127, abs=1e-3)
    assert result.status == "optimal"


def test_sf_p_center(sf: SFInstance) -> None:
    result = solve_p_center(sf.cost, 4)
    assert round(result.objective, 2) == 7_403.06
    assert result.status == "optimal"


@pytest.mark.parametrize(("name", "method"), [("pmed1", "auto"), ("pmed4", "heuristic")])
def test_orlib_reaches_optimum(shared_data: Path, name: str, method: str) -> None:
    folder = shared_data / "benchmarks" / "orlib_pmed"
    inst = read_orlib_pmed(folder / f"{name}.txt")
    optimum = read_orlib_optima(folder / "pmedopt.txt")[name]
    result = solve_p_median(inst.cost, None, inst.p, method=method)
    assert result.objective == optimum
    assert result.bound <= optimum


def test_orlib_last_duplicate_edge_wins(shared_data: Path, tmp_path: Path) -> None:
    inst = read_orlib_pmed(shared_data / "benchmarks" / "orlib_pmed" / "pmed1.txt")
    assert inst.cost.shape == (100, 100) and inst.p == 5
    toy = tmp_path / "toy.txt"
    toy.write_text("3 3 1\n1 2 5\n2 3 1\n1 2 9\n")
    cost = read_orlib_pmed(toy).cost
    assert cost[0, 1] == 9.0  # the last listing of edge 1-2 wins over the cheaper first one
    assert cost[0, 2] == 10.0


def test_readers_raise_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="OR-Library"):
        read_orlib_pmed(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="spopt SF"):
        read_spopt_sf(tmp_path)


def test_clustered_layout_is_seeded() -> None:
    one = clustered_layout(500, 50, side_m=60_000.0, n_clusters=5, seed=3)
    two = clustered_layout(500, 50, side_m=60_000.0, n_clusters=5, seed=3)
    assert np.array_equal(one.demand_xy, two.demand_xy)
    assert one.demand_xy.shape == (500, 2) and one.cand_xy.shape == (50, 2)
    assert (one.demand_xy >= 0).all() and (one.demand_xy <= 60_000.0).all()
    assert (one.weights > 0).all()
