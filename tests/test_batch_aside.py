"""A city's step handed to another Dask worker (:func:`planner.app._dask.aside`).

Whoever starts the step first computes it: an idle worker, or the city's own task when no
other worker has taken it yet (it never waits for a step that has not started). The tests
order the workers with Dask events (no sleeps, no timing): the waits' timeouts only stop a
broken run from hanging.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, Event, LocalCluster, get_worker

from planner.app._dask import aside
from planner.app.batch import ASIDE_MIN_NODES
from planner.app.cli import main

HANG_GUARD_S = 300


def _address(started: str | None = None) -> str:
    """The address of the worker running this (setting the event ``started`` first)."""
    if started:
        Event(started).set()
    return str(get_worker().address)


def _other_worker_idle(started: str) -> tuple[str, str]:
    """A task handing a step aside and asking for it once an idle worker has started it."""
    step = aside(_address, started)
    assert Event(started).wait(HANG_GUARD_S)
    return _address(), step()


def _blocker(blocking: str, release: str) -> None:
    Event(blocking).set()
    assert Event(release).wait(HANG_GUARD_S)


def _other_worker_busy(blocking: str, release: str) -> tuple[str, str]:
    """A task handing a step aside while the only other worker is busy: it computes it."""
    assert Event(blocking).wait(HANG_GUARD_S)
    step = aside(_address)
    try:
        return _address(), step()
    finally:
        Event(release).set()


@pytest.fixture(scope="module")
def client() -> Any:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


def test_outside_dask_the_step_runs_when_asked() -> None:
    calls: list[int] = []
    step = aside(lambda x: calls.append(x) or 2 * x, 21)
    assert calls == []
    assert step() == 42 and calls == [21]


def test_an_idle_worker_computes_the_step(client: Any) -> None:
    started = f"started-{uuid.uuid4().hex}"
    own, computed_by = client.submit(_other_worker_idle, started, pure=False).result()
    assert own in client.scheduler_info()["workers"]
    assert computed_by != own


def test_with_every_other_worker_busy_the_task_computes_it_itself(client: Any) -> None:
    first, second = sorted(client.scheduler_info()["workers"])
    blocking, release = f"blocking-{uuid.uuid4().hex}", f"release-{uuid.uuid4().hex}"
    blocked = client.submit(_blocker, blocking, release, workers=[second], pure=False)
    task = client.submit(_other_worker_busy, blocking, release, workers=[first], pure=False)
    own, computed_by = task.result()
    blocked.result()
    assert own == first and computed_by == first


def _map_data(page: Path) -> list[str]:
    """The data a city map embeds, in page order: the JSON of planner's layers (road network,
    sites) and the service area's GeoJSON (folium's element ids differ from run to run)."""
    text = page.read_text(encoding="utf-8")
    blocks = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', text, re.S)
    area = re.findall(r"geo_json_[0-9a-f]+_add\((\{.*?\})\);", text)
    assert len(area) == 1 and '"lines"' in blocks[0]  # the road network comes first
    return [*blocks, *area]


def test_a_large_city_split_across_workers_writes_what_plan_writes(
    shared_data: Path, tmp_path: Path
) -> None:
    # Bangor (6,862 nodes) has its map's service area handed aside; Felton keeps it in its task
    extracts = tmp_path / "osm"
    extracts.mkdir()
    for name in ("us_bangor_me.osm.pbf", "us_felton_ca.osm.pbf"):
        shutil.copy(shared_data / "osm" / name, extracts / name)
    options = ["--sites", "8", "--radius-km", "2", "--seed", "3", "-q"]
    out = tmp_path / "batch"
    batch = ["batch", "--osm-dir", str(extracts), "--out", str(out), *options]
    assert main([*batch, "--workers", "2"]) == 0
    serial = tmp_path / "plan"
    plan = ["plan", "--osm", str(extracts / "us_bangor_me.osm.pbf"), "--out", str(serial)]
    assert main([*plan, *options]) == 0
    city = out / "us_bangor_me"
    summary = json.loads((serial / "summary.json").read_text(encoding="utf-8"))
    assert summary["ground"]["nodes"] >= ASIDE_MIN_NODES  # the split applies to this city
    assert (city / "sites.geojson").read_bytes() == (serial / "sites.geojson").read_bytes()
    assert _map_data(city / "map.html") == _map_data(serial / "map.html")
    assert sorted(p.name for p in city.iterdir()) == sorted(p.name for p in serial.iterdir())
    split = json.loads((city / "summary.json").read_text(encoding="utf-8"))
    assert split["inputs"]["network"] == str(extracts / "us_bangor_me.osm.pbf")
    assert list(split["timings_s"]) == list(summary["timings_s"])
    assert split["timings_s"]["loading network"] > 0  # timed in the batch task, not lost
