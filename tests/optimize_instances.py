"""Benchmark instances: readers for published location problems and seeded synthetic layouts.

* :func:`read_orlib_pmed` — Beasley's OR-Library p-median graphs (``pmed1``-``pmed40``);
* :func:`read_orlib_pmedcap` — the OR-Library capacitated p-median instances of Osman and
  Christofides (``pmedcap1.txt``: 20 instances);
* :func:`read_spopt_sf` — the San Francisco instance of PySAL spopt's test suite;
* :func:`clustered_layout` — a seeded clustered layout of demand and candidate points (a metro
  area or a national one) with lognormal weights, for coverage benchmarks.

The data files are not shipped with planner; pass the folder that holds them.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from planner.core.errors import DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class PMedInstance:
    """An OR-Library p-median instance: all-pairs shortest-path ``cost`` (n x n) and ``p``."""

    name: str
    cost: np.ndarray
    p: int


@dataclass(frozen=True, eq=False)
class SFInstance:
    """spopt's San Francisco instance: 205 census tracts x 16 candidate stores.

    ``cost`` holds network distances in metres (tracts x stores), ``population`` the tracts'
    POP2000, ``tracts`` and ``stores`` the row and column names.
    """

    cost: np.ndarray
    population: np.ndarray
    tracts: tuple[str, ...]
    stores: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Layout:
    """Seeded points in a projected square: ``demand_xy`` (m, 2), ``cand_xy`` (n, 2), weights."""

    demand_xy: np.ndarray
    cand_xy: np.ndarray
    weights: np.ndarray
    side_m: float


def read_orlib_pmed(path: str | Path) -> PMedInstance:
    """Read an OR-Library ``pmedN.txt`` file and compute its all-pairs shortest paths.

    The file lists ``n m p`` then ``m`` undirected edges ``i j cost`` (1-based). Some edges appear
    more than once: the **last** one listed wins (Beasley's convention; taking the cheaper one
    changes the optimum, e.g. pmed1 becomes 5718 instead of 5819).
    """
    path = Path(path)
    try:
        with path.open() as handle:
            n, _, p = (int(v) for v in handle.readline().split())
            edges = np.loadtxt(handle, dtype=np.int64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise DataError(
            f"OR-Library file {path} cannot be read ({exc}); pass a pmedN.txt"
        ) from None
    i, j = edges[:, 0] - 1, edges[:, 1] - 1
    low, high = np.minimum(i, j), np.maximum(i, j)
    key = low * n + high
    _, from_end = np.unique(key[::-1], return_index=True)
    last = key.shape[0] - 1 - from_end
    low, high, length = low[last], high[last], edges[last, 2].astype(np.float64)
    graph = sp.coo_array(
        (
            np.concatenate([length, length]),
            (np.concatenate([low, high]), np.concatenate([high, low])),
        ),
        shape=(n, n),
    ).tocsr()
    cost = csgraph.shortest_path(graph, method="D", directed=False)
    return PMedInstance(name=path.stem, cost=cost, p=p)


@dataclass(frozen=True, eq=False)
class PMedCapInstance:
    """An OR-Library capacitated p-median instance: ``cost`` (n x n, every point is a candidate),
    ``demand``, one ``capacity`` for every site, ``p`` and the ``optimum`` the file states."""

    name: str
    cost: np.ndarray
    demand: np.ndarray
    capacity: float
    p: int
    optimum: float


def read_orlib_pmedcap(path: str | Path) -> list[PMedCapInstance]:
    """Read OR-Library ``pmedcap1.txt``: its instances in file order.

    The file gives the number of instances, then per instance ``number optimum``, ``n p
    capacity`` and ``n`` lines ``index x y demand``. Costs are Euclidean distances truncated to
    integers, the convention under which the published optima hold (with exact distances
    pmedcap1's optimum is 728.26, not 713).
    """
    path = Path(path)
    try:
        tokens = path.read_text().split()
        count, at = int(tokens[0]), 1
        out = []
        for _ in range(count):
            number, optimum, n, p, capacity = tokens[at : at + 5]
            at += 5
            rows = np.asarray(tokens[at : at + 4 * int(n)], dtype=np.float64).reshape(-1, 4)
            at += 4 * int(n)
            xy = rows[:, 1:3]
            distance = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=-1))
            out.append(
                PMedCapInstance(
                    name=f"pmedcap{int(number)}",
                    cost=np.floor(distance),
                    demand=rows[:, 3],
                    capacity=float(capacity),
                    p=int(p),
                    optimum=float(optimum),
                )
            )
    except (OSError, ValueError, IndexError) as exc:
        raise DataError(
            f"OR-Library file {path} cannot be read ({exc}); pass pmedcap1.txt"
        ) from None
    return out


def read_orlib_optima(path: str | Path) -> dict[str, float]:
    """Read ``pmedopt.txt``: instance name -> optimal p-median value."""
    out: dict[str, float] = {}
    for line in Path(path).read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = float(parts[1])
    return out


def read_spopt_sf(folder: str | Path) -> SFInstance:
    """Read spopt's San Francisco instance from ``folder`` (the ``spopt_sf`` benchmark).

    Network distances come from the ``distance,name,DestinationName,demand`` table; tract
    weights are POP2000 from the demand table, matched by tract NAME (read as text, so leading
    zeros survive).
    """
    folder = Path(folder)
    dist_file = folder / "SF_network_distance_candidateStore_16_censusTract_205_new.csv"
    demand_file = folder / "SF_demand_205_centroid_uniform_weight.csv"
    try:
        with demand_file.open(newline="") as handle:
            demand = list(csv.DictReader(handle))
        with dist_file.open(newline="") as handle:
            pairs = list(csv.DictReader(handle))
    except OSError as exc:
        raise DataError(f"spopt SF instance not readable in {folder} ({exc.strerror})") from None
    tracts = tuple(row["NAME"] for row in demand)
    stores = tuple(sorted({row["name"] for row in pairs}, key=lambda s: int(s.split("_")[-1])))
    row_of = {name: k for k, name in enumerate(tracts)}
    col_of = {name: k for k, name in enumerate(stores)}
    cost = np.full((len(tracts), len(stores)), np.nan)
    for row in pairs:
        cost[row_of[row["DestinationName"]], col_of[row["name"]]] = float(row["distance"])
    if np.isnan(cost).any():
        raise DataError(f"{dist_file.name}: {int(np.isnan(cost).sum())} tract-store pairs missing")
    population = np.array([float(row["POP2000"]) for row in demand])
    return SFInstance(cost=cost, population=population, tracts=tracts, stores=stores)


def clustered_layout(
    n_demand: int,
    n_cand: int,
    *,
    side_m: float,
    n_clusters: int,
    seed: int,
    sprawl_m: tuple[float, float] = (2_000.0, 8_000.0),
    rural_share: tuple[float, float] = (0.2, 0.3),
) -> Layout:
    """A seeded clustered layout: towns of Zipf-like sizes in a square, plus scattered points.

    Town centres are uniform in the middle 70 % of the square; town sizes follow a Zipf law
    (the first town is the largest); a town's spread grows with the square root of its size
    between ``sprawl_m``. Demand points (weight lognormal, median 500, sigma 0.8, rounded) and
    candidate points are drawn from the same towns; ``rural_share`` of each is uniform over the
    square (demand, candidates).
    """
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.15 * side_m, 0.85 * side_m, size=(n_clusters, 2))
    size = 1.0 / np.arange(1, n_clusters + 1)
    size /= size.sum()
    low, high = sprawl_m
    spread = low + (high - low) * np.sqrt(size / size[0])

    def draw(count: int, rural: float) -> np.ndarray:
        n_rural = round(rural * count)
        town = rng.choice(n_clusters, size=count - n_rural, p=size)
        points = centres[town] + rng.normal(size=(count - n_rural, 2)) * spread[town, None]
        scattered = rng.uniform(0.0, side_m, size=(n_rural, 2))
        return np.clip(np.vstack([points, scattered]), 0.0, side_m)

    demand = draw(n_demand, rural_share[0])
    cand = draw(n_cand, rural_share[1])
    weights = np.round(rng.lognormal(np.log(500.0), 0.8, size=n_demand))
    return Layout(demand_xy=demand, cand_xy=cand, weights=weights, side_m=float(side_m))


def uniform_layout(n_demand: int, n_cand: int, *, side_m: float, seed: int) -> Layout:
    """A seeded uniform layout: demand and candidates uniform over a square.

    Weights are lognormal (median 500, sigma 0.8, rounded), as in :func:`clustered_layout`.
    """
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0.0, side_m, size=(n_demand, 2))
    cand = rng.uniform(0.0, side_m, size=(n_cand, 2))
    weights = np.round(rng.lognormal(np.log(500.0), 0.8, size=n_demand))
    return Layout(demand_xy=demand, cand_xy=cand, weights=weights, side_m=float(side_m))
