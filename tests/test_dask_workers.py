"""The local cluster's workers start warm and single-threaded; ``--scheduler synchronous``
plans in the calling process, like ``planner plan``."""

from __future__ import annotations

import csv
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from planner.app import _dask
from planner.app.cli import main

pytest.importorskip("distributed")


#: Modules a warm worker has (the planning stack, the candidates' k-means) and has not (osmnx).
WARM_PROBE = ("planner.app.api", "planner.app.maps", "sklearn.cluster", "osmnx")


def test_local_workers_are_forked_warm_and_single_threaded() -> None:
    if not _dask.start_forkserver():
        pytest.skip("no forkserver start method on this platform")

    def probe() -> dict[str, Any]:  # runs in the worker (pickled by value: a local function)
        import os

        import psutil
        from threadpoolctl import threadpool_info

        from planner.io import places

        tasks = Path(f"/proc/{os.getppid()}/task")
        return {
            "parent": " ".join(psutil.Process(os.getppid()).cmdline()),
            "parent_threads": [(t / "comm").read_text().strip() for t in tasks.iterdir()]
            if tasks.is_dir()  # Linux
            else None,
            "modules": sorted(set(WARM_PROBE) & set(sys.modules)),
            "geonames_files_read": places._geonames_rows.cache_info().currsize,
            "blas_threads": {i["internal_api"]: i["num_threads"] for i in threadpool_info()},
            "hash_seed": os.environ.get("PYTHONHASHSEED"),
        }

    with _dask.dask_client(None, n_workers=1) as client:
        (seen,) = client.run(probe).values()
    assert "multiprocessing.forkserver" in seen["parent"]  # forked, not spawned
    # fork safety: the forkserver runs no thread but its main one and jemalloc's (pyarrow's
    # allocator, which handles fork), so no solver or BLAS pool is copied mid-work
    if seen["parent_threads"] is not None:
        assert len([n for n in seen["parent_threads"] if n != "jemalloc_bg_thd"]) == 1
    assert seen["modules"] == [
        "planner.app.api",
        "planner.app.maps",
        "sklearn.cluster",
    ]  # imported before any task; osmnx (online downloads only) is not
    assert seen["geonames_files_read"] == 1
    assert seen["blas_threads"] and set(seen["blas_threads"].values()) == {1}
    assert seen["hash_seed"] == "6640"  # as Dask's nanny gives a spawned worker


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="pinning needs Linux and two cores",
)
def test_local_workers_have_a_core_each_and_plan_on_one_thread() -> None:
    def probe() -> dict[str, Any]:  # runs in a task, on the worker's task thread
        import os

        from planner.optimize._validate import Problems, as_threads

        return {
            "task_thread": sorted(os.sched_getaffinity(0)),
            "all_threads": {
                tuple(sorted(os.sched_getaffinity(int(t)))) for t in os.listdir("/proc/self/task")
            },
            "solver_threads": as_threads(None, Problems()),
        }

    cores = sorted(os.sched_getaffinity(0))
    with _dask.dask_client(None, n_workers=2) as client:
        addresses = sorted(client.scheduler_info(n_workers=-1)["workers"])
        seen = [client.submit(probe, workers=[a], pure=False).result() for a in addresses]
    # worker i of 2 gets cores i, i + 2, ...: a core of its own on two cores
    assert [s["task_thread"] for s in seen] == [cores[0::2], cores[1::2]]
    assert all(s["all_threads"] == {tuple(s["task_thread"])} for s in seen)
    assert [s["solver_threads"] for s in seen] == [len(cores[0::2]), len(cores[1::2])]
    assert sorted(os.sched_getaffinity(0)) == cores  # this process is left as it was
    with _dask.dask_client(None, n_workers=1) as client:  # one worker: every core
        (alone,) = client.run(probe).values()
    assert alone["task_thread"] == cores


def test_synchronous_batch_plans_in_process_like_plan(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extracts = tmp_path / "extracts"
    extracts.mkdir()
    for name in ("us_west_oakland.osm.bz2", "bad_missing_nodes.osm"):
        shutil.copy(shared_data / "osm" / name, extracts / name)
    out, serial = tmp_path / "batch", tmp_path / "plan"
    argv = ["batch", "--osm-dir", str(extracts), "--sites", "3", "--out", str(out), "-q"]
    assert main([*argv, "--scheduler", "synchronous"]) == 3  # the broken file failed
    with open(out / "cities.csv", newline="") as handle:
        rows = {row["city"]: row for row in csv.DictReader(handle)}
    assert rows["bad_missing_nodes"]["status"] == "failed"
    assert "missing" in rows["bad_missing_nodes"]["error"]
    assert rows["us_west_oakland"]["status"] == "planned"
    plan = ["plan", "--osm", str(extracts / "us_west_oakland.osm.bz2"), "--sites", "3"]
    assert main([*plan, "--out", str(serial), "-q"]) == 0
    name = "sites.geojson"
    assert (out / "us_west_oakland" / name).read_bytes() == (serial / name).read_bytes()
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "starts"),
    [
        (["batch", "--osm-dir", "d", "--out", "o"], True),
        (["sweep", "-v", "--country", "us"], True),
        (["-v", "batch", "--osm-dir", "d"], True),
        (["batch", "--scheduler", "synchronous", "--osm-dir", "d"], False),
        (["batch", "--scheduler=tcp://h:8786", "--osm-dir", "d"], False),
        (["batch", "--help"], False),
        (["plan", "--osm", "batch"], False),
        ([], False),
    ],
)
def test_cli_starts_the_forkserver_first_only_for_a_local_cluster(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], starts: bool
) -> None:
    from planner.app import cli

    calls: list[bool] = []
    monkeypatch.setattr(_dask, "start_forkserver", lambda: calls.append(True) or True)
    cli._warm_cluster_first(argv)
    assert calls == ([True] if starts else [])
