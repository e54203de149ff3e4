"""``planner sweep``: four US national scenarios on a 2-worker local Dask cluster, checked
against four serial :func:`planner.plan_national` runs; the frontier's dominance."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

import planner
from planner.app.cli import main
from planner.app.export import write_plan
from planner.app.frontier import dominated
from planner.app.sweep import parse_grid
from planner.core.errors import InputError

# Cheap national plans (a few seconds each once the ground is built): 10k and 20k ports.
GRID = {"target_ports": [10_000, 20_000], "spacing_mi": [50, 70]}


def test_sweep_matches_serial_plans(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    grid = [f"{k}={','.join(map(str, v))}" for k, v in GRID.items()]
    argv = ["sweep", "--country", "us", "--grid", *grid, "--out", str(out), "--workers", "2"]
    assert main([*argv, "-q"]) == 0
    with open(out / "sweep.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["scenario"] for r in rows] == ["s01", "s02", "s03", "s04"]
    combos = list(itertools.product(*GRID.values()))
    for row, (ports, spacing) in zip(rows, combos, strict=True):
        assert (int(row["target_ports"]), int(row["spacing_mi"])) == (ports, spacing)
        plan = planner.plan_national("us", target_ports=ports, spacing_mi=spacing, seed=0)
        sites, corridors = plan.sites, plan.corridors
        assert row["status"] == "ok"
        assert int(row["ports"]) == int(sites["ports"].sum()) == ports
        assert int(row["sites"]) == len(sites)
        assert float(row["capex_usd"]) == pytest.approx(float(sites["capex_usd"].sum()))
        assert int(row["corridors_compliant"]) == int(corridors["compliant"].sum())
        assert float(row["corridor_compliance"]) == pytest.approx(corridors["compliant"].mean())
        assert (corridors["max_gap_mi"] <= spacing + 1e-6).all()
        serial = tmp_path / f"serial_{row['scenario']}"
        serial.mkdir()
        write_plan(plan.core, serial)
        folder = out / "scenarios" / row["scenario"]
        assert (folder / "sites.geojson").read_bytes() == (serial / "sites.geojson").read_bytes()
        assert (folder / "map.html").is_file()
    # more ports at the same spacing cover more people; the frontier is drawn and linked
    share = {
        (int(r["target_ports"]), int(r["spacing_mi"])): float(r["covered_share"]) for r in rows
    }
    assert share[(20_000, 50)] > share[(10_000, 50)]
    assert (out / "frontier.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "frontier.html").read_text()
    assert all(f"scenarios/s0{i}/map.html" in page for i in range(1, 5))
    assert "OpenStreetMap" in page
    capsys.readouterr()
    assert main([*argv, "-q"]) == 2  # results exist: refused without --overwrite
    assert "--overwrite" in capsys.readouterr().err


def test_dominated_points() -> None:
    cost = [1.0, 2.0, 2.0, 3.0, 1.5]
    cover = [0.5, 0.7, 0.6, 0.7, 0.4]
    # (2, 0.6) is beaten by (2, 0.7); (3, 0.7) by (2, 0.7); (1.5, 0.4) by (1, 0.5)
    assert dominated(cost, cover).tolist() == [False, False, True, True, True]
    assert not dominated(np.array([1.0, 1.0]), np.array([0.5, 0.5])).any()  # ties


def test_grid_parsing_and_bad_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert parse_grid(["spacing_mi=50,70", "dc_share=0.2", "subtract_existing=true,false"]) == {
        "spacing_mi": [50, 70],
        "dc_share": [0.2],
        "subtract_existing": [True, False],
    }
    toml = tmp_path / "grid.toml"
    toml.write_text("[grid]\ntarget_ports = [300000, 500000]\n")
    assert parse_grid([str(toml)]) == {"target_ports": [300_000, 500_000]}
    with pytest.raises(InputError, match="key=v1,v2"):
        parse_grid(["spacing_mi"])
    out = str(tmp_path / "x")
    assert main(["sweep", "--country", "us", "--grid", "spacing=50", "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert "spacing" in err and "spacing_mi" in err and "\n" not in err
    assert main(["sweep", "--country", "us", "--grid", "spacing_mi=-5", "--out", out]) == 2
