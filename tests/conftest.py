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
