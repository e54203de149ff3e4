"""p-median kernels: assignment, swap profits and the Lagrangian pieces against direct numpy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from planner.optimize._median_search import Entries, state_of, swap_profits


def _entries(seed: int) -> tuple[Entries, np.ndarray]:
    """A random sparse weighted-cost instance (some pairs forbidden) and its dense costs."""
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(5, 40)), int(rng.integers(3, 15))
    dense = np.round(rng.uniform(1.0, 50.0, size=(m, n)), 1)
    allowed = rng.random((m, n)) < 0.6
    allowed[np.arange(m), rng.integers(n, size=m)] = True  # every row has a candidate
    csr = sp.csr_array(np.where(allowed, dense, 0.0))
    full = np.where(allowed, dense, np.inf)
    return Entries.from_csr(csr), full


def _total(entries: Entries, full: np.ndarray, is_open: np.ndarray) -> float:
    best = np.where(is_open[None, :], full, np.inf).min(axis=1)
    return float(np.where(np.isfinite(best), best, entries.penalty).sum())


@pytest.mark.parametrize("seed", range(15))
def test_assignment_is_the_nearest_and_second_nearest_open_site(seed: int) -> None:
    entries, full = _entries(seed)
    rng = np.random.default_rng(seed)
    is_open = np.asarray(rng.random(full.shape[1]) < 0.5)
    state = state_of(entries, is_open)
    masked = np.where(is_open[None, :], full, np.inf)
    ordered = np.sort(masked, axis=1)
    first = np.where(np.isfinite(ordered[:, 0]), ordered[:, 0], entries.penalty)
    second = np.where(np.isfinite(ordered[:, 1]), ordered[:, 1], entries.penalty)
    np.testing.assert_allclose(state.d1, first)
    np.testing.assert_allclose(state.d2, second)
    assigned = state.c1 >= 0
    np.testing.assert_allclose(full[np.flatnonzero(assigned), state.c1[assigned]], first[assigned])
    assert state.total == pytest.approx(_total(entries, full, is_open))


@pytest.mark.parametrize("seed", range(15))
def test_swap_profits_are_exact_and_best(seed: int) -> None:
    entries, full = _entries(100 + seed)
    n = full.shape[1]
    rng = np.random.default_rng(seed)
    is_open = np.zeros(n, dtype=bool)
    is_open[rng.choice(n, size=int(rng.integers(1, n)), replace=False)] = True
    before = _total(entries, full, is_open)
    profit, drop = swap_profits(entries, is_open, state_of(entries, is_open))
    assert np.all(np.isneginf(profit[is_open]))
    for k in np.flatnonzero(~is_open):
        changes = {}
        for r in np.flatnonzero(is_open):
            trial = is_open.copy()
            trial[k], trial[r] = True, False
            changes[int(r)] = before - _total(entries, full, trial)
        assert is_open[drop[k]]
        assert profit[k] == pytest.approx(changes[int(drop[k])], rel=1e-9, abs=1e-6)
        assert profit[k] >= max(changes.values()) - 1e-6 * max(1.0, abs(profit[k]))
