"""Small weighted statistics shared by the strategies and the comparison."""

from __future__ import annotations

import math

import numpy as np


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Weighted quantile (inverse of the weighted empirical CDF) of the finite ``values``.

    Returns NaN when no finite value carries positive weight.
    """
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    keep = np.isfinite(values)
    values, weights = values[keep], weights[keep]
    if values.size == 0 or weights.sum() <= 0:
        return math.nan
    order = np.argsort(values, kind="stable")
    cdf = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(int(np.searchsorted(cdf, q)), values.size - 1)])
