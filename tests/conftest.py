"""Shared fixtures: the real data in ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder; skip when it is not beside the checkout."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED} (CI provides ../shared/data)")
    return SHARED


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bool]:
    """``planner demo`` written once per session (about a minute); maps with local assets when
    the asset cache is filled (``python -m planner.io.assets``, run by scripts/test.sh), else with
    pinned CDN links. Returns the folder and whether the maps are offline."""
    from planner.app.demo import run_demo
    from planner.core.errors import InputError
    from planner.io import assets

    try:
        assets.find_assets()  # never fetches: tests do not reach the network
        offline = True
    except InputError:
        offline = False
    out = tmp_path_factory.mktemp("demo")
    run_demo(out, offline_assets=offline, seed=0)
    return out, offline


@pytest.fixture(scope="session")
def national_us_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default US national plan (us-nevi) written by the CLI, once per test session."""
    from planner.app.cli import main

    out = tmp_path_factory.mktemp("national_us")
    assert main(["national", "--country", "us", "--out", str(out), "-q", "--overwrite"]) == 0
    return out


@pytest.fixture(scope="session")
def national_cn_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default China national plan (china-pile-swap) written by the CLI, once per session."""
    from planner.app.cli import main

    out = tmp_path_factory.mktemp("national_cn")
    argv = ["national", "--country", "cn", "--strategy", "china-pile-swap", "--out", str(out)]
    assert main([*argv, "-q", "--overwrite"]) == 0
    return out
