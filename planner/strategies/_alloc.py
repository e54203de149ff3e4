"""Largest-remainder (Hamilton) rounding shared by the strategies.

* :func:`round_quotas` rounds real quotas to whole numbers that sum to a given total.
* :func:`apportion` splits a whole number in proportion to weights, each share at least a
  minimum (the ``us-nevi`` community allocation and siting).

``planner.strategies._piles.apportion`` keeps its own argument order and edge cases (zeros when
no weight is positive) and rounds with :func:`round_quotas` too.
"""

from __future__ import annotations

import numpy as np

from planner.core.errors import InputError


def round_quotas(
    quota: np.ndarray, total: int, *, eligible: np.ndarray | None = None
) -> np.ndarray:
    """Round ``quota`` down, then give the units left of ``total`` to the largest remainders.

    Parameters
    ----------
    quota
        Real quotas, one per share; they should sum to ``total``.
    total
        Whole number the shares must sum to.
    eligible
        Boolean mask of the shares that may receive a leftover unit; ``None``: all of them.

    Returns
    -------
    numpy.ndarray
        int64 shares, ``floor(q)`` or ``floor(q) + 1`` of each quota ``q``. Ties go to the
        lower index.
    """
    floors = np.floor(quota).astype(np.int64)
    left = int(total) - int(floors.sum())
    if left > 0:
        order = np.argsort(-(quota - floors), kind="stable")
        if eligible is not None:
            order = order[eligible[order]]
        floors[order[:left]] += 1
    return floors


def apportion(total: int, weights: np.ndarray, *, minimum: int = 0) -> np.ndarray:
    """Split the whole number ``total`` in proportion to ``weights`` (largest remainder).

    Every share gets at least ``minimum`` and the shares sum to ``total`` exactly; when no weight
    is positive the shares are equal. Ties go to the earlier share.
    """
    w = np.nan_to_num(np.asarray(weights, dtype=float), nan=0.0).clip(min=0.0)
    rest = int(total) - minimum * w.size
    if w.size == 0 and total == 0:
        return np.zeros(0, dtype=np.int64)
    if w.size == 0 or rest < 0:
        raise InputError(
            f"total: cannot split {total} into {w.size} shares of at least "
            f"{minimum}; lower the minimum or raise the total"
        )
    w = w if w.sum() > 0 else np.ones_like(w)
    return round_quotas(rest * w / w.sum(), rest) + minimum
