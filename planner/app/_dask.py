"""The Dask client of ``planner batch`` and ``planner sweep``: an existing cluster or a local one.

Without a scheduler address a :class:`~dask.distributed.LocalCluster` sized to the machine (one
worker process per core, one thread per worker: the planners are single-threaded NumPy/SciPy
and hold the GIL) starts on loopback (its HTTP server on a free port, not 8787) and is closed
when the block ends. Its worker processes are forked from a forkserver that imported
:mod:`planner.app._warm` (the planning stack, GeoNames, the optimizer's compiled kernels) once
(:func:`start_forkserver`), so every worker starts warm; on platforms without ``forkserver``
they are spawned and warm up in their first task.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from planner.core.errors import InputError

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: The ``scheduler`` that runs every task in the calling process, one after another, no cluster.
SYNCHRONOUS = "synchronous"
#: What the forkserver imports before it forks a worker: Dask, then the planning stack.
FORKSERVER_PRELOAD = ("distributed", "planner.app._warm")
#: Dask's worker settings the forkserver leaves out: ``MALLOC_TRIM_THRESHOLD_=65536`` makes
#: glibc hand every freed block over 64 KiB back to the system and map it afresh next time,
#: which slows the planners' NumPy temporaries (Columbus's plan: 8.9 -> 9.7 s serially); a
#: batch's workers live as long as the command, so memory held between tasks is no concern.
FORKSERVER_LEAVES_OUT = frozenset({"MALLOC_TRIM_THRESHOLD_"})


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
    import dask
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
    method = "forkserver" if start_forkserver() else "spawn"
    with (
        dask.config.set(
            {
                "distributed.worker.multiprocessing-method": method,
                # one task per worker thread: by default (1.1) a second city waits on a
                # busy worker, behind a long one, while another worker idles
                "distributed.scheduler.worker-saturation": 1.0,
                # tasks wait on the scheduler, not on workers: nothing to steal, and the
                # stealing pass (every 100 ms) and the workers' stack sampler (every 10 ms)
                # only take CPU from the tasks on a machine the workers already fill
                "distributed.scheduler.work-stealing": False,
                "distributed.worker.profile.enabled": False,
            }
        ),
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
        pin_workers(client)
        yield client


def pin_workers(client: Any) -> None:
    """Share the machine's cores among the workers of a local cluster (Linux; else a no-op).

    A worker runs one task at a time, so the planner inside it should use its share of the
    cores, not all of them: :func:`planner.solve_max_coverage` with ``threads=None`` runs one
    search thread per core the process may use, and on two cores it spends ~10 % more CPU for
    a shorter wall time (Columbus: 10.5 CPU s in 8.9 s against 9.7 in 9.7), time another
    worker needs when every worker is busy. Worker ``i`` of ``n`` gets cores ``i, i + n, …``
    (one core each when there are as many workers as cores or more). The answer depends on
    the seed, not on the thread count, so the outputs stay byte-identical to a serial run.
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    if len(cores) < 2 or not workers:
        return
    for i, address in enumerate(workers):
        share = cores[i :: len(workers)] or [cores[i % len(cores)]]
        client.run(_pin_process, share, workers=[address])


def _pin_process(cores: Sequence[int]) -> None:
    """Restrict every thread of this process (and the threads they start) to ``cores``."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), set(cores))
        except OSError:  # the thread ended meanwhile
            continue


def start_forkserver() -> bool:
    """Start the forkserver local clusters fork their workers from; ``False`` where there is none.

    The forkserver is a fresh single-threaded interpreter that imports :data:`FORKSERVER_PRELOAD`
    (~3 CPU s) and then forks a worker on each request, warm and at once. Call it as early as
    possible (the CLI does for ``batch`` and ``sweep`` before its own imports), so that the
    warming runs meanwhile on another core; later calls return at once. It starts with the
    environment Dask gives a worker before starting it (``distributed.nanny.pre-spawn-environ``:
    one BLAS/OpenMP thread, a fixed ``PYTHONHASHSEED``), so the numerical libraries it imports
    start single-threaded, as in a spawned worker; this process's own environment is left as it was.
    Forking is safe there: the process has no thread of its own when it forks (the warm-up
    solves on one thread), only the idle background thread of pyarrow's allocator (jemalloc,
    which handles fork) that Dask's own forkserver preload, pandas, starts too.
    """
    import multiprocessing
    from multiprocessing import forkserver

    import dask
    import distributed  # noqa: F401  (registers Dask's configuration defaults)

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(FORKSERVER_PRELOAD))
    env = {
        key: os.environ.get(key, str(value))
        for key, value in dask.config.get("distributed.nanny.pre-spawn-environ").items()
        if key not in FORKSERVER_LEAVES_OUT
    }
    if env.get("PYTHONHASHSEED") in (None, "0"):  # as Dask's nanny does for a spawned worker
        env["PYTHONHASHSEED"] = "6640"
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        forkserver.ensure_running()
    except OSError as exc:  # e.g. no room for its socket: spawned workers still work
        logger.warning("no forkserver (%s): local workers are spawned and warm up in a task", exc)
        return False
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return True


def run_tasks(
    func: Callable[[T], R],
    items: Sequence[T],
    *,
    scheduler: str | None,
    n_workers: int | None,
    on_error: Callable[[T, str], R],
) -> list[R]:
    """``func`` of every item, in the order of ``items``: on the cluster of ``scheduler`` (a
    local one for ``None``, :func:`dask_client`), or, for :data:`SYNCHRONOUS`, in this process
    one after another (the same task functions, no cluster). A failing item gives
    ``on_error(item, one-line message)``, as in :func:`map_tasks`."""
    t0 = time.perf_counter()
    results: list[R] = []
    if scheduler != SYNCHRONOUS:
        with dask_client(scheduler, n_workers=n_workers) as client:
            logger.info("cluster ready in %.2f s", time.perf_counter() - t0)
            t0 = time.perf_counter()
            results = map_tasks(client, func, items, on_error=on_error)
            logger.info("%d tasks done in %.2f s", len(items), time.perf_counter() - t0)
            t0 = time.perf_counter()
        logger.info("cluster closed in %.2f s", time.perf_counter() - t0)
        return results
    for item in items:
        try:
            results.append(func(item))
        except Exception as exc:
            results.append(on_error(item, f"{type(exc).__name__}: {_one_line(exc)}"))
    logger.info("%d tasks done in %.2f s", len(items), time.perf_counter() - t0)
    return results


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


def aside(func: Callable[..., R], *args: Any) -> Callable[[], R]:
    """Start ``func(*args)`` as a task of its own, from inside a Dask task, so that another
    worker (an idle one) computes it meanwhile; return a function that gives its result.

    Whoever starts first computes it: the other worker, when it takes the task before this task
    asks for the result (this task then waits for it), else this task itself (the aside task,
    taken later, returns at once). This task therefore never waits for a task that has not
    started: no deadlock on one worker, no waiting behind another city. The aside task goes
    before the remaining cities. Outside a Dask worker (``--scheduler synchronous``,
    ``planner plan``), or alone on the cluster, ``func`` runs in this process when asked. The
    result is ``func(*args)`` either way.
    """
    import functools
    import uuid

    try:
        from distributed import get_client, get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not in a Dask task
        return functools.partial(func, *args)
    name = f"planner-aside-{uuid.uuid4().hex}"
    try:
        client = get_client()
        others = [w for w in client.scheduler_info(n_workers=-1)["workers"] if w != worker.address]
        future = (
            client.submit(
                _claimed,
                name,
                func,
                *args,
                workers=others,
                allow_other_workers=True,
                pure=False,
                priority=1,
            )
            if others
            else None
        )
    except (OSError, TimeoutError, ValueError) as exc:  # no way to the scheduler: do it here
        logger.warning("aside: cannot submit a task (%s); computing it in this task", exc)
        future = None
    if future is None:
        return functools.partial(func, *args)

    what = getattr(func, "__name__", None) or getattr(getattr(func, "func", None), "__name__", "")

    def result() -> R:
        t0 = time.perf_counter()
        if not future.done() and _claim(name):  # not started yet: this task computes it
            future.cancel()
            logger.info("aside %s: not started by another worker, computed here", what)
            return func(*args)
        try:
            value = future.result()
        except Exception as exc:  # its worker died, say: compute it here
            logger.warning("aside %s failed (%s); computing it in this task", what, _one_line(exc))
            value = None
        waited = time.perf_counter() - t0
        logger.info("aside %s: from another worker, waited %.2f s for it", what, waited)
        return value[0] if value is not None else func(*args)

    return result


def _claimed(name: str, func: Callable[..., R], *args: Any) -> tuple[R] | None:
    """``(func(*args),)`` when this task claims ``name`` first, else ``None`` (:func:`aside`)."""
    return (func(*args),) if _claim(name) else None


def _claim(name: str) -> bool:
    """Whether this call takes the Dask lock ``name`` first; never waits. The lock is never
    released nor timed out (no refresh runs in the background): the first taker keeps it, and
    a retry of the aside task (after its worker died) returns at once."""
    import dask
    from distributed import Lock

    with dask.config.set({"distributed.scheduler.locks.lease-timeout": "inf"}):
        return bool(Lock(name).acquire(blocking=False))


def peak_memory_mb() -> float:
    """Peak resident memory of the calling process (MB, Linux ``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_peak_memory_mb(client: Any) -> dict[str, float]:
    """Peak resident memory of each worker process (MB), by worker address."""
    return {str(k): float(v) for k, v in client.run(peak_memory_mb).items()}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
