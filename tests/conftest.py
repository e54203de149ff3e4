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
def us_national_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``planner national --country us`` written once per test session."""
    from planner.cli import main

    out = tmp_path_factory.mktemp("us_national")
    assert main(["national", "--country", "us", "--out", str(out), "-q", "--overwrite"]) == 0
    return out


@pytest.fixture(scope="session")
def cn_national_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``planner national --country cn --strategy china-pile-swap`` written once per session."""
    from planner.cli import main

    out = tmp_path_factory.mktemp("cn_national")
    argv = ["national", "--country", "cn", "--strategy", "china-pile-swap", "--out", str(out), "-q"]
    assert main([*argv, "--overwrite"]) == 0
    return out
