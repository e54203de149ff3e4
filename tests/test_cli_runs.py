"""Trustworthy runs: ``--out`` holds exactly the earlier results or the whole new run.

Faults are injected at every write and swap step (through the private
``planner.io._atomic._fault_hook``), signals and a second run arrive during the write phase
(``tests/_fault_run.py`` pauses the run at a known step), and a real full or read-only disk is a
small tmpfs (skipped where mounting is not allowed). Each case asserts one line on stderr, the exit
status, and the folder's bytes before and after.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import planner.io._atomic as atomic
from planner.app.cli import main
from planner.io._outdir import recover_folder

HERE = Path(__file__).resolve().parent
GRID = str(HERE / "fixtures" / "grid.osm")
DRIVER = str(HERE / "_fault_run.py")
CONFIG = str(HERE / "fixtures" / "large_places.toml")  # fast: only places of 15,000+ people


def _plan_args(out: Path, *, sites: int = 3) -> list[str]:
    return [
        *("plan", "--osm", GRID, "--config", CONFIG, "--sites", str(sites)),
        *("--candidates", "40", "-q", "--out", str(out)),
    ]


def snapshot(folder: Path) -> dict[str, bytes] | None:
    """Every file under ``folder`` (relative path -> bytes), or ``None`` when it is absent."""
    if not folder.exists():
        return None
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _planner_entries(folder: Path) -> list[str]:
    """The working entries (lock, staging) a run leaves beside or inside ``--out``."""
    return sorted(p.name for p in folder.iterdir() if ".planner" in p.name)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _earlier_run(out: Path) -> dict[str, bytes]:
    """An earlier run's results in ``out`` (4 sites) plus the user's own files."""
    assert main(_plan_args(out, sites=4)) == 0
    (out / "notes.txt").write_text("mine")
    (out / "mine").mkdir()
    (out / "mine" / "data.csv").write_text("a,b\n1,2\n")
    before = snapshot(out)
    assert before is not None and "sites.geojson" in before
    return before


def _restore(out: Path, files: dict[str, bytes]) -> None:
    """Put ``out`` back to ``files`` (a run's summary and map are not byte-reproducible: the
    summary records timings, the map random element ids)."""
    shutil.rmtree(out)
    for name, data in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    assert snapshot(out) == files


@pytest.fixture
def steps() -> Iterator[Callable[[Callable[[str, Path], None]], None]]:
    """Set the fault hook for one test, and clear it afterwards."""

    def set_hook(hook: Callable[[str, Path], None]) -> None:
        atomic._fault_hook = hook

    yield set_hook
    atomic._fault_hook = None


def _failing_at(k: int, code: int) -> Callable[[str, Path], None]:
    """A fault hook raising ``OSError(code)`` for the path of the k-th step."""
    calls = 0

    def fail(step: str, path: Path) -> None:
        nonlocal calls
        calls += 1
        if calls == k:
            raise OSError(code, os.strerror(code), str(path))

    return fail


def _count_steps(
    argv: list[str], set_hook: Callable[[Callable[[str, Path], None]], None]
) -> list[str]:
    seen: list[str] = []
    set_hook(lambda step, path: seen.append(f"{step} {path}"))
    assert main(argv) == 0
    set_hook(lambda step, path: None)
    return seen


def test_failing_each_write_step_keeps_out(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    steps: Callable[[Callable[[str, Path], None]], None],
) -> None:
    """A full disk at the k-th write or move, for each k: a new --out stays absent, an
    --overwrite leaves the earlier run and the user's files byte-identical."""
    probe = tmp_path / "probe"
    new_steps = _count_steps(_plan_args(probe), steps)
    # 5 file writes (sites, corridors, summary, map, final summary) and one rename of the folder
    assert [s.split()[0] for s in new_steps] == ["write"] * 5 + ["move"]
    out = tmp_path / "old"
    before = _earlier_run(out)
    over_steps = _count_steps([*_plan_args(out), "--overwrite"], steps)
    # the same writes, then 4 earlier products moved aside and 4 new ones moved in
    assert [s.split()[0] for s in over_steps] == ["write"] * 5 + ["move"] * 8
    assert snapshot(out) != before  # the overwrite did replace the results
    _restore(out, before)
    capsys.readouterr()

    for argv, folder, count, expected in [
        (_plan_args(tmp_path / "new"), tmp_path / "new", len(new_steps), None),
        ([*_plan_args(out), "--overwrite"], out, len(over_steps), before),
    ]:
        for k in range(1, count + 1):
            steps(_failing_at(k, errno.ENOSPC))
            assert main(argv) == 2, k
            line = _one_line(capsys.readouterr().err)
            assert "no space left" in line and str(folder) in line, line
            assert snapshot(folder) == expected, f"step {k}: {new_steps[k - 1 : k]}"
            assert _planner_entries(tmp_path) == [], k


def test_kill_at_each_step_then_next_run_recovers(
    tmp_path: Path, steps: Callable[[Callable[[str, Path], None]], None]
) -> None:
    """kill -9 at every write and move step of an --overwrite: before the swap --out is untouched
    at once; in the swap, the next run into it (``recover_folder``, what every run does first)
    rolls it back. A new --out killed at any step is absent."""
    earlier = tmp_path / "earlier"
    before = _earlier_run(earlier)
    total = len(_count_steps([*_plan_args(earlier), "--overwrite"], steps))
    _restore(earlier, before)
    outs = {k: tmp_path / f"old{k}" for k in range(1, total + 1)}
    news = {k: tmp_path / f"new{k}" for k in range(1, 7)}
    for out in outs.values():
        shutil.copytree(earlier, out)
    base = [a for a in _plan_args(earlier) if a not in ("--out", str(earlier))]
    for runs, extra in [(outs, ["--overwrite"]), (news, [])]:
        spec = ",".join(f"{k}:{out}" for k, out in runs.items())
        done = subprocess.run(
            [sys.executable, DRIVER, "kill", spec, "--", *base, *extra],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [w for k in runs for w in (str(k), "killed")]
    for k, out in outs.items():
        if k <= 5:  # a file write into the staging folder
            assert snapshot(out) == before, k
        recover_folder(out)
        assert snapshot(out) == before, k
    for k, out in news.items():
        assert not out.exists(), k
        recover_folder(out)
    assert _planner_entries(tmp_path) == []
    # a stale lock file of a dead run (with its pid) is taken over
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (tmp_path / ".old1.planner.lock").write_text(dead.stdout)
    assert main([*_plan_args(outs[1]), "--overwrite"]) == 0
    assert snapshot(outs[1]) != before and _planner_entries(tmp_path) == []


def _start_paused(k: int, marker: Path, argv: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, DRIVER, str(k), str(marker), "--", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not marker.exists():  # wait for the run to reach step k
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize(
    ("sig", "status", "k"),
    [
        (signal.SIGTERM, 143, 1),  # at the first file write
        (signal.SIGINT, 130, 3),  # at a later write
        (signal.SIGTERM, 143, 7),  # in the swap, with one earlier product moved aside
        (signal.SIGINT, 130, 11),  # in the swap, with new products moved in
    ],
)
def test_signal_during_write_phase(tmp_path: Path, sig: int, status: int, k: int) -> None:
    out = tmp_path / "old"
    before = _earlier_run(out)
    marker = tmp_path / "reached"
    proc = _start_paused(k, marker, [*_plan_args(out), "--overwrite"])
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert "--out is unchanged" in _one_line(err)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old", "reached"]


def test_signal_on_a_new_out_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "new"
    proc = _start_paused(2, tmp_path / "reached", _plan_args(out))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "terminated (SIGTERM)" in _one_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reached"]  # not even deep/


def test_second_concurrent_run_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "new"
    marker = tmp_path / "reached"
    first = _start_paused(1, marker, _plan_args(out))
    lock = tmp_path / ".new.planner.lock"
    assert lock.read_text().strip() == str(first.pid)
    second = subprocess.run(
        [sys.executable, "-m", "planner", *_plan_args(out, sites=4)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 2
    line = _one_line(second.stderr)
    assert f"another planner run (pid {first.pid}) is writing to {out}" in line
    assert not out.exists()  # the first run has not swapped in yet
    marker.with_name("reached.go").write_text("")
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    summary = (out / "summary.json").read_text()
    assert '"sites": 3' in summary  # the first run's results, not the second's
    assert sorted(snapshot(out) or {}) == [
        "corridors.geojson",
        "map.html",
        "sites.geojson",
        "summary.json",
    ]
    assert not lock.exists()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (a real small disk); skipped where mounting is not allowed."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path, *, leave: int) -> None:
    """Fill ``disk`` with the user's own file, leaving about ``leave`` bytes free."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "filler.bin").write_bytes(b"\0" * max(free - leave, 0))


def test_full_disk_as_out_keeps_the_earlier_run(tmpfs: Path) -> None:
    """The issue's case: a small tmpfs as --out itself, an earlier run, then a full disk."""
    run = [sys.executable, "-m", "planner", *_plan_args(tmpfs)]
    assert subprocess.run(run, capture_output=True, check=False).returncode == 0
    _fill(tmpfs, leave=8192)  # the user's own file, leaving less than the run writes
    before = snapshot(tmpfs)
    done = subprocess.run([*run, "--overwrite"], capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    line = _one_line(done.stderr)
    assert "no space left" in line and str(tmpfs) in line, line
    assert snapshot(tmpfs) == before


def test_full_disk_new_out_is_absent(tmpfs: Path) -> None:
    _fill(tmpfs, leave=8192)
    out = tmpfs / "new"
    done = subprocess.run(
        [sys.executable, "-m", "planner", *_plan_args(out)], capture_output=True, text=True
    )
    assert done.returncode == 2 and "no space left" in _one_line(done.stderr)
    assert sorted(p.name for p in tmpfs.iterdir()) == ["filler.bin"]


def test_read_only_disk(tmpfs: Path) -> None:
    out = tmpfs / "out"
    run = [sys.executable, "-m", "planner", *_plan_args(out)]
    assert subprocess.run(run, capture_output=True, check=False).returncode == 0
    before = snapshot(out)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    done = subprocess.run([*run, "--overwrite"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert "Read-only file system" in line and str(tmpfs) in line, line
    assert snapshot(out) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    osm = tmp_path / "grid.osm"
    shutil.copy(GRID, osm)
    osm.chmod(0)
    assert main(["plan", "--osm", str(osm), "--out", str(tmp_path / "o")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--osm" in line and str(osm) in line and "Permission denied" in line
    assert not (tmp_path / "o").exists()


def test_os_error_on_an_input_names_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An EACCES while reading an input (as root, where chmod cannot cause one): one line
    naming the file, exit 2, not an internal error."""
    import planner.ground.network

    def unreadable(path: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(planner.ground.network, "load_network", unreadable)
    out = tmp_path / "o"
    assert main(_plan_args(out)) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("planner: error:") and GRID in line and "Permission denied" in line
    assert not out.exists()


def test_empty_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["plan", "--osm", GRID, "--out", ""],
        ["national", "--country", "us", "--out", " "],
        ["demo", "--out", ""],
    ):
        assert main(argv) == 2
        assert "--out" in _one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_demo_needs_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "maps"
    (out / "us_nevi").mkdir(parents=True)
    (out / "us_nevi" / "sites.geojson").write_text("an earlier demo")
    (out / "compare_us.html").write_text("an earlier comparison")
    before = snapshot(out)
    assert main(["demo", "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--overwrite" in line and "compare_us.html" in line
    assert snapshot(out) == before


@pytest.mark.parametrize("flag", ["-q", "-v", "-vv"])
def test_strategies_takes_verbosity(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    from planner.strategies import strategy_names

    assert main(["strategies", flag]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(strategy_names())


def test_compare_overwrite_fails_in_the_swap_keeps_out(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    steps: Callable[[Callable[[str, Path], None]], None],
) -> None:
    """Compare writes strategy subfolders: a failure at the first and last move aside and at the
    first and last move in restores the earlier subfolders and removes the new ones."""
    out = tmp_path / "cmp"
    ground = ["--osm", GRID, "--config", CONFIG, "--candidates", "40", "-q", "--out", str(out)]
    assert main(["compare", "--strategies", "coverage,grid-baseline", *ground]) == 0
    (out / "grid-baseline" / "notes.txt").write_text("mine")
    before = snapshot(out)
    argv = ["compare", "--strategies", "coverage,us-nevi", *ground, "--overwrite"]
    seen = _count_steps(argv, steps)
    assert before is not None
    moved = [(i, Path(s.split(" ", 1)[1])) for i, s in enumerate(seen, 1) if s[:4] == "move"]
    aside = [i for i, p in moved if str(p.relative_to(out)) in before]
    new = [i for i, p in moved if i not in aside]
    assert "us-nevi/sites.geojson" in {str(p.relative_to(out)) for _, p in moved}
    after = snapshot(out)
    assert after is not None and "us-nevi/sites.geojson" in after
    assert "grid-baseline/sites.geojson" not in after and "grid-baseline/notes.txt" in after
    _restore(out, before)
    capsys.readouterr()
    for k in (aside[0], aside[-1], new[0], new[-1]):
        steps(_failing_at(k, errno.EIO))
        assert main(argv) == 2, k
        assert str(out) in _one_line(capsys.readouterr().err)
        assert snapshot(out) == before, k
        assert _planner_entries(tmp_path) == [], k
