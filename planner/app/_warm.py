"""Warm a Dask worker process before its first task: the planning stack imported, GeoNames read.

A fresh interpreter pays ~2 CPU s the first time it plans a city (importing geopandas,
scikit-learn, folium, numba and planner: ~1.5 s; reading GeoNames: ~0.05 s from planner's cache
folder, ~1.5 s when the JSON is parsed the first time on a machine) and nothing on the next.
osmnx is not imported: only online downloads (``--places``) use it, and importing it (with
networkx and matplotlib) would add ~0.8 CPU s before any worker starts.
Importing this module pays it up front, so that:

- the local cluster of ``planner batch`` / ``planner sweep`` forks its workers from a
  forkserver that imported this module once (:func:`planner.app._dask.start_forkserver`), started
  before the command reads its inputs; every worker starts warm and the cost is paid once, not
  once per worker, and not inside the first task;
- on a cluster you run yourself, ``dask worker ... --preload planner.app._warm`` does the same in
  each worker before it takes tasks.

Importing it never raises: a failure is logged and the worker simply starts cold.
"""

from __future__ import annotations

import logging
import warnings

logger = logging.getLogger(__name__)


def warm() -> None:
    """Import the modules a city plan or a national scenario uses and read GeoNames once."""
    import numpy as np
    import pyogrio  # noqa: F401
    import scipy.sparse as sp
    import sklearn.cluster  # noqa: F401  (the candidates of a large city)

    import planner.app.api
    import planner.app.batch
    import planner.app.comparison
    import planner.app.export
    import planner.app.maps
    import planner.app.sweep
    import planner.ground.build
    import planner.strategies  # noqa: F401
    from planner.io.places import load_places
    from planner.optimize import solve_max_coverage

    # the file every city's demand reads (min_population 1000); an empty box keeps no place
    load_places(min_population=1000, bbox_lonlat=(0.0, 0.0, 0.0, 0.0))
    # a small coverage problem loads the optimizer's kernels from numba's disk cache (~1 s of
    # LLVM set-up); one thread, so that no solver thread pool is running when the forkserver
    # forks a worker from this process
    rows = np.repeat(np.arange(40), 3)
    cols = (rows // 4 + np.tile([0, 1, 2], 40)) % 12
    cover = sp.csr_array((np.ones(rows.size, dtype=bool), (rows, cols)), shape=(40, 12))
    solve_max_coverage(cover, np.linspace(1.0, 2.0, 40), 3, method="heuristic", seed=0, threads=1)


# Python 3.12+ warns at every fork of a process with several OS threads; the forkserver's only
# other thread is the idle background thread of pyarrow's jemalloc allocator (imported with
# pandas), whose fork handlers keep the allocator consistent in the child
warnings.filterwarnings(
    "ignore", message=r"This process \(pid=\d+\) is multi-threaded", category=DeprecationWarning
)
try:
    warm()
except Exception as exc:  # a cold worker still plans: never stop the process that imports us
    logger.warning("planner.app._warm: could not warm this process (%s)", exc)
