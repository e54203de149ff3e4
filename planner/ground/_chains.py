"""Contract the degree-2 chains of a road graph, and expand edge values back onto the chains.

A waypoint network has a node every few kilometres; most are on a chain between two junctions.
Routing on the contracted graph (junctions, chain ends and the nodes to keep) gives the same
shortest paths and the same flow on every edge of a chain, at a fraction of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class Contraction:
    """A contracted graph and the map back to the original edges.

    Attributes
    ----------
    length_m
        ``(k, k)`` CSR array of contracted edge lengths (a chain between two kept nodes; parallel
        chains keep the shortest).
    kept
        Original index of each contracted node.
    edge_u, edge_v
        Original directed edges, each walked from ``chain_a`` towards ``chain_b``.
    chain_a, chain_b
        Contracted endpoints of the chain holding each original edge.
    """

    length_m: sp.csr_array
    kept: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    chain_a: np.ndarray
    chain_b: np.ndarray


def contract(length_m: sp.csr_array, keep: np.ndarray) -> Contraction:
    """Contract every chain of degree-2 nodes not in ``keep`` (a boolean mask) into one edge."""
    graph = sp.csr_array(length_m)
    n = graph.shape[0]
    indptr, indices, data = graph.indptr, graph.indices, graph.data
    degree = np.diff(indptr)
    kept_mask = np.asarray(keep, dtype=bool) | (degree != 2)
    kept = np.flatnonzero(kept_mask)
    local = np.full(n, -1, dtype=np.int64)
    local[kept] = np.arange(kept.size)
    best: dict[tuple[int, int], float] = {}
    eu: list[int] = []
    ev: list[int] = []
    ca: list[int] = []
    cb: list[int] = []
    for a in kept.tolist():
        for k in range(indptr[a], indptr[a + 1]):
            prev, cur, total = a, int(indices[k]), float(data[k])
            path = [(a, cur)]
            while not kept_mask[cur]:
                lo, hi = indptr[cur], indptr[cur + 1]
                nxt = int(indices[lo]) if int(indices[lo]) != prev else int(indices[hi - 1])
                total += float(data[lo] if int(indices[lo]) == nxt else data[hi - 1])
                path.append((cur, nxt))
                prev, cur = cur, nxt
            key = (int(local[a]), int(local[cur]))
            if key[0] != key[1]:
                best[key] = min(total, best.get(key, np.inf))
            for u, v in path:  # each chain is found from both ends: keep its a -> b walk once
                eu.append(u)
                ev.append(v)
                ca.append(key[0])
                cb.append(key[1])
    uv = np.array(list(best), dtype=np.int64).reshape(-1, 2)
    w = np.fromiter(best.values(), float, len(best))
    small = sp.csr_array((w, (uv[:, 0], uv[:, 1])), shape=(kept.size, kept.size))
    return Contraction(
        small,
        kept,
        np.asarray(eu, dtype=np.int64),
        np.asarray(ev, dtype=np.int64),
        np.asarray(ca, dtype=np.int64),
        np.asarray(cb, dtype=np.int64),
    )


def expand(flows: sp.csr_array, contraction: Contraction, n: int) -> sp.csr_array:
    """Original ``(n, n)`` directed edge values from contracted ones: each edge of a chain walked
    from ``a`` to ``b`` carries the contracted value ``flows[a, b]``."""
    small = sp.csr_array(flows)
    c = contraction
    value = np.asarray(small[c.chain_a, c.chain_b]).ravel()
    return sp.csr_array((value, (c.edge_u, c.edge_v)), shape=(n, n))
