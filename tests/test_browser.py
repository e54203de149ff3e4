"""Maps in a real browser: Debian's headless Chromium, with no network at all.

Every host name resolves to nothing and a proxy to nowhere is set, so a page that still reached for
a CDN would log SEVERE load errors and render no layers.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from planner.app.maps import city_map, compare_map, national_map, write_map
from planner.core.errors import InputError
from planner.io import assets
from planner.strategies.base import Plan
from tests.headless_browser import browser_available, chromium, load_and_count, severe_errors
from tests.synthetic_plans import synthetic_ground, synthetic_plan

pytestmark = pytest.mark.browser

HOSTILE = (
    "<script>window.__pwned = 1</script>",
    "<img src=x onerror='window.__pwned = 2'>",
    "${window.__pwned = 3}",
    "back`tick\\u0041",
    "Café \"Q\" & 'co' </script>",
)
SITES_JS = (
    "return Array.from(document.querySelectorAll('div.folium-map'))"
    ".map(function (e) { return Number(e.dataset.plannerSites || 0); });"
)


@pytest.fixture(scope="module")
def driver() -> Any:
    reason = browser_available()
    if reason is not None:
        pytest.skip(f"headless Chromium unavailable: {reason}")
    try:
        assets.find_assets()
    except InputError as exc:
        pytest.skip(f"offline map assets not installed ({exc}); run python -m planner.io.assets")
    with chromium() as browser:
        yield browser


def open_map(driver: Any, path: Path, sites: list[int]) -> list[dict[str, Any]]:
    """Load ``path`` and wait until each pane has drawn its ``sites``; return the pane counts."""
    counts, _ = load_and_count(
        driver,
        path,
        ready=lambda c: len(c) == len(sites) and driver.execute_script(SITES_JS) == sites,
    )
    return counts


def screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    """Save a PNG into ``tmp_path`` and, when set, ``$PLANNER_SCREENSHOT_DIR``."""
    path = tmp_path / name
    assert driver.save_screenshot(str(path))
    target = os.environ.get("PLANNER_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return path


def test_compare_map_renders_offline(driver: Any, tmp_path: Path) -> None:
    ground = synthetic_ground()
    plans = [
        synthetic_plan(ground, n_sites=40),
        synthetic_plan(ground, n_sites=30, strategy="china-pile-swap", seed=1),
    ]
    metrics = pd.DataFrame(
        {"sites": [40, 30], "share_within_1km": [0.41, 0.57]},
        index=pd.Index([p.strategy for p in plans], name="strategy"),
    )
    page = compare_map(plans, metrics, offline_assets=True, coverage_radius_m=700)
    path = write_map(page, tmp_path / "compare.html", offline_assets=True)
    panes = open_map(driver, path, [40, 30])

    for pane, plan in zip(panes, plans, strict=True):
        assert pane["markers"] + pane["clusters"] > 0, pane
        assert pane["paths"] == len(plan.ground.corridors), pane  # tooltips make them interactive
        # corridors + one merged service area (issue 18: no circle per site)
        assert pane["allPaths"] >= len(plan.ground.corridors) + 1
        assert pane["canvases"] >= 1  # the demand heatmap
        assert pane["legend"] == 1
        kinds = plan.sites["kind"].nunique()
        assert pane["layerInputs"] == kinds + 3  # demand, coverage, corridors
    rows = driver.execute_script(
        "return document.querySelectorAll('table.planner-metrics tr').length"
    )
    assert rows == 3
    assert severe_errors(driver) == []
    fonts = driver.execute_script(
        "return Array.from(document.fonts).filter(function (f) {"
        " return f.family.indexOf('Font Awesome') >= 0 && f.status === 'loaded'; }).length;"
    )
    assert fonts >= 1  # the webfonts were copied beside the page and load from there
    shot = screenshot(driver, tmp_path, "compare_map.png")
    assert shot.stat().st_size > 10_000
    # synchronised pan and zoom: moving the first map moves the second
    first, second = (pane["id"] for pane in panes)
    driver.execute_script(f"window['{first}'].setView([39.95, -83.01], 15, {{animate: false}});")
    center = driver.execute_script(
        f"var m = window['{second}'], c = m.getCenter(); return [c.lat, c.lng, m.getZoom()];"
    )
    assert center[0] == pytest.approx(39.95, abs=1e-4)
    assert center[1] == pytest.approx(-83.01, abs=1e-4)
    assert center[2] == 15


def test_city_map_popups_show_hostile_names_as_text(driver: Any, tmp_path: Path) -> None:
    plan: Plan = synthetic_plan(synthetic_ground(), n_sites=10, names=HOSTILE)
    m = city_map(plan, offline_assets=True)
    path = write_map(m, tmp_path / "city.html", offline_assets=True)
    open_map(driver, path, [10])
    shown = driver.execute_script(
        """
        var out = [];
        document.querySelectorAll(".leaflet-marker-pane > .awesome-marker").forEach(function (el) {
            el.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true}));
            var all = document.querySelectorAll(".leaflet-popup-content");
            var content = all[all.length - 1];  // the previous popup fades out for 200 ms
            var cells = content.querySelectorAll("tr");
            for (var i = 0; i < cells.length; i++) {
                if (cells[i].querySelector("th").textContent === "Name") {
                    out.push(cells[i].querySelector("td").textContent);
                }
            }
            if (content.querySelector("img, script")) { out.push("ELEMENT INJECTED"); }
        });
        return out;
        """
    )
    assert sorted(shown) == sorted(plan.sites["name"])
    assert driver.execute_script("return window.__pwned === undefined;")
    assert severe_errors(driver) == []
    screenshot(driver, tmp_path, "city_map_popup.png")


def test_national_map_of_100k_sites_loads(driver: Any, tmp_path: Path) -> None:
    ground = synthetic_ground(scale="national", n_nodes=20_000, n_demand=100_000)
    plan = synthetic_plan(ground, n_sites=100_000, realistic=True)
    path = write_map(
        national_map(plan, offline_assets=True), tmp_path / "n.html", offline_assets=True
    )
    assert path.stat().st_size <= 25e6
    (pane,) = open_map(driver, path, [100_000])
    assert pane["clusters"] > 0 and pane["paths"] == len(ground.corridors)
    assert severe_errors(driver) == []
    screenshot(driver, tmp_path, "national_map.png")


# --- the demo's maps, written with assets fetched by Python (no Node) ----------------------------

OVERLAP_JS = """
function box(e) { var r = e.getBoundingClientRect();
    return {l: r.left, t: r.top, r: r.right, b: r.bottom}; }
function hit(a, b) { return a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b; }
var out = [];
var table = document.querySelector(".planner-metrics-scroll");
document.querySelectorAll("div.folium-map").forEach(function (pane) {
    var legend = pane.querySelector(".planner-legend"), pb = box(pane);
    pane.querySelectorAll(".marker-cluster, .awesome-marker").forEach(function (m) {
        var mb = box(m);
        if (!hit(pb, mb)) { return; }  // drawn beyond the pane's edge (clusters pad the view)
        if (legend && hit(box(legend), mb)) { out.push(["legend", pane.id, mb]); }
        if (table && hit(box(table), mb)) { out.push(["table", pane.id, mb]); }
    });
});
return out;
"""
LOWER48_JS = """
var m = window[arguments[0]], size = m.getSize();
var sw = m.latLngToContainerPoint([24.4, -124.8]), ne = m.latLngToContainerPoint([49.4, -66.9]);
return {w: size.x, h: size.y, x0: sw.x, x1: ne.x, y0: ne.y, y1: sw.y};
"""


@pytest.mark.parametrize("country", ["us", "cn"])
def test_demo_maps_draw_without_tiles_or_network(
    driver: Any, demo_dir: tuple[Path, bool], tmp_path: Path, country: str
) -> None:
    out, offline = demo_dir
    if not offline:
        pytest.skip("the demo was written without the asset cache; run python -m planner.io.assets")
    metrics = pd.read_csv(out / f"{country}_metrics.csv")
    path = out / f"{country}_compare.html"
    panes = open_map(driver, path, [int(n) for n in metrics["sites"]])
    shot = screenshot(driver, tmp_path, f"demo_{country}_compare.png")
    print(f"screenshot: {shot}")
    assert driver.execute_script("return document.querySelectorAll('.leaflet-tile').length") == 0
    for pane in panes:
        assert pane["clusters"] > 0, pane
        assert pane["paths"] > 0, pane  # corridors (interactive: they have tooltips)
        assert pane["canvases"] >= 1, pane  # state/province outlines and the demand heatmap
        assert pane["legend"] == 1, pane
    outlines = driver.execute_script(
        "return Array.from(document.querySelectorAll('div.folium-map')).map(function (p) {"
        " return p.querySelectorAll('canvas.leaflet-zoom-animated').length; });"
    )
    assert all(n >= 1 for n in outlines), outlines
    assert severe_errors(driver) == []
    assert driver.execute_script(OVERLAP_JS) == []
    if country == "us":  # the contiguous 48 fill the pane (width or height), Alaska is off-view
        for pane in panes:
            box = driver.execute_script(LOWER48_JS, pane["id"])
            assert box["x0"] >= -1 and box["x1"] <= box["w"] + 1, box
            assert box["y0"] >= -1 and box["y1"] <= box["h"] + 1, box
            fill = max((box["x1"] - box["x0"]) / box["w"], (box["y1"] - box["y0"]) / box["h"])
            assert fill >= 0.85, box
        driver.execute_script(  # the Alaska button moves the (synchronised) view north-west
            "Array.from(document.querySelectorAll('.planner-views a'))"
            ".find(function (a) { return a.textContent === 'Alaska'; }).click();"
        )
        center_js = f"var c = window['{panes[0]['id']}'].getCenter(); return [c.lat, c.lng];"
        # The button animates the view: poll until it has arrived (or give up after 15 s).
        for _ in range(60):
            lat, lon = driver.execute_script(center_js)
            if lat > 55 and lon < -140:
                break
            time.sleep(0.25)
        assert lat > 55 and lon < -140, (lat, lon)
