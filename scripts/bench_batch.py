"""Benchmark ``planner batch`` and ``planner sweep``: serial vs 2 Dask workers, as JSON.

Goal (issue 19): on a 2-core machine, the shared US and Chinese extracts (7 cities) plan at
least 1.5x faster on 2 single-threaded Dask worker processes than one after another; a sweep of
12 US national scenarios is timed the same way.

Every figure is a whole command in a fresh interpreter, timed from its launch to its exit, as a
user experiences it: imports, the cluster's start and stop, the collection files are all in it.

- ``batch``: ``planner batch --scheduler synchronous`` (serial: the very task function the
  workers run, one city after another in one process) against ``planner batch --workers 2``;
  ``--workers 1`` (Dask's own scaling: the same start-up, one core); and ``planner plan`` once
  per city, one after another (what a user runs without ``batch``).
- ``sweep``: ``planner sweep --scheduler synchronous`` against ``--workers 2``.

Each run reports the CPU seconds and peak resident memory of each of its processes (sampled
every 0.1 s: the command's process, the forkserver the workers are forked from, each worker;
a forked worker's RSS counts the pages it still shares with the forkserver; CPU seconds are
inflated far less than wall time by a loaded machine), the steps the command logs with ``-v``
(inputs checked, cluster ready, tasks done, cluster closed, collection written), each task's
seconds (from ``cities.csv`` / ``sweep.csv``), and whether the serial and Dask outputs are
byte-identical.

Run: ``python scripts/bench_batch.py [--parts batch|sweep] [--json out.json]`` (~4 min idle).
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from _bench import SHARED

CITY_ARGS = ["--sites", "25", "--radius-km", "3", "--seed", "0"]
SWEEP_GRID = ["target_ports=100000,300000,500000", "spacing_mi=30,50", "dc_share=0.15,0.3"]
BROKEN = "bad_missing_nodes"
GOAL = 1.5


def _role(proc: psutil.Process, main_pid: int, server: set[int]) -> str:
    """``main``, ``forkserver``, ``worker`` or ``other`` (Dask's resource tracker)."""
    if proc.pid == main_pid:
        return "main"
    cmdline = " ".join(proc.cmdline())
    if proc.ppid() in server or "spawn_main" in cmdline:
        return "worker"
    if "multiprocessing.forkserver" in cmdline:
        server.add(proc.pid)
        return "forkserver"
    return "other"


def _sample_tree(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Peak resident memory (MB) and CPU seconds of every process of ``proc``'s tree, by role,
    sampled every 0.1 s until it exits (a forked worker is not reaped by the command, so
    ``RUSAGE_CHILDREN`` would miss it; a sample misses at most a process's last 0.1 s)."""
    seen: dict[int, tuple[str, float, float]] = {}
    server: set[int] = set()
    main = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in tree:
            try:
                rss = p.memory_info().rss / 2**20
                times = p.cpu_times()
                role = seen[p.pid][0] if p.pid in seen else _role(p, proc.pid, server)
            except psutil.Error:
                continue
            peak = max(rss, seen[p.pid][1]) if p.pid in seen else rss
            seen[p.pid] = (role, peak, times.user + times.system)
        time.sleep(0.1)
    rss_by_role: dict[str, list[float]] = {}
    cpu_by_role: dict[str, list[float]] = {}
    for role, rss, cpu in seen.values():
        rss_by_role.setdefault(role, []).append(round(rss, 1))
        cpu_by_role.setdefault(role, []).append(round(cpu, 1))
    return {
        "peak_rss_mb": {role: sorted(v, reverse=True) for role, v in rss_by_role.items()},
        "cpu_s_by_process": {role: sorted(v, reverse=True) for role, v in cpu_by_role.items()},
    }


#: The durations the commands log with ``-v`` (``planner.app._dask.run_tasks``, ``cli_batch``).
_STEP = re.compile(r"^INFO planner\.\S+: (.+?) in ([\d.]+) s$", re.MULTILINE)


def run_command(args: list[str]) -> dict[str, Any]:
    """``python -m planner ARGS -v`` in a fresh interpreter: wall, CPU, memory, logged steps."""
    with tempfile.TemporaryFile(mode="w+") as errors:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "planner", *args, "-v"],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            text=True,
        )
        tree = _sample_tree(proc)
        proc.wait()
        wall = time.perf_counter() - t0
        errors.seek(0)
        stderr = errors.read()
    steps = {step: float(seconds) for step, seconds in _STEP.findall(stderr)}
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(sum(sum(v) for v in tree["cpu_s_by_process"].values()), 1),
        "exit_status": proc.returncode,
        **tree,
        "steps_s": steps,
        "stderr": stderr.strip()[-400:] if proc.returncode else "",
    }


def _seconds(table: Path, key: str, column: str = "seconds") -> dict[str, float]:
    with open(table, newline="", encoding="utf-8") as handle:
        return {row[key]: float(row.get(column) or 0) for row in csv.DictReader(handle)}


def schedule_bound(task_s: dict[str, float], workers: int = 2) -> dict[str, Any]:
    """The shortest time ``workers`` can end independent tasks of these durations in: no
    schedule beats the longest task (its critical path) nor the total shared evenly."""
    total, longest = sum(task_s.values()), max(task_s.values(), default=0.0)
    bound = max(longest, total / workers)
    return {
        "total_s": round(total, 2),
        "longest_s": round(longest, 2),
        "longest_task": max(task_s, key=task_s.__getitem__) if task_s else "",
        "bound_s": round(bound, 2),
        "best_task_speedup": round(total / bound, 2) if bound else None,
    }


def _same_files(a: Path, b: Path, pattern: str) -> bool:
    left = sorted(p.relative_to(a) for p in a.glob(pattern))
    right = sorted(p.relative_to(b) for p in b.glob(pattern))
    return (
        bool(left) and left == right and all(filecmp.cmp(a / p, b / p, shallow=False) for p in left)
    )


def _serial_and_dask(command: list[str], tmp: Path, table: str, key: str) -> dict[str, Any]:
    """``command`` with ``--scheduler synchronous`` and with ``--workers 2``, compared."""
    runs: dict[str, Any] = {}
    for mode, option in (("serial", ["--scheduler", "synchronous"]), ("dask", ["--workers", "2"])):
        runs[mode] = run_command([*command, *option, "--out", str(tmp / mode)])
        runs[mode]["per_task_s"] = _seconds(tmp / mode / table, key)
        if key == "city":
            runs[mode]["per_task_cpu_s"] = _seconds(tmp / mode / table, key, "cpu_seconds")
    # from the serial run's task times: how far 2 workers could go with one task per city
    runs["schedule_bound"] = {
        "from_wall_s": schedule_bound(runs["serial"]["per_task_s"]),
        **(
            {"from_cpu_s": schedule_bound(runs["serial"]["per_task_cpu_s"])}
            if "per_task_cpu_s" in runs["serial"]
            else {}
        ),
    }
    products = "scenarios/*/sites.geojson" if key == "scenario" else "*/sites.geojson"
    return {
        "tasks": len(runs["serial"]["per_task_s"]),
        **runs,
        "speedup": round(runs["serial"]["wall_s"] / runs["dask"]["wall_s"], 2),
        "identical_outputs": _same_files(tmp / "serial", tmp / "dask", products),
    }


def bench_batch(tmp: Path, *, plan_per_city: bool = True) -> dict[str, Any]:
    """The 7 shared extracts: serial, 2 workers, and ``planner plan`` per city."""
    extracts = tmp / "osm"
    extracts.mkdir(parents=True)
    for path in sorted((SHARED / "osm").iterdir()):
        if not path.name.startswith(BROKEN):
            (extracts / path.name).symlink_to(path)
    result = _serial_and_dask(
        ["batch", "--osm-dir", str(extracts), *CITY_ARGS], tmp, "cities.csv", "city"
    )
    # Dask's own scaling: the same cluster machinery with one worker (one core) against two
    one = run_command(
        [
            "batch",
            "--osm-dir",
            str(extracts),
            *CITY_ARGS,
            "--workers",
            "1",
            "--out",
            str(tmp / "one"),
        ]
    )
    result["dask_1_worker"] = one
    result["speedup_vs_1_worker"] = round(one["wall_s"] / result["dask"]["wall_s"], 2)
    if not plan_per_city:
        return result
    per_city: dict[str, Any] = {"wall_s": 0.0, "cpu_s": 0.0, "exit_status": 0}
    for path in sorted(extracts.iterdir()):
        city = path.name.split(".")[0]
        one = run_command(["plan", "--osm", str(path), *CITY_ARGS, "--out", str(tmp / city)])
        for name in ("wall_s", "cpu_s"):
            per_city[name] = round(per_city[name] + one[name], 2)
        per_city["exit_status"] = max(per_city["exit_status"], one["exit_status"])
    result["plan_per_city"] = per_city
    result["speedup_vs_plan_per_city"] = round(per_city["wall_s"] / result["dask"]["wall_s"], 2)
    return result


def bench_sweep(tmp: Path) -> dict[str, Any]:
    """12 US national scenarios: serial and 2 workers."""
    command = ["sweep", "--country", "us", "--grid", *SWEEP_GRID]
    return _serial_and_dask(command, tmp, "sweep.csv", "scenario")


def _headline(part: str, figures: dict[str, Any]) -> dict[str, Any]:
    """The top-level figures of a part (``sweep_`` before the sweep's names)."""
    prefix = "" if part == "batch" else f"{part}_"
    head = {
        f"{prefix}serial_s": figures["serial"]["wall_s"],
        f"{prefix}dask_s": figures["dask"]["wall_s"],
        f"{prefix}speedup": figures["speedup"],
        f"{prefix}peak_rss_mb_per_worker": figures["dask"]["peak_rss_mb"].get("worker", []),
    }
    if part == "batch":
        head.update(goal_speedup=GOAL, meets_goal=figures["speedup"] >= GOAL)
    if part == "batch":
        head.update(
            dask_1_worker_s=figures["dask_1_worker"]["wall_s"],
            speedup_vs_1_worker=figures["speedup_vs_1_worker"],
        )
    if part == "batch" and "plan_per_city" in figures:
        head.update(
            plan_per_city_s=figures["plan_per_city"]["wall_s"],
            speedup_vs_plan_per_city=figures["speedup_vs_plan_per_city"],
            meets_goal_vs_plan_per_city=figures["speedup_vs_plan_per_city"] >= GOAL,
        )
    return head


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    parser.add_argument(
        "--parts", choices=("all", "batch", "sweep"), default="all", help="what to measure"
    )
    parser.add_argument(
        "--no-plan-per-city",
        action="store_true",
        help="batch: skip the 7 'planner plan' runs (serial and Dask only)",
    )
    args = parser.parse_args()
    if not (SHARED / "osm").is_dir():
        print(json.dumps({"error": f"{SHARED / 'osm'} not found"}))
        return 1
    result: dict[str, Any] = {
        "workers": 2,
        "threads_per_worker": 1,
        "cores": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for part in ("batch", "sweep"):
            if args.parts in ("all", part):
                where = Path(tmp) / part
                result[part] = (
                    bench_batch(where, plan_per_city=not args.no_plan_per_city)
                    if part == "batch"
                    else bench_sweep(where)
                )
                result.update(_headline(part, result[part]))
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
