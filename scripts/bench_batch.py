"""Benchmark ``planner batch`` and ``planner sweep``: serial vs 2 Dask workers, as JSON.

Goal (issue 19): on a 2-core machine, the shared US and Chinese extracts (7 cities) plan at
least 1.5x faster on 2 single-threaded Dask worker processes than one after another; a sweep of
12 US national scenarios is timed the same way. Each part runs in a fresh interpreter, which
reports its own peak memory (and, for the Dask parts, each worker's). The serial parts run the
very task functions the workers run (:func:`planner.app.batch.plan_city_job`,
:func:`planner.app.sweep.run_scenario_job`), so the difference is the parallelism alone.

Each part also reports its CPU seconds (the main process's, and each worker's), which a loaded
machine inflates far less than wall time.

Run: ``python scripts/bench_batch.py [--parts batch] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench import SHARED

CITY_OPTIONS: dict[str, Any] = {"sites": 25, "radius_km": 3.0, "seed": 0}
SWEEP_GRID = {
    "target_ports": [100_000, 300_000, 500_000],
    "spacing_mi": [30, 50],
    "dc_share": [0.15, 0.3],
}


def _city_jobs(out: Path) -> list[Any]:
    from planner.app.batch import CityJob, osm_dir_sources

    sources = osm_dir_sources(SHARED / "osm")
    sources.pop("bad_missing_nodes", None)
    return [CityJob(name, src, out / name, CITY_OPTIONS) for name, src in sources.items()]


def _cpu_s() -> float:
    """User + system CPU seconds of the calling process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _part(name: str, out: Path) -> dict[str, Any]:
    """One measured part, in this (fresh) process."""
    from planner.app._dask import dask_client, map_tasks, peak_memory_mb, worker_peak_memory_mb
    from planner.app.batch import CityResult, plan_city_job, source_size
    from planner.app.sweep import failed_row, run_scenario_job, sweep_jobs

    kind, mode = name.split("-")
    if kind == "batch":
        jobs: list[Any] = _city_jobs(out)
        func: Any = plan_city_job
        on_error: Any = lambda job, msg: CityResult(job.city, "failed", msg)  # noqa: E731
    else:
        jobs = sweep_jobs("us", "us-nevi", SWEEP_GRID, out)
        func, on_error = run_scenario_job, failed_row
    t0 = time.perf_counter()
    workers: dict[str, float] = {}
    worker_cpu: dict[str, float] = {}
    if mode == "serial":
        results = [func(job) for job in jobs]
    else:
        with dask_client(None, n_workers=2) as client:
            if kind == "batch":  # the order run_batch submits in: largest extract first
                jobs.sort(key=lambda job: -source_size(job.source))
            results = map_tasks(client, func, jobs, on_error=on_error)
            workers = worker_peak_memory_mb(client)
            worker_cpu = client.run(_cpu_s)
    wall = time.perf_counter() - t0
    failed = [r for r in results if (getattr(r, "status", None) or r.get("status")) == "failed"]
    return {
        "part": name,
        "tasks": len(jobs),
        "failed": len(failed),
        "wall_s": round(wall, 2),
        "peak_rss_mb_main": round(peak_memory_mb(), 1),
        "peak_rss_mb_per_worker": {k: round(v, 1) for k, v in workers.items()},
        "cpu_s_main": round(_cpu_s(), 1),
        "cpu_s_per_worker": {k: round(v, 1) for k, v in worker_cpu.items()},
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "per_task_s": {
            _task_name(job): getattr(r, "seconds", None) or r.get("seconds")
            for job, r in zip(jobs, results, strict=True)
        },
    }


def _task_name(job: Any) -> str:
    return str(getattr(job, "city", None) or getattr(job, "scenario", None) or job)


def _run_part(name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, "--part", name, "--out", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        return {"part": name, "error": proc.stderr.strip()[-800:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    parser.add_argument(
        "--parts", choices=("all", "batch", "sweep"), default="all", help="what to measure"
    )
    args = parser.parse_args()
    if args.part:
        print(json.dumps(_part(args.part, args.out)))
        return 0
    if not (SHARED / "osm").is_dir():
        print(json.dumps({"error": f"{SHARED / 'osm'} not found"}))
        return 1
    kinds = ("batch", "sweep") if args.parts == "all" else (args.parts,)
    parts = {f"{k}-{m}": _run_part(f"{k}-{m}") for k in kinds for m in ("serial", "dask")}
    result: dict[str, Any] = {"parts": parts, "workers": 2, "threads_per_worker": 1}
    for kind in kinds:
        serial, dask = parts[f"{kind}-serial"], parts[f"{kind}-dask"]
        if "wall_s" in serial and "wall_s" in dask:
            result[f"{kind}_speedup"] = round(serial["wall_s"] / dask["wall_s"], 2)
    result["goal_batch_speedup"] = 1.5
    if "batch" in kinds:
        result["meets_goal"] = result.get("batch_speedup", 0) >= 1.5
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
