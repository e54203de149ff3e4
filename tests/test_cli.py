"""The command line: bad input gets one line on stderr, exit 2, no traceback, no loss."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from planner.app.cli import main

FOOTWAY_ONLY = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="planner-tests">
  <node id="1" lat="40.0" lon="-83.0"/>
  <node id="2" lat="40.001" lon="-83.0"/>
  <node id="3" lat="40.002" lon="-83.001"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="footway"/></way>
</osm>
"""


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def _assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--sites", "0"], "--sites"),
        (["--sites", "-3"], "--sites"),
        (["--radius-km", "-1"], "--radius-km"),
        (["--radius-km", "nan"], "--radius-km"),
        (["--strategy", "nope"], "valid strategies"),
        (["--seed", "-1"], "--seed"),
        (["--seed", str(2**32)], "--seed"),
    ],
)
def test_bad_arguments(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], needle: str
) -> None:
    osm = tmp_path / "x.osm"
    osm.write_text(FOOTWAY_ONLY)
    code, err = _run(capsys, ["plan", "--osm", str(osm), "--out", str(tmp_path / "o"), *extra])
    _assert_one_line_error(code, err, needle)


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = _run(
        capsys, ["plan", "--osm", str(tmp_path / "nope.osm.pbf"), "--out", str(tmp_path / "o")]
    )
    _assert_one_line_error(code, err, "does not exist")


def test_not_osm(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "data.osm"
    bad.write_text("name,lat,lon\nfoo,1,2\n")
    code, err = _run(capsys, ["plan", "--osm", str(bad), "--out", str(tmp_path / "o")])
    _assert_one_line_error(code, err)


def test_not_osm_pbf(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "data.osm.pbf"
    bad.write_bytes(b"\x00\x01garbage" * 50)
    code, err = _run(capsys, ["plan", "--osm", str(bad), "--out", str(tmp_path / "o")])
    _assert_one_line_error(code, err)


def test_no_drivable_road(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    osm = tmp_path / "paths.osm"
    osm.write_text(FOOTWAY_ONLY)
    code, err = _run(capsys, ["plan", "--osm", str(osm), "--out", str(tmp_path / "o")])
    _assert_one_line_error(code, err, "drivable")


def test_missing_nodes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shared_data: Path
) -> None:
    osm = shared_data / "osm" / "bad_missing_nodes.osm"
    code, err = _run(capsys, ["plan", "--osm", str(osm), "--out", str(tmp_path / "o")])
    _assert_one_line_error(code, err)
    assert not (tmp_path / "o" / "sites.geojson").exists()


def test_unwritable_out(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    osm = tmp_path / "x.osm"
    osm.write_text(FOOTWAY_ONLY)
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    code, err = _run(capsys, ["plan", "--osm", str(osm), "--out", str(blocker / "sub")])
    _assert_one_line_error(code, err, "--out")
    assert blocker.read_text() == "keep me"


def test_out_holding_results_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    osm = tmp_path / "x.osm"
    osm.write_text(FOOTWAY_ONLY)
    out = tmp_path / "o"
    out.mkdir()
    (out / "sites.geojson").write_text("precious")
    code, err = _run(capsys, ["plan", "--osm", str(osm), "--out", str(out)])
    _assert_one_line_error(code, err, "--overwrite")
    assert (out / "sites.geojson").read_text() == "precious"


def test_failed_run_leaves_no_empty_out_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    osm = tmp_path / "x.osm"
    osm.write_text(FOOTWAY_ONLY)  # no drivable road: fails after --out was prepared
    out = tmp_path / "new" / "o"
    code, err = _run(capsys, ["plan", "--osm", str(osm), "--out", str(out)])
    _assert_one_line_error(code, err, "no drivable road")
    assert not out.exists() and not out.parent.exists()  # nor the parent the run created
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    code, err = _run(capsys, ["plan", "--osm", str(osm), "--out", str(kept)])
    assert code == 2 and (kept / "notes.txt").read_text() == "mine"


def test_overwrite_removes_stale_products_only(tmp_path: Path) -> None:
    from planner.io._outdir import output_folder

    out = tmp_path / "o"
    out.mkdir()
    for name in ("sites.geojson", "corridors.geojson", "regions.csv", "notes.txt"):
        (out / name).write_text("old")
    products = ("sites.geojson", "corridors.geojson", "regions.csv")
    with output_folder(out, products=products, replaces=products, overwrite=True) as stage:
        (stage / "sites.geojson").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "sites.geojson"]
    assert (out / "sites.geojson").read_text() == "new"
    (out / "regions.csv").write_text("the run's own input")
    with output_folder(
        out, products=products, replaces=products, overwrite=True, keep=[None, out / "regions.csv"]
    ) as stage:
        (stage / "sites.geojson").write_text("newer")
    assert (out / "regions.csv").read_text() == "the run's own input"  # an input is never deleted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no lock or staging left


def test_national_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = _run(capsys, ["national", "--country", "fr", "--out", str(tmp_path / "o")])
    _assert_one_line_error(code, err, "country")
    for body, needle in [
        ("target_ports = 0\n", "target_ports"),
        ("spacing_mi = -5\n", "spacing_mi"),
        ("spacing_mi = 0\n", "spacing_mi"),
        ("no_such_key = 1\n", "no_such_key"),
        ('target_ports = "many"\n', "target_ports"),
    ]:
        scen = tmp_path / "s.toml"
        scen.write_text(body)
        code, err = _run(
            capsys,
            ["national", "--country", "us", "--scenario", str(scen), "--out", str(tmp_path / "o2")],
        )
        _assert_one_line_error(code, err, needle)


def test_compare_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    code, err = _run(
        capsys, ["compare", "--country", "us", "--strategies", "us-nevi,bogus", "--out", out]
    )
    _assert_one_line_error(code, err, "us-nevi", "china-pile-swap")
    code, err = _run(
        capsys, ["compare", "--country", "us", "--strategies", "us-nevi", "--out", out]
    )
    _assert_one_line_error(code, err, "at least two")
    code, err = _run(
        capsys,
        [
            "compare",
            "--country",
            "us",
            "--strategies",
            "us-nevi,grid-baseline",
            "--same",
            "capex",
            "--out",
            out,
        ],
    )
    _assert_one_line_error(code, err, "cost model")
    scenario = tmp_path / "nevi.toml"
    scenario.write_text("dc_share = 0.2\n")
    code, err = _run(
        capsys,
        ["compare", "--country", "us", "--scenario", f"nope={scenario}", "--out", out],
    )
    _assert_one_line_error(code, err, "'nope' is not one of --strategies")


def test_console_script_exit_status(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "planner",
            "plan",
            "--osm",
            str(tmp_path / "missing.osm"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("nev_per_public_pile = -1.0\n", "nev_per_public_pile"),
        ("dc_share = 1.5\n", "dc_share"),
        ("dc_share = -0.1\n", "dc_share"),
        ("swaps_per_day = 0\n", "swaps_per_day"),
        ("swap_capable_share = 2.0\n", "swap_capable_share"),
        ("pile_ratio = 3\n", "pile_ratio"),
    ],
)
def test_china_bad_parameters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, body: str, needle: str
) -> None:
    scen = tmp_path / "s.toml"
    scen.write_text(body)
    argv = ["national", "--country", "cn", "--strategy", "china-pile-swap", "--scenario", str(scen)]
    code, err = _run(capsys, [*argv, "--out", str(tmp_path / "o")])
    _assert_one_line_error(code, err, needle)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("ports", [0, 10**12, True])
def test_grid_baseline_ports_per_site_bounds(ports: object) -> None:
    from planner.core.errors import InputError
    from planner.strategies.grid_baseline import GridBaselineParams

    with pytest.raises(InputError, match="ports_per_site: expected a whole number from 1"):
        GridBaselineParams(ports_per_site=ports)  # type: ignore[arg-type]


def test_compare_overwrite_removes_an_earlier_strategy_folder(
    shared_data: Path, tmp_path: Path
) -> None:
    osm = str(shared_data / "osm" / "us_west_oakland.osm.bz2")
    out = tmp_path / "cmp"
    first = ["compare", "--osm", osm, "--strategies", "us-nevi,grid-baseline", "--out", str(out)]
    assert main([*first, "-q"]) == 0
    (out / "grid-baseline" / "notes.txt").write_text("mine")
    for name in ("compare.html", "report.html", "metrics.csv", "metrics.json"):
        (out / name).unlink()  # so that a run without --overwrite is allowed
    shutil.rmtree(out / "us-nevi")
    second = ["compare", "--osm", osm, "--strategies", "us-nevi,coverage", "--out", str(out)]
    assert main([*second, "-q"]) == 0
    assert (out / "grid-baseline" / "sites.geojson").exists()  # without --overwrite: kept
    assert main([*second, "-q", "--overwrite"]) == 0
    assert sorted(p.name for p in (out / "grid-baseline").iterdir()) == ["notes.txt"]
    assert (out / "coverage" / "sites.geojson").exists()


def test_a_reader_that_stops_reading_ends_the_command_quietly(tmp_path: Path) -> None:
    """``planner strategies | head -1``: no traceback, no 'internal error', SIGPIPE's status."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "planner", "strategies", "-v"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141
    assert "error" not in done.stderr.lower() and "Traceback" not in done.stderr
