"""``--format``: a plan's tables as GeoPackage and GeoParquet equal the GeoJSON of a default run."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from planner.app.cli import main

GRID = str(Path(__file__).parent / "fixtures" / "grid.osm")


def _sorted(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


def _assert_same(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame, key: str, what: str) -> None:
    """Same rows, properties, geometry and CRS (GDAL reads GeoJSON integers as int32)."""
    assert got.crs is not None and got.crs.to_epsg() == 4326, what
    assert list(got.columns) == list(want.columns), what
    got, want = _sorted(got, key), _sorted(want, key)
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")),
        pd.DataFrame(want.drop(columns="geometry")),
        check_dtype=False,
    )
    assert got.geometry.geom_equals_exact(want.geometry, tolerance=0).all(), what


@pytest.fixture(scope="module")
def cn_formats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cn_formats")
    argv = ["national", "--country", "cn", "--strategy", "china-pile-swap", "--out", str(out)]
    assert main([*argv, "--format", "gpkg,parquet", "-q", "--overwrite"]) == 0
    return out


def test_gpkg_and_parquet_equal_the_geojson(national_cn_plan: Path, cn_formats: Path) -> None:
    written = sorted(p.name for p in cn_formats.iterdir())
    assert written == [
        "corridors.parquet",
        "map.html",
        "plan.gpkg",
        "regions.csv",
        "regions.parquet",
        "sites.parquet",
        "summary.json",
    ]
    assert [name for name, _ in pyogrio.list_layers(cn_formats / "plan.gpkg")] == [
        "sites",
        "corridors",
        "regions",
    ]
    sites = gpd.read_file(national_cn_plan / "sites.geojson")
    corridors = gpd.read_file(national_cn_plan / "corridors.geojson")
    assert len(sites) > 1000 and len(corridors) > 10
    for name, want, key in (("sites", sites, "site_id"), ("corridors", corridors, "corridor")):
        _assert_same(gpd.read_parquet(cn_formats / f"{name}.parquet"), want, key, name)
        _assert_same(gpd.read_file(cn_formats / "plan.gpkg", layer=name), want, key, name)
    # regions: the CSV of the GeoJSON run holds their properties (no regions.geojson)
    csv = pd.read_csv(national_cn_plan / "regions.csv")
    for regions in (
        gpd.read_parquet(cn_formats / "regions.parquet"),
        gpd.read_file(cn_formats / "plan.gpkg", layer="regions"),
    ):
        assert regions.crs is not None and regions.crs.to_epsg() == 4326
        assert len(regions) == len(csv) > 20
        got = _sorted(pd.DataFrame(regions.drop(columns="geometry")), "region")
        want = _sorted(csv, "region")
        assert list(got.columns) == list(want.columns)
        for column in want.columns:
            if pd.api.types.is_numeric_dtype(want[column]):
                assert np.allclose(got[column].astype(float), want[column], rtol=1e-12), column
            else:
                assert got[column].tolist() == want[column].tolist(), column


def test_bad_format_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    for command in (
        ["plan", "--osm", GRID],
        ["national", "--country", "cn"],
        ["compare", "--osm", GRID, "--strategies", "coverage,grid-baseline"],
    ):
        assert main([*command, "--format", "shp", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "--format" in err and "'shp'" in err and "gpkg" in err
        assert not out.exists()


def test_compare_report_links_the_written_format(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    argv = ["compare", "--osm", GRID, "--strategies", "coverage,grid-baseline", "-q"]
    assert main([*argv, "--format", "parquet", "--out", str(out)]) == 0
    for strategy in ("coverage", "grid-baseline"):
        folder = out / strategy
        assert (folder / "sites.parquet").is_file()
        assert not (folder / "sites.geojson").exists()
    report = (out / "report.html").read_text()
    assert "coverage/sites.parquet" in report and "sites.geojson" not in report
