"""Headless Chromium for map tests and the map benchmark (selenium is a test/bench dependency).

The browser gets no network: every host name resolves to nothing
(``--host-resolver-rules=MAP * ~NOTFOUND``) and a proxy to nowhere is set, so a page that still
reached for a CDN or a tile server would fail visibly.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--window-size=1600,1000",
)

# Counts of rendered layer elements in each map pane (div.folium-map), as a list per map.
COUNT_JS = """
return Array.from(document.querySelectorAll("div.folium-map")).map(function (pane) {
    return {
        id: pane.id,
        markers: pane.querySelectorAll(".leaflet-marker-pane > :not(.marker-cluster)").length,
        clusters: pane.querySelectorAll(".marker-cluster").length,
        paths: pane.querySelectorAll("path.leaflet-interactive").length,
        allPaths: pane.querySelectorAll(".leaflet-overlay-pane path").length,
        canvases: pane.querySelectorAll("canvas").length,
        legend: pane.querySelectorAll(".planner-legend").length,
        layerInputs: pane.querySelectorAll(".leaflet-control-layers-overlays input").length
    };
});
"""


def browser_available() -> str | None:
    """Return why headless Chromium cannot run here, or ``None`` when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            return f"{path} not found (Debian: apt-get install chromium chromium-driver)"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """Yield a selenium Chrome driver on Debian's headless Chromium, without network access."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="planner-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            driver.set_page_load_timeout(120)
            yield driver
        finally:
            driver.quit()


def load_and_count(
    driver: Any, path: Path, *, ready: Any, timeout_s: float = 60.0
) -> tuple[list[dict[str, Any]], float]:
    """Open ``path`` and poll the DOM until ``ready(counts)`` holds.

    Returns the last per-pane counts and the seconds from navigation start to readiness
    (``performance.timeOrigin`` to the moment the poll saw the layers), or raises
    ``TimeoutError`` with the last counts.
    """
    driver.get(Path(path).resolve().as_uri())
    deadline = time.monotonic() + timeout_s
    counts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        counts = driver.execute_script(COUNT_JS)
        if ready(counts):
            elapsed_ms = driver.execute_script("return performance.now();")
            return counts, float(elapsed_ms) / 1000.0
        time.sleep(0.05)
    raise TimeoutError(f"layers not rendered within {timeout_s:g} s: {counts}")


def severe_errors(driver: Any) -> list[str]:
    """Return the browser console's SEVERE entries (JavaScript errors, failed loads)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
