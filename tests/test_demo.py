"""``planner demo``: its file list, size, equity tables, and the CLI around it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.app.cli import main
from planner.app.demo import demo_files
from planner.app.equity import charging_deserts
from tests.synthetic_plans import synthetic_ground, synthetic_plan

MAX_DEMO_MB = 40.0


def listing(out: Path) -> list[str]:
    files = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    return sorted({"assets/" if f.startswith("assets/") else f for f in files})


def test_demo_writes_exactly_its_documented_files(demo_dir: tuple[Path, bool]) -> None:
    out, offline = demo_dir
    assert listing(out) == demo_files(offline_assets=offline)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name in demo_files(offline_assets=True):
        assert f"`{name}`" in readme, name
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    assert size_mb <= MAX_DEMO_MB, size_mb


def test_demo_equity_table_matches_the_sites(demo_dir: tuple[Path, bool]) -> None:
    out, _ = demo_dir
    equity = pd.read_csv(out / "us_equity.csv", keep_default_na=False, na_values=[""])
    metrics = pd.read_csv(out / "us_metrics.csv").set_index("strategy")
    for strategy, table in equity.groupby("strategy"):
        with gzip.open(out / "us" / str(strategy) / "sites.geojson.gz", "rt") as handle:
            features = json.load(handle)["features"]
        ports: dict[str, float] = {}
        for f in features:
            state = f["properties"]["state"]
            ports[state] = ports.get(state, 0) + f["properties"]["ports"]
        table = table.set_index("region")
        for region, row in table.iterrows():
            assert row["ports"] == ports.get(region, 0), region
            expected = ports.get(region, 0) / row["population"] * 1000
            assert row["ports_per_1000_people"] == pytest.approx(expected, rel=1e-9)
        national = sum(ports.values()) / table["population"].sum() * 1000
        assert metrics.loc[strategy, "ports_per_1000_people"] == pytest.approx(national, rel=1e-9)
        deserts = [metrics.loc[strategy, f"desert_beyond_{d}km"] for d in (10, 25, 50)]
        assert deserts[0] >= deserts[1] >= deserts[2] >= 0


def test_charging_deserts_match_brute_force_distances() -> None:
    ground = synthetic_ground(scale="national", n_nodes=3_000, n_demand=2_000, seed=3)
    plan = synthetic_plan(ground, n_sites=60, seed=4)
    dc = plan.sites[plan.sites["dc_ports"] > 0]
    dx = ground.demand.x_m[:, None] - dc["x_m"].to_numpy()[None, :]
    dy = ground.demand.y_m[:, None] - dc["y_m"].to_numpy()[None, :]
    nearest_km = np.sqrt(dx**2 + dy**2).min(axis=1) / 1000
    got = charging_deserts(plan)
    total = ground.demand.demand.sum()
    for band in (10, 25, 50):
        beyond = ground.demand.demand[nearest_km > band].sum()
        assert got[f"desert_beyond_{band}km"] == pytest.approx(beyond)
        assert got[f"desert_share_beyond_{band}km"] == pytest.approx(beyond / total)
    assert got["desert_beyond_10km"] > 0  # the bands are exercised, not all empty


def test_demo_refuses_earlier_results_without_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "us_compare.html").write_text("earlier", encoding="utf-8")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "us_compare.html").read_text(encoding="utf-8") == "earlier"


def test_demo_help_and_strategies_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--overwrite" in text and "comparison map" in text
    assert main(["strategies"]) == 0
    listing_text = capsys.readouterr().out
    assert "(no cost model) (no cost model)" not in listing_text
    assert "grid-baseline" in listing_text
