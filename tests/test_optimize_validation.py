"""Every public solver rejects bad input with one InputError that names the argument."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from planner.core.errors import InputError
from planner.optimize import (
    solve_capacitated_max_coverage,
    solve_capacitated_set_cover,
    solve_max_coverage,
    solve_p_center,
    solve_p_median,
    solve_set_cover,
)

COVER = sp.csr_array(np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 0]], dtype=bool))
WEIGHTS = np.array([1.0, 2.0, 3.0, 4.0])
COST = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 5.0], [4.0, 3.0, 1.0], [2.0, 2.0, 2.0]])


@pytest.mark.parametrize("p", [0, -1, 4, 2.5, True, "2"])
def test_bad_p(p: Any) -> None:
    for call in (
        lambda: solve_max_coverage(COVER, WEIGHTS, p),
        lambda: solve_p_median(COST, WEIGHTS, p),
        lambda: solve_p_center(COST, p),
        lambda: solve_capacitated_max_coverage(COVER, WEIGHTS, 5.0, p),
    ):
        with pytest.raises(InputError, match=r"^p: expected"):
            call()


def test_p_above_candidates_names_the_range() -> None:
    with pytest.raises(InputError, match=r"between 1 and 3, got 4"):
        solve_max_coverage(COVER, WEIGHTS, 4)


@pytest.mark.parametrize(
    ("weights", "needle"),
    [
        (np.array([1.0, np.nan, 1.0, 1.0]), "NaN"),
        (np.array([1.0, -2.0, 1.0, 1.0]), "negative"),
        (np.array([1.0, np.inf, 1.0, 1.0]), "infinite"),
        (np.ones(3), "one weight per row"),
        (np.ones((4, 1)), "1-D"),
        (["a", "b", "c", "d"], "numbers"),
        (np.array([1.0 + 1j, 2.0, 1.0, 1.0]), "real numbers"),
    ],
)
def test_bad_weights(weights: Any, needle: str) -> None:
    for call in (
        lambda: solve_max_coverage(COVER, weights, 1),
        lambda: solve_set_cover(COVER, weights, min_share=0.5),
        lambda: solve_p_median(COST, weights, 1),
        lambda: solve_capacitated_set_cover(COVER, weights, 5.0, min_share=0.1),
    ):
        with pytest.raises(InputError, match=f"^weights: .*{needle}"):
            call()


@pytest.mark.parametrize(
    "matrix",
    [
        sp.csr_array((0, 3), dtype=bool),
        sp.csr_array((4, 0), dtype=bool),
        np.zeros((0, 0)),
        np.ones(4, dtype=bool),
        [[1, 0], [0, 1]],
    ],
)
def test_bad_coverage_matrix(matrix: Any) -> None:
    with pytest.raises(InputError, match=r"^coverage: expected"):
        solve_max_coverage(matrix, None, 1)
    with pytest.raises(InputError, match=r"^coverage: expected"):
        solve_set_cover(matrix, None)


def test_wrong_shape_between_matrix_and_weights() -> None:
    with pytest.raises(InputError, match="weights: expected a 1-D array with one weight per"):
        solve_max_coverage(COVER.T, WEIGHTS, 1)


def test_bad_cost_matrix() -> None:
    with pytest.raises(InputError, match=r"^cost: expected"):
        solve_p_median(np.zeros((0, 2)), None, 1)
    with pytest.raises(InputError, match="NaN"):
        solve_p_median(np.array([[1.0, np.nan]]), None, 1)
    with pytest.raises(InputError, match="negative"):
        solve_p_center(np.array([[1.0, -1.0]]), 1)
    with pytest.raises(InputError, match="at least one candidate"):
        solve_p_median(np.array([[1.0, 2.0], [np.inf, np.inf]]), None, 1)
    sparse = sp.csr_array(([1.0], ([0], [0])), shape=(2, 2))
    with pytest.raises(InputError, match=r"1 row\(s\) with none \(first: row 1\)"):
        solve_p_median(sparse, None, 1)


def test_infeasible_cover_reports_reachable_share() -> None:
    # row 3 (weight 4 of 10) is covered by nobody: at most 60 % is reachable
    with pytest.raises(InputError, match=r"min_share: .*at most 0\.600000.*got 1\.0"):
        solve_set_cover(COVER, WEIGHTS)
    result = solve_set_cover(COVER, WEIGHTS, min_share=0.6)
    assert result.covered_share == pytest.approx(0.6)


def test_infeasible_capacitated_cover_reports_reachable_share() -> None:
    # capacity 1 per site: 3 of the 10 units can be served
    with pytest.raises(InputError, match=r"min_share: .*all 3 candidates open.*at most 0\.300000"):
        solve_capacitated_set_cover(COVER, WEIGHTS, 1.0, min_share=0.5)
    # one site of capacity 10 serves at most rows 1 and 2 (5 of 10 units)
    with pytest.raises(InputError, match=r"min_share: .*max_sites=1.*at most 0\.500000"):
        solve_capacitated_set_cover(COVER, WEIGHTS, 10.0, min_share=0.6, max_sites=1)
    result = solve_capacitated_set_cover(COVER, WEIGHTS, 10.0, min_share=0.5, max_sites=1)
    assert result.objective == 1 and result.served_share == pytest.approx(0.5)


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5, float("nan"), "all"])
def test_bad_min_share(share: Any) -> None:
    with pytest.raises(InputError, match=r"^min_share: expected a share in"):
        solve_set_cover(COVER, WEIGHTS, min_share=share)


def test_bad_capacity() -> None:
    with pytest.raises(InputError, match=r"^capacity: expected a scalar or one capacity"):
        solve_capacitated_max_coverage(COVER, WEIGHTS, [1.0, 2.0], 1)
    with pytest.raises(InputError, match=r"^capacity: expected finite non-negative"):
        solve_capacitated_max_coverage(COVER, WEIGHTS, [1.0, -2.0, 1.0], 1)


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"method": "fast"}, "method"),
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"time_limit_s": float("inf")}, "time_limit_s"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_options(options: dict[str, Any], needle: str) -> None:
    with pytest.raises(InputError, match=f"^{needle}: expected"):
        solve_max_coverage(COVER, WEIGHTS, 1, **options)
    with pytest.raises(InputError, match=f"^{needle}: expected"):
        solve_p_median(COST, WEIGHTS, 1, **options)


@pytest.mark.parametrize("threads", [0, -2, 1.5, True, "2"])
def test_bad_threads(threads: Any) -> None:
    with pytest.raises(InputError, match=r"^threads: expected a positive integer or None"):
        solve_max_coverage(COVER, WEIGHTS, 1, threads=threads)


def test_every_problem_reported_at_once() -> None:
    with pytest.raises(InputError) as info:
        solve_max_coverage(COVER, np.array([np.nan]), 0, method="nope")
    message = str(info.value)
    assert "weights:" in message and "p:" in message and "method:" in message
    assert "\n" not in message  # one line


def test_input_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="p:"):
        solve_max_coverage(COVER, WEIGHTS, 0)


@pytest.mark.parametrize("sparse", [False, True])
def test_complex_costs_are_refused_in_one_line(sparse: bool) -> None:
    cost = np.asarray(COST, dtype=complex)
    with pytest.raises(InputError, match="real") as info:
        solve_p_median(sp.csr_array(cost) if sparse else cost, np.ones(cost.shape[0]), 1)
    assert "\n" not in str(info.value)
