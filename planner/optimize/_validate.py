"""Checks at the optimizer's public boundary: every problem gathered, then one InputError."""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.core.errors import InputError, describe

METHODS = ("auto", "exact", "heuristic")


class Problems:
    """Collect one-line problems and raise them together as a single :class:`InputError`."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, name: str, expected: str, got: object, fix: str) -> None:
        """Record that argument ``name`` expected ``expected`` but received ``got``."""
        self.messages.append(f"{name}: expected {expected}, got {got}; {fix}")

    def raise_if_any(self) -> None:
        """Raise one :class:`InputError` listing every recorded problem."""
        if self.messages:
            raise InputError(" | ".join(self.messages))


def _shape_text(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f"shape {tuple(shape)}" if shape is not None else describe(value)


def as_coverage(coverage: Any, problems: Problems, *, name: str = "coverage") -> sp.csr_array:
    """Return ``coverage`` as a boolean CSR array (demand x candidates), or record why not."""
    if not (sp.issparse(coverage) or isinstance(coverage, np.ndarray)):
        problems.add(
            name,
            "a scipy.sparse CSR matrix or a 2-D numpy array (demand x candidates)",
            type(coverage).__name__,
            "build it with planner.optimize.coverage_from_points or coverage_from_network",
        )
        return sp.csr_array((0, 0), dtype=bool)
    if coverage.ndim != 2 or 0 in coverage.shape:
        problems.add(
            name,
            "a non-empty 2-D matrix (demand rows x candidate columns)",
            _shape_text(coverage),
            "pass at least one demand point and one candidate",
        )
        return sp.csr_array((0, 0), dtype=bool)
    matrix = sp.csr_array(coverage)
    if matrix.dtype != bool:
        data = matrix.data
        if np.issubdtype(data.dtype, np.floating) and np.isnan(data).any():
            problems.add(name, "0/1 or boolean entries", "NaN entries", "replace NaN by 0")
        matrix = sp.csr_array(matrix != 0) if matrix.nnz else sp.csr_array(matrix, dtype=bool)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()  # stored False entries cover nothing
    matrix.sort_indices()
    return matrix


def _real(value: Any) -> np.ndarray:
    """``value`` as float64; complex numbers raise :class:`TypeError` (numpy would drop their
    imaginary part with only a warning)."""
    raw = np.asarray(value)
    if np.iscomplexobj(raw):
        raise TypeError("complex numbers")
    return np.asarray(raw, dtype=np.float64)


def as_weights(
    weights: Any, n_rows: int, problems: Problems, *, name: str = "weights"
) -> np.ndarray:
    """Return ``weights`` as a float64 vector of length ``n_rows`` (``None`` means all ones)."""
    if weights is None:
        return np.ones(n_rows)
    try:
        array = _real(weights)
    except (TypeError, ValueError):
        problems.add(name, "a 1-D array of real numbers", describe(weights), "pass real weights")
        return np.ones(n_rows)
    if array.ndim != 1 or array.shape[0] != n_rows:
        problems.add(
            name,
            f"a 1-D array with one weight per demand row ({n_rows})",
            _shape_text(array),
            "pass one weight per row of the matrix",
        )
        return np.ones(n_rows)
    bad_nan = int(np.isnan(array).sum())
    if bad_nan:
        problems.add(name, "finite non-negative numbers", f"{bad_nan} NaN", "replace NaN by 0")
    bad_inf = int(np.isinf(array).sum())
    if bad_inf:
        problems.add(name, "finite non-negative numbers", f"{bad_inf} infinite", "cap them")
    negative = int((array < 0).sum())
    if negative:
        problems.add(
            name,
            "non-negative numbers",
            f"{negative} negative (min {float(np.nanmin(array)):g})",
            "clip them at 0",
        )
    return array


def as_count(value: Any, problems: Problems, *, name: str, low: int, high: int, what: str) -> int:
    """Return ``value`` as an int within ``[low, high]``, or record why not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        problems.add(name, f"an integer {what}", describe(value), "pass a whole number")
        return low
    number = int(value)
    if number < low or number > high:
        problems.add(
            name,
            f"{what} between {low} and {high}",
            number,
            f"choose {name} in [{low}, {high}]" if high >= low else "add candidates",
        )
    return number


def check_options(
    problems: Problems, *, method: Any, time_limit_s: Any, seed: Any
) -> tuple[str, float | None, int]:
    """Validate the options every solver shares; return them normalised."""
    if method not in METHODS:
        problems.add("method", f"one of {METHODS}", describe(method), 'use method="auto"')
    limit: float | None = None
    if time_limit_s is not None:
        if (
            isinstance(time_limit_s, bool)
            or not isinstance(time_limit_s, numbers.Real)
            or not math.isfinite(float(time_limit_s))
            or float(time_limit_s) <= 0
        ):
            problems.add(
                "time_limit_s",
                "a positive number of seconds or None",
                describe(time_limit_s),
                "pass e.g. time_limit_s=60",
            )
        else:
            limit = float(time_limit_s)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        problems.add("seed", "a non-negative integer", describe(seed), "pass e.g. seed=0")
        seed = 0
    return str(method), limit, int(seed)


def as_threads(value: Any, problems: Problems) -> int:
    """Return a thread count (``None``: the cores this process may use), or record why not."""
    if value is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on every platform
            return max(1, os.cpu_count() or 1)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        problems.add(
            "threads", "a positive integer or None", describe(value), "pass e.g. threads=2"
        )
        return 1
    return int(value)


def check_share(value: Any, problems: Problems, *, name: str = "min_share") -> float:
    """Return a share in ``(0, 1]``, or record why not."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 < float(value) <= 1.0
    ):
        problems.add(name, "a share in (0, 1]", describe(value), "pass e.g. 0.95 or 1.0")
        return 1.0
    return float(value)


def as_capacity(
    value: Any, n_cols: int, problems: Problems, *, name: str = "capacity"
) -> np.ndarray:
    """Return one finite non-negative capacity per candidate (a scalar is broadcast)."""
    try:
        array = _real(value)
    except (TypeError, ValueError):
        problems.add(name, "real numbers", describe(value), "pass one capacity per candidate")
        return np.ones(n_cols)
    if array.ndim == 0:
        array = np.full(n_cols, float(array))
    if array.ndim != 1 or array.shape[0] != n_cols:
        problems.add(
            name,
            f"a scalar or one capacity per candidate column ({n_cols})",
            _shape_text(array),
            "pass one capacity per column of the matrix",
        )
        return np.ones(n_cols)
    if not np.isfinite(array).all() or (array < 0).any():
        problems.add(
            name,
            "finite non-negative capacities (same unit as weights)",
            f"min {float(np.nanmin(array)):g}, {int((~np.isfinite(array)).sum())} non-finite",
            "fix the capacities",
        )
    return array


def as_cost(cost: Any, problems: Problems, *, name: str = "cost") -> np.ndarray | sp.csr_array:
    """Return ``cost`` as a dense float64 array or a float64 CSR array (missing = not allowed)."""
    if sp.issparse(cost):
        if cost.ndim != 2 or 0 in cost.shape:
            problems.add(name, "a non-empty 2-D matrix", _shape_text(cost), "pass demand x sites")
            return np.zeros((0, 0))
        if np.iscomplexobj(cost.data if hasattr(cost, "data") else cost.toarray()):
            problems.add(name, "real costs", "complex numbers", "pass real numbers")
            return np.zeros((0, 0))
        matrix = sp.csr_array(cost, dtype=np.float64)
        matrix.sum_duplicates()
        matrix.sort_indices()
        _check_cost_values(matrix.data, problems, name=name, sparse=True)
        return matrix
    try:
        array = _real(cost)
    except (TypeError, ValueError):
        problems.add(name, "a 2-D array of real costs", describe(cost), "pass real numbers")
        return np.zeros((0, 0))
    if array.ndim != 2 or 0 in array.shape:
        problems.add(name, "a non-empty 2-D matrix", _shape_text(array), "pass demand x sites")
        return np.zeros((0, 0))
    _check_cost_values(array, problems, name=name, sparse=False)
    return array


def _check_cost_values(values: np.ndarray, problems: Problems, *, name: str, sparse: bool) -> None:
    n_nan = int(np.isnan(values).sum())
    if n_nan:
        problems.add(name, "non-negative costs", f"{n_nan} NaN", "use np.inf for forbidden pairs")
    if sparse and np.isinf(values).any():
        problems.add(
            name, "finite stored costs", "infinite entries", "leave forbidden pairs unstored"
        )
    negative = int((values < 0).sum())
    if negative:
        problems.add(name, "non-negative costs", f"{negative} negative", "shift or clip them")
