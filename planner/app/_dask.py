"""The Dask client of ``planner batch`` and ``planner sweep``: an existing cluster or a local one.

Without a scheduler address a :class:`~dask.distributed.LocalCluster` sized to the machine (one
worker process per core, one thread per worker: the planners are single-threaded NumPy/SciPy
and hold the GIL) starts on loopback (its HTTP server on a free port, not 8787) and is closed
when the block ends.
"""

from __future__ import annotations

import logging
import os
import resource
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from planner.core.errors import InputError

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def dask_client(scheduler: str | None = None, *, n_workers: int | None = None) -> Iterator[Any]:
    """A ``dask.distributed.Client`` on ``scheduler``, or on a local cluster closed afterwards.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786``); ``None`` starts a local cluster.
    n_workers
        Worker processes of the local cluster (default: the machine's cores).

    Raises
    ------
    InputError
        The scheduler cannot be reached.
    """
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(
                f"--scheduler: cannot connect to {scheduler!r} ({_one_line(exc)}); give the "
                "address of a running dask scheduler, e.g. tcp://10.0.0.5:8786"
            ) from None
        with client:
            yield client
        return
    workers = n_workers or os.cpu_count() or 1
    logger.info("starting a local Dask cluster: %d worker processes", workers)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # the scheduler serves HTTP even without a dashboard; on 8787 (its default) it
            # would clash with another cluster: any free port, on loopback
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def map_tasks(
    client: Any, func: Callable[[T], R], items: Sequence[T], *, on_error: Callable[[T, str], R]
) -> list[R]:
    """``func`` of every item on the cluster, in the order of ``items``.

    A task that dies (its worker killed, an exception ``func`` let through) gives
    ``on_error(item, one-line message)`` instead of stopping the others.
    """
    from dask.distributed import as_completed

    futures = client.map(func, list(items), pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    for future in as_completed(futures):
        i = index[future.key]
        try:
            results[i] = future.result()
        except Exception as exc:
            results[i] = on_error(items[i], f"{type(exc).__name__}: {_one_line(exc)}")
        future.release()
    return results


def peak_memory_mb() -> float:
    """Peak resident memory of the calling process (MB, Linux ``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_peak_memory_mb(client: Any) -> dict[str, float]:
    """Peak resident memory of each worker process (MB), by worker address."""
    return {str(k): float(v) for k, v in client.run(peak_memory_mb).items()}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
