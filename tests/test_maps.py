"""Tests of planner.app.maps, planner.io.assets and planner.app.report (no browser; see
test_browser.py)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString

from planner.app.maps import (
    city_map,
    compare_map,
    escape_text,
    national_map,
    remote_links,
    write_map,
)
from planner.app.maps._html import js_json
from planner.app.maps._layers import (
    CORRIDOR_COLORS,
    _grid_sum,
    corridor_layer,
    simplified_vertices,
    site_rows,
)
from planner.app.report import capex_by_category, coverage_curves, ports_by_kind, write_report
from planner.core.errors import InputError
from planner.ground.reach import ServiceRadius, service_area_geojson
from planner.io import assets
from planner.strategies.base import Plan
from tests.synthetic_plans import synthetic_ground, synthetic_plan

HOSTILE = (
    "<script>window.__pwned = 1</script>",
    "<img src=x onerror='window.__pwned = 2'>",
    "${window.__pwned = 3}",
    "back`tick\\u0041",
    "Café \"Q\" & 'co' </script>",
)


@pytest.fixture(scope="module")
def city_plans() -> tuple[Plan, Plan]:
    ground = synthetic_ground()
    return (
        synthetic_plan(ground, n_sites=40, names=HOSTILE),
        synthetic_plan(ground, n_sites=30, strategy="china-pile-swap", seed=1),
    )


@pytest.fixture(scope="module")
def asset_root() -> Path:
    try:
        return assets.find_assets()
    except InputError as exc:
        pytest.skip(f"offline map assets not installed ({exc}); run python -m planner.io.assets")


def data_blocks(page: str) -> list[dict]:
    """The JSON data elements planner's layers embed."""
    found = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', page, re.S)
    return [json.loads(text) for text in found]


def render(m: folium.Map) -> str:
    return m.get_root().render()


# --- escaping ----------------------------------------------------------------------------------


def test_escape_text_neutralises_html_and_template_literals() -> None:
    out = escape_text("<b>`${x}`\\</b>&\"'")
    assert not set("<>`$\\\"'") & set(out)
    assert out == "&lt;b&gt;&#96;&#36;{x}&#96;&#92;&lt;/b&gt;&amp;&quot;&#x27;"


def test_js_json_cannot_close_a_script_element() -> None:
    text = js_json({"name": "</script><script>alert(1)</script>", "x": float("nan")})
    assert "<" not in text and ">" not in text
    assert json.loads(text) == {"name": "</script><script>alert(1)</script>", "x": None}


def test_js_json_writes_finite_and_non_finite_data_alike() -> None:
    # the same nested data with and without a non-finite value: one text but for that value
    finite = {"c": [[(1.5, -2.25), [3.0, 4]]], "t": "a&b", "n": 0.1}
    text = js_json(finite)
    assert text == '{"c":[[[1.5,-2.25],[3.0,4]]],"t":"a\\u0026b","n":0.1}'
    with_inf = {**finite, "n": float("-inf")}
    assert js_json(with_inf) == text.replace('"n":0.1', '"n":null')


def test_city_map_escapes_every_hostile_name(city_plans: tuple[Plan, Plan]) -> None:
    page = render(city_map(city_plans[0], coverage_radius_m=800))
    for name in HOSTILE:
        assert name not in page
    names = [row[3] for block in data_blocks(page) if "rows" in block for row in block["rows"]]
    assert set(names) == {escape_text(n) for n in HOSTILE}
    planted = city_plans[0].sites["name"].str.count("window.__pwned").sum()
    assert page.count("window.__pwned") == planted  # only inside the escaped JSON data


# --- layers --------------------------------------------------------------------------------------


def test_city_map_layers_popups_and_attribution(city_plans: tuple[Plan, Plan]) -> None:
    plan = city_plans[0]
    page = render(city_map(plan, coverage_radius_m=800))
    blocks = data_blocks(page)
    rows = [r for b in blocks if "rows" in b for r in b["rows"]]
    assert len(rows) == len(plan.sites)
    assert {b["label"] for b in blocks if "rows" in b} == {
        "Corridor DC fast",
        "Community Level 2",
        "Community DC fast",
        "Existing station",
    }
    # issue 18: one merged service area, no circle per site; it holds every site
    assert not [b for b in blocks if "radius_m" in b]
    assert "Service area (0.8 km)" in page and "Service area 0.8 km" in page  # layer, legend
    area = shapely.geometry.shape(
        service_area_geojson(
            plan.ground, plan.sites["node_idx"].to_numpy(), ServiceRadius(radius_m=800.0)
        )
    )
    assert shapely.contains_xy(area, plan.sites["lon"], plan.sites["lat"]).all()
    assert "L.heatLayer" in page and "L.control.layers" in page
    assert "planner-legend" in page and "OpenStreetMap" in page and "GeoNames" in page
    assert "tile.openstreetmap.org" in page  # online by default
    assert "tile.openstreetmap.org" not in render(city_map(plan, offline_assets=True))


def test_site_rows_round_and_drop_empty_fields() -> None:
    sites = pd.DataFrame(
        {
            "lat": [40.1234567, 41.0],
            "lon": [-83.7654321, -82.0],
            "site_id": ["a", "b"],
            "ports": [4, 0],
            "ac_ports": [0, 0],
            "corridor": ["", ""],
            "power_kw": [150.04, np.nan],
        }
    )
    labels, rows = site_rows(sites)
    assert labels == ["Site", "Ports", "Power per port (kW)"]
    assert rows[0] == [40.12346, -83.76543, "a", 4, 150.0]
    assert rows[1][-1] is None


def test_simplified_vertices_keeps_ends_and_corners_only() -> None:
    x = np.array([0.0, 1, 2, 3, 4, 4, 4])
    y = np.array([0.0, 0, 0, 0, 0, 1, 2]) * 1000
    x *= 1000
    assert simplified_vertices(x, y, 10.0).tolist() == [0, 4, 6]
    spike = simplified_vertices(np.array([0.0, 500, 1000]), np.array([0.0, 5.0, 0]), 10.0)
    assert spike.tolist() == [0, 2]
    assert simplified_vertices(np.array([0.0, 500, 1000]), np.array([0.0, 50, 0]), 10.0).size == 3


def test_grid_sum_conserves_demand_and_weighted_position() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 10_000, 500), rng.uniform(0, 10_000, 500)
    lat, lon, w = y / 1e5, x / 1e5, rng.gamma(2.0, 1.0, 500)
    glat, glon, gw = _grid_sum(x, y, lat, lon, w, 2_500.0)
    assert gw.size <= 16 and np.isclose(gw.sum(), w.sum())
    assert np.isclose((glat * gw).sum(), (lat * w).sum())
    assert np.isclose((glon * gw).sum(), (lon * w).sum())


def test_corridors_coloured_by_compliance(city_plans: tuple[Plan, Plan]) -> None:
    plan = city_plans[0]
    layer = corridor_layer(plan.ground, plan.corridors)
    assert layer is not None
    lines = json.loads(layer.data_json)["lines"]
    assert [line["color"] for line in lines] == [CORRIDOR_COLORS[True], CORRIDOR_COLORS[False]]
    assert "max gap 61.5 mi" in lines[1]["t"] and "NOT compliant" in lines[1]["t"]
    unknown = corridor_layer(plan.ground, pd.DataFrame())
    assert unknown is not None
    assert {line["color"] for line in json.loads(unknown.data_json)["lines"]} == {
        CORRIDOR_COLORS[None]
    }
    for line, corridor in zip(lines, plan.ground.corridors, strict=True):
        first = corridor.node_idx[0]
        assert line["c"][0] == [
            round(float(plan.ground.node_lat[first]), 5),
            round(float(plan.ground.node_lon[first]), 5),
        ]


def test_city_map_draws_thinned_network_edges(city_plans: tuple[Plan, Plan]) -> None:
    rng = np.random.default_rng(0)
    lines = [
        LineString([(-83.0 + i * 1e-3, 39.9), (-83.0 + i * 1e-3, 39.9 + rng.uniform(1e-3, 1e-2))])
        for i in range(50)
    ]
    edges = gpd.GeoDataFrame(geometry=lines, crs=4326)
    page = render(city_map(city_plans[0], edges=edges, max_edges=20))
    (network,) = [b for b in data_blocks(page) if "lines" in b and b["lines"][0]["w"] == 1]
    assert len(network["lines"][0]["c"]) == 20
    longest = sorted(line.length for line in lines)[-20:]
    drawn = sorted(abs(path[-1][0] - path[0][0]) for path in network["lines"][0]["c"])
    assert np.allclose(drawn, longest, atol=2e-5)


def test_national_map_of_100k_sites_stays_under_25_mb() -> None:
    ground = synthetic_ground(scale="national", n_nodes=20_000, n_demand=100_000)
    plan = synthetic_plan(ground, n_sites=100_000, realistic=True)
    page = render(national_map(plan))
    size_mb = len(page.encode("utf-8")) / 1e6
    assert size_mb <= 25.0, size_mb
    blocks = data_blocks(page)
    assert sum(len(b["rows"]) for b in blocks if "rows" in b) == 100_000
    coords = [v for b in blocks if "rows" in b for r in b["rows"][:1000] for v in r[:2]]
    assert all(round(v, 5) == v for v in coords)
    assert "new Supercluster" in page
    heat = re.search(r"L\.heatLayer\(\s*(\[.*?\]),\s*\{", page, re.S)
    assert heat is not None and len(json.loads(heat.group(1))) <= 20_000


def test_compare_map_table_sync_and_validation(city_plans: tuple[Plan, Plan]) -> None:
    metrics = pd.DataFrame(
        {"sites": [40, 30], "note": ["<b>bold</b>", "ok"]},
        index=pd.Index(["us-nevi", "<i>x</i>"], name="strategy"),
    )
    page = compare_map(list(city_plans), metrics).render()
    assert page.count('class="folium-map"') == 2
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page
    assert "&lt;i&gt;x&lt;/i&gt;" in page
    assert page.count(".sync(") == 2
    far = synthetic_plan(synthetic_ground(country="cn"), strategy="china-pile-swap")
    apart = compare_map([city_plans[0], far], None).render()
    assert ".sync(" not in apart and "each map keeps its own view" in apart
    three = compare_map([*city_plans, city_plans[0]]).render()
    assert three.count('class="folium-map"') == 3 and three.count(".sync(") == 6
    with pytest.raises(InputError, match="plans: expected a list of at least two"):
        compare_map([city_plans[0]])
    with pytest.raises(InputError, match="metrics"):
        compare_map(list(city_plans), metrics="table")  # type: ignore[arg-type]


def test_bad_plans_are_refused(city_plans: tuple[Plan, Plan]) -> None:
    plan = city_plans[0]
    with pytest.raises(InputError, match="plan: expected a planner Plan"):
        city_map("plan")  # type: ignore[arg-type]
    broken = Plan(
        plan.strategy, plan.ground, plan.sites.drop(columns="lat"), plan.corridors, plan.regions
    )
    with pytest.raises(InputError, match="missing lat"):
        national_map(broken)
    moved = plan.sites.assign(lat=plan.sites["lat"] + 100.0)
    with pytest.raises(InputError, match="WGS84"):
        city_map(Plan(plan.strategy, plan.ground, moved, plan.corridors, plan.regions))
    with pytest.raises(InputError, match="coverage_radius_m"):
        city_map(plan, coverage_radius_m=-1.0)


# --- offline assets ------------------------------------------------------------------------------


def test_write_map_offline_links_only_local_files(
    tmp_path: Path, city_plans: tuple[Plan, Plan], asset_root: Path
) -> None:
    before = (list(folium.Map.default_js), list(folium.plugins.MarkerCluster.default_css))
    page_path = write_map(
        compare_map(list(city_plans), None, offline_assets=True),
        tmp_path / "compare.html",
        offline_assets=True,
    )
    page = page_path.read_text(encoding="utf-8")
    assert remote_links(page) == []
    tags = re.findall(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"([^\"]+)\"", page)
    assert tags and all((tmp_path / url).is_file() for url in tags)
    assert not re.search(r"<(?:script|link)\b[^>]*(?:src|href)=\"https?:", page)
    assert (folium.Map.default_js, folium.plugins.MarkerCluster.default_css) == before
    # every url() in the copied CSS (fonts, images) exists too
    for css in (tmp_path / "assets").rglob("*.css"):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text(encoding="utf-8")):
            if url.startswith(("data:", "#")):
                continue
            assert (css.parent / url.split("?")[0].split("#")[0]).is_file(), (css, url)


def test_write_map_refuses_links_without_a_local_copy(tmp_path: Path, asset_root: Path) -> None:
    m = folium.Map(tiles=None)
    folium.plugins.Fullscreen().add_to(m)
    with pytest.raises(InputError, match="no offline copy"):
        write_map(m, tmp_path / "m.html", offline_assets=True)
    assert not (tmp_path / "m.html").exists()
    online = write_map(m, tmp_path / "m.html", offline_assets=False).read_text(encoding="utf-8")
    assert "https://cdn.jsdelivr.net/npm/leaflet" in online


def test_find_assets_explains_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANNER_ASSETS_DIR", str(tmp_path))
    with pytest.raises(InputError, match=r"run .python -m planner.io.assets. once"):
        assets.find_assets()


def test_glyphicons_css_keeps_only_glyphicon_rules() -> None:
    css = """/* c */ @font-face { font-family: 'Glyphicons Halflings'; src: url(../fonts/g.eot); }
    .glyphicon { top: 1px; } .glyphicon-plus:before { content: "+"; }
    .btn, .glyphicon-x { color: red; } @media print { .glyphicon { x: y; } }"""
    out = assets.glyphicons_css(css)
    assert "@font-face" in out and ".glyphicon-plus:before" in out
    assert ".btn" not in out and "@media" not in out


def test_every_asset_maps_a_folium_link() -> None:
    links = [url for _, url in folium.Map.default_js + folium.Map.default_css]
    links += [url for _, url in folium.plugins.MarkerCluster.default_js]
    links += [url for _, url in folium.plugins.HeatMap.default_js]
    links += [url for _, url in folium.plugins.DualMap.default_js]
    unmapped = [
        u for u in links if assets.local_asset(u) is None and not assets.optional_link_reason(u)
    ]
    assert unmapped == []


# --- report --------------------------------------------------------------------------------------


def test_write_report_is_self_contained_and_escaped(
    tmp_path: Path, city_plans: tuple[Plan, Plan]
) -> None:
    metrics = pd.DataFrame(
        {
            "strategy": ["us-nevi", "china-pile-swap"],
            "share_within_1km": [0.2, 0.4],
            "share_within_5km": [0.7, 0.9],
            "share_within_3km": [0.5, 0.6],
            "note": ["<script>alert(1)</script>", "$x$"],
        }
    )
    path = write_report(
        list(city_plans),
        metrics,
        tmp_path / "out",
        params={"seed": 0, "us": {"spacing_mi": 50, "name": "<b>x</b>"}},
        map_links={"Comparison <map>": "compare.html"},
    )
    page = path.read_text(encoding="utf-8")
    assert path.name == "report.html"
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "us.spacing_mi" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert '<a href="compare.html">Comparison &lt;map&gt;</a>' in page
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(pngs) == 3
    assert all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert not re.search(r"(?:src|href)=\"https?:", page)
    with pytest.raises(InputError, match="map_links"):
        write_report([], None, tmp_path, params={}, map_links={"x": "javascript:alert(1)"})


def test_report_tables(city_plans: tuple[Plan, Plan]) -> None:
    plans = list(city_plans)
    ports = ports_by_kind(plans)
    for plan in plans:
        assert ports[plan.strategy].sum() == plan.sites["ports"].sum()
    metrics = pd.DataFrame(
        {"share_within_10km": [0.9], "share_within_1km": [0.3], "capex_total_usd": [5.0]},
        index=["a"],
    )
    curves = coverage_curves(metrics)
    assert curves.index.tolist() == [1.0, 10.0] and curves["a"].tolist() == [30.0, 90.0]
    capex = capex_by_category(plans, metrics)
    assert capex.sum().sum() == sum(p.sites["capex_usd"].sum() for p in plans)
    by_column = capex_by_category(plans, metrics.assign(capex_piles_usd=[2.0]))
    assert by_column.index.tolist() == ["piles"] and by_column["a"].tolist() == [2.0]
