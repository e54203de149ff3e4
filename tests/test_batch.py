"""``planner batch`` on a 2-worker local Dask cluster: real OSM extracts and one broken file.

Each city's ``sites.geojson`` must equal, byte for byte, the one ``planner plan`` writes for
the same extract serially; the coverage plans use the deterministic heuristic with a generous
time limit, so the answer cannot depend on how loaded the machine is.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest

from planner.app import _dask
from planner.app.batch import city_name, osm_dir_sources, places_sources
from planner.app.cli import main
from planner.core.errors import InputError
from planner.io import _cache, assets

CITIES = {
    "us_felton_ca": "us_felton_ca.osm.pbf",
    "us_west_oakland": "us_west_oakland.osm.bz2",
    "cn_nantong": "cn_nantong.osm",
}
BROKEN = "bad_missing_nodes"
SCENARIO = 'sites = 6\nmethod = "heuristic"\n'


@pytest.fixture(scope="module")
def extracts(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("extracts")
    for name in (*CITIES.values(), f"{BROKEN}.osm"):
        shutil.copy(shared_data / "osm" / name, folder / name)
    (folder / "scenario.toml").write_text(SCENARIO)
    return folder


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "cities.csv", newline="") as handle:
        return {row["city"]: row for row in csv.DictReader(handle)}


def test_batch_plans_each_city_like_plan_and_resumes(
    extracts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "batch"
    scenario = str(extracts / "scenario.toml")
    argv = ["batch", "--osm-dir", str(extracts), "--scenario", scenario, "--out", str(out)]
    assert main([*argv, "--workers", "2", "-q"]) == 3  # the broken file failed
    rows = _rows(out)
    assert sorted(rows) == sorted([*CITIES, BROKEN])
    assert rows[BROKEN]["status"] == "failed"
    assert "missing" in rows[BROKEN]["error"] and "\n" not in rows[BROKEN]["error"]
    assert not (out / BROKEN).exists()
    for city, extract in CITIES.items():
        assert rows[city]["status"] == "planned", rows[city]
        serial = tmp_path / f"serial_{city}"
        plan = ["plan", "--osm", str(extracts / extract), "--scenario", scenario]
        assert main([*plan, "--out", str(serial), "-q"]) == 0
        for name in ("sites.geojson", "regions.csv"):
            if (serial / name).exists():
                assert (out / city / name).read_bytes() == (serial / name).read_bytes(), name
        summary = json.loads((serial / "summary.json").read_text())
        assert int(rows[city]["sites"]) == summary["site_count"]
        assert float(rows[city]["within_radius_covered_share"]) == pytest.approx(
            summary["within_radius_covered_share"], abs=1e-12
        )
        assert (out / city / "map.html").stat().st_size > 0
    every = gpd.read_file(out / "all_sites.gpkg")
    assert every["city"].value_counts().to_dict() == {
        city: len(gpd.read_file(out / city / "sites.geojson")) for city in CITIES
    }
    index = (out / "index.html").read_text()
    assert all(f'href="{city}/map.html"' in index for city in CITIES)
    assert "OpenStreetMap" in index
    capsys.readouterr()

    before = {city: (out / city / "sites.geojson").stat().st_mtime_ns for city in CITIES}
    assert main([*argv, "--workers", "2", "-q"]) == 3
    again = _rows(out)
    assert {city: again[city]["status"] for city in CITIES} == dict.fromkeys(CITIES, "skipped")
    assert again[BROKEN]["status"] == "failed"
    assert before == {city: (out / city / "sites.geojson").stat().st_mtime_ns for city in CITIES}
    assert "3 skipped, 1 failed of 4 cities" in capsys.readouterr().out


def test_batch_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", "--osm-dir", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("planner: error: --osm-dir:") and "\n" not in err
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.osm"):
        osm_dir_sources(tmp_path / "empty")


def test_places_csv_names_and_boxes(tmp_path: Path) -> None:
    places = tmp_path / "places.csv"
    places.write_text(
        "name,place,west,south,east,north\n"
        'Bangor ME,"Bangor, Maine, USA",,,,\n'
        ",,-122.3,37.8,-122.28,37.82\n"
    )
    assert places_sources(places) == {
        "Bangor_ME": "Bangor, Maine, USA",
        "-122.3_37.8_-122.28_37.82": (-122.3, 37.8, -122.28, 37.82),
    }
    places.write_text("name,place\nx,\n")
    with pytest.raises(InputError, match="line 2"):
        places_sources(places)
    assert city_name("São Paulo/centre") == "S_o_Paulo_centre"
    assert city_name("..") == "city"


def test_a_second_batch_into_the_same_out_is_refused(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "batch"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out)], stdout=subprocess.PIPE, stdin=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        argv = ["batch", "--osm-dir", str(shared_data / "osm"), "--out", str(out), "-q"]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err
        assert f"--out: another planner run (pid {holder.pid}) is writing to {out}" in err
        assert list(out.iterdir()) == []  # no city planned, no collection file
    finally:
        holder.communicate(b"", timeout=60)
    assert holder.returncode == 0


def test_a_dead_batch_lock_is_taken_over_and_the_offline_index_needs_no_cdn(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        assets.find_assets()
    except InputError as exc:
        pytest.skip(f"offline map assets not installed ({exc}); run python -m planner.io.assets")
    extracts = tmp_path / "extracts"
    extracts.mkdir()
    shutil.copy(shared_data / "osm" / "us_west_oakland.osm.bz2", extracts)
    out = tmp_path / "batch"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    lock = tmp_path / ".batch.planner.lock"
    lock.write_text(dead.stdout)  # left by a run killed with kill -9
    argv = ["batch", "--osm-dir", str(extracts), "--sites", "2", "--out", str(out)]
    assert main([*argv, "--workers", "1", "--offline-assets"]) == 0
    assert "distributed" not in capsys.readouterr().err  # Dask's INFO logs only with -vv
    assert _rows(out)["us_west_oakland"]["status"] == "planned"
    assert not lock.exists()
    # the index, like the city's map, links only files it ships in assets/, and draws no tiles
    for page_path in (out / "index.html", out / "us_west_oakland" / "map.html"):
        page = page_path.read_text(encoding="utf-8")
        links = re.findall(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"([^\"]+)\"", page)
        assert links and all((page_path.parent / url).is_file() for url in links), page_path
        assert not re.search(r"(?:src|href)=[\"'](?:https?:)?//", page), page_path
        assert "tile.openstreetmap.org" not in page
    assert 'href="us_west_oakland/map.html"' in (out / "index.html").read_text(encoding="utf-8")


# holds the lock of argv[1] (as a batch run does) until its stdin closes
_HOLD = (
    "import sys; from planner.io._outdir import locked_folder\n"
    "with locked_folder(sys.argv[1]):\n"
    "    print('held', flush=True); sys.stdin.read()\n"
)


def test_places_are_downloaded_once_then_read_from_the_cache(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--places`` end to end without the internet: osmnx's downloads answer with shared
    extracts, the tasks run on an in-process Dask cluster (so they see the patches)."""
    ox = pytest.importorskip("osmnx")
    extracts = {
        "Nantong, Jiangsu, China": shared_data / "osm" / "cn_nantong.osm",
        (-122.314, 37.804, -122.29, 37.818): shared_data / "osm" / "us_west_oakland.osm.bz2",
    }
    calls: list[object] = []

    def graph(query: object, **kwargs: object) -> object:
        calls.append(query)
        assert kwargs["network_type"] == "drive"
        return ox.graph_from_xml(extracts[query], simplify=False, retain_all=True)

    def features(query: object, *, tags: object) -> object:
        return ox.features_from_xml(extracts[query], tags=tags)

    monkeypatch.setattr(_cache, "_resolve_host", lambda *args: None)  # the hosts "resolve"
    monkeypatch.setattr(ox, "graph_from_place", graph)
    monkeypatch.setattr(ox, "graph_from_bbox", graph)
    monkeypatch.setattr(ox, "features_from_place", features)
    monkeypatch.setattr(ox, "features_from_bbox", features)
    monkeypatch.setattr(_dask, "dask_client", _in_process_client)
    places = tmp_path / "places.csv"
    places.write_text(
        "name,place,west,south,east,north\n"
        'Nantong,"Nantong, Jiangsu, China",,,,\n'
        "Oakland,,-122.314,37.804,-122.29,37.818\n"
    )
    out, cache = tmp_path / "batch", tmp_path / "cache"
    argv = ["batch", "--places", str(places), "--sites", "3", "--cache-dir", str(cache)]
    assert main([*argv, "--out", str(out), "-q"]) == 0
    assert sorted(map(str, calls)) == sorted(map(str, extracts))  # one download per place
    assert len(list(cache.rglob("*.graphml"))) == 2
    rows = _rows(out)
    assert {rows[c]["status"] for c in ("Nantong", "Oakland")} == {"planned"}
    assert rows["Oakland"]["source"] == "-122.314,37.804,-122.29,37.818"
    first = {c: (out / c / "sites.geojson").read_bytes() for c in ("Nantong", "Oakland")}

    assert main([*argv, "--out", str(out), "--overwrite", "-q"]) == 0
    assert len(calls) == 2  # planned again from the cache, without downloading
    assert {c: (out / c / "sites.geojson").read_bytes() for c in first} == first


@contextlib.contextmanager
def _in_process_client(scheduler: str | None = None, *, n_workers: int | None = None):  # type: ignore[no-untyped-def]
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
