"""The capacitated coverage model as sparse blocks for HiGHS, and its assignments.

Variables ``z_ij >= 0`` (amount of row ``i`` served by site ``j``, one per coverage pair) then
``x_j`` (site open); see :mod:`planner.optimize.capacitated` for the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from planner.optimize import _highs
from planner.optimize._cover_model import SHARE_SLACK
from planner.optimize._cover_search import Reduced
from planner.optimize._highs import HighsOutcome


class Model:
    """The capacitated model of a reduced instance, as sparse blocks ready for HiGHS."""

    def __init__(self, csr: sp.csr_array, w: np.ndarray, cap: np.ndarray) -> None:
        self.csr = csr
        self.w = w
        self.cap = cap
        self.m, self.n = csr.shape
        self.nnz = int(csr.nnz)
        self.row = np.repeat(np.arange(self.m), np.diff(csr.indptr))
        self.col = csr.indices.astype(np.int64)

    @classmethod
    def build(cls, reduced: Reduced, cap: np.ndarray) -> Model:
        """Model of the reduced (merged-row) instance."""
        return cls(reduced.matrix, reduced.weights, cap)

    def blocks(self) -> list[list[Any]]:
        """Rows over ``(z, x)``: demand ``sum_j z_ij <= w_i``, capacity ``sum_i z_ij - cap_j x_j
        <= 0`` and strong links ``z_ij - min(w_i, cap_j) x_j <= 0``, as sparse blocks."""
        m, n, nnz = self.m, self.n, self.nnz
        e = np.arange(nnz)
        demand = sp.csr_array((np.ones(nnz), (self.row, e)), shape=(m, nnz))
        cap_z = sp.csr_array((np.ones(nnz), (self.col, e)), shape=(n, nnz))
        cap_x = sp.diags_array(-self.cap, format="csr")
        link_z = sp.eye_array(nnz, format="csr")
        link_x = sp.csr_array(
            (-np.minimum(self.w[self.row], self.cap[self.col]), (e, self.col)), shape=(nnz, n)
        )
        return [[demand, None], [cap_z, cap_x], [link_z, link_x]]

    def solve(
        self,
        *,
        p: int | None,
        need: float | None,
        max_sites: int | None,
        integer: bool,
        time_limit_s: float | None,
        seed: int,
        iterations: int | None = None,
        options: dict[str, float | int | str] | None = None,
    ) -> HighsOutcome:
        """Solve max coverage (``p``) or set cover (``need``), an LP within ``iterations``;
        ``options``: further HiGHS options (e.g. ``mip_max_nodes``)."""
        m, n, nnz = self.m, self.n, self.nnz
        blocks = self.blocks()
        lower = [np.full(m, -np.inf), np.full(n, -np.inf), np.full(nnz, -np.inf)]
        upper = [self.w, np.zeros(n), np.zeros(nnz)]
        if p is not None:
            blocks.append([None, sp.csr_array(np.ones((1, n)))])
            lower.append(np.array([float(p)]))
            upper.append(np.array([float(p)]))
            cost = np.concatenate([np.ones(nnz), np.zeros(n)])
        else:
            assert need is not None
            # per unit of the target: HiGHS's absolute tolerances become relative to it
            blocks.append([sp.csr_array(np.full((1, nnz), 1.0 / need)), None])
            lower.append(np.array([1.0 - SHARE_SLACK]))
            upper.append(np.array([np.inf]))
            if max_sites is not None:
                blocks.append([None, sp.csr_array(np.ones((1, n)))])
                lower.append(np.array([-np.inf]))
                upper.append(np.array([float(max_sites)]))
            cost = np.concatenate([np.zeros(nnz), np.ones(n)])
        a = sp.csc_array(sp.bmat(blocks, format="csc"))
        x_lower, x_upper = np.zeros(n), np.ones(n)
        return _highs.solve(
            a,
            cost=cost,
            col_lower=np.concatenate([np.zeros(nnz), x_lower]),
            col_upper=np.concatenate([np.full(nnz, np.inf), x_upper]),
            row_lower=np.concatenate(lower),
            row_upper=np.concatenate(upper),
            integer=np.concatenate([np.zeros(nnz, bool), np.ones(n, bool)]) if integer else None,
            maximize=p is not None,
            time_limit_s=time_limit_s,
            seed=seed,
            iterations=iterations,
            options=options,
        )

    def served(self, sites: np.ndarray, *, seed: int) -> float:
        """Weight the best assignment to ``sites`` serves (:meth:`assign`); ``0`` when it
        returns none."""
        z = self.assign(sites, seed=seed) if np.asarray(sites).size else None
        return float(z.sum()) if z is not None else 0.0

    def assign(
        self, sites: np.ndarray, *, seed: int, time_limit_s: float | None = None
    ) -> np.ndarray | None:
        """Best assignment amounts (per entry) for a fixed set of open sites.

        A max-flow LP over the entries of the open sites only: ``max sum z`` s.t. each row
        serves at most its weight and each site at most its capacity. ``None`` when HiGHS
        returns no solution (time limit).
        """
        is_open = np.zeros(self.n, dtype=bool)
        is_open[sites] = True
        z = np.zeros(self.nnz)
        e = np.flatnonzero(is_open[self.col])
        if e.size == 0:
            return z
        rows, row_of = np.unique(self.row[e], return_inverse=True)
        cols, col_of = np.unique(self.col[e], return_inverse=True)
        k = np.arange(e.size)
        a = sp.vstack(
            [
                sp.csr_array((np.ones(e.size), (row_of, k)), shape=(rows.size, e.size)),
                sp.csr_array((np.ones(e.size), (col_of, k)), shape=(cols.size, e.size)),
            ],
            format="csc",
        )
        outcome = _highs.solve(
            sp.csc_array(a),
            cost=np.ones(e.size),
            col_lower=np.zeros(e.size),
            col_upper=np.minimum(self.w[self.row[e]], self.cap[self.col[e]]),
            row_lower=np.full(rows.size + cols.size, -np.inf),
            row_upper=np.concatenate([self.w[rows], self.cap[cols]]),
            integer=None,
            maximize=True,
            time_limit_s=time_limit_s,
            seed=seed,
        )
        if outcome.x is None:
            return None
        z[e] = np.clip(outcome.x, 0.0, None)
        return z

    def sites(self, outcome: HighsOutcome) -> np.ndarray:
        """Open sites of a solution."""
        assert outcome.x is not None
        return np.flatnonzero(outcome.x[self.nnz :] > 0.5).astype(np.int64)


def within_limits(model: Model, z: np.ndarray) -> np.ndarray:
    """Amounts ``z`` scaled down where an engine's tolerance put a row above its weight or a
    site above its capacity, so that the assignment returned never breaks either."""
    z = np.clip(z, 0.0, None)
    for group, limit, size in ((model.col, model.cap, model.n), (model.row, model.w, model.m)):
        total = np.bincount(group, weights=z, minlength=size)
        over = total > limit
        if over.any():
            factor = np.ones(size)
            factor[over] = limit[over] / total[over]
            z = z * factor[group]
    return z


def spread(
    matrix: sp.csr_array, w: np.ndarray, reduced: Reduced, model: Model, z: np.ndarray
) -> sp.csr_array:
    """Split each merged row's amounts over its original rows in proportion to their weights."""
    merged = sp.csr_array((z, (model.row, model.col)), shape=(model.m, model.n))
    keep = np.flatnonzero(reduced.rows >= 0)
    group = reduced.rows[keep]
    share = w[keep] / reduced.weights[group]
    rows = sp.coo_array(sp.diags_array(share) @ sp.csr_array(merged[group]))
    result = sp.coo_array((rows.data, (keep[rows.row], rows.col)), shape=matrix.shape).tocsr()
    result.eliminate_zeros()
    return sp.csr_array(result)
