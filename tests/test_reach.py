"""planner.ground.reach.service_area against the direct construction, recomputed with networkx."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import shapely

from planner.ground.build import city_ground
from planner.ground.network import load_network
from planner.ground.reach import (
    SERVICE_AREA_BUFFER_M,
    SERVICE_AREA_SIMPLIFY_M,
    ServiceRadius,
    service_area,
)

FIXTURE = Path(__file__).parent / "fixtures" / "columbus_downtown_2km.osm.pbf"


def test_service_area_is_the_widened_union_of_the_reached_streets() -> None:
    ground = city_ground(load_network(FIXTURE), seed=0)
    coo = ground.length_m.tocoo()
    graph = nx.DiGraph()
    graph.add_nodes_from(range(ground.length_m.shape[0]))
    for u, v, w in zip(coo.col.tolist(), coo.row.tolist(), coo.data.tolist(), strict=True):
        graph.add_edge(u, v, w=w)  # reversed: from the site back to the node that reaches it
    sites = np.array([0, ground.length_m.shape[0] // 2])
    reached = nx.multi_source_dijkstra_path_length(graph, set(sites.tolist()), 600.0, "w")
    inside = sorted(reached)
    x, y = ground.node_x_m, ground.node_y_m
    lines = [
        shapely.LineString([(x[u], y[u]), (x[v], y[v])])
        for u, v in zip(coo.row.tolist(), coo.col.tolist(), strict=True)
        if u in reached and v in reached
    ]
    direct = shapely.union_all([*lines, shapely.MultiPoint(np.column_stack([x, y])[inside])])
    widened = shapely.buffer(direct, SERVICE_AREA_BUFFER_M, quad_segs=4)
    expected = shapely.simplify(widened, SERVICE_AREA_SIMPLIFY_M)

    area = service_area(ground, sites, ServiceRadius(radius_m=600.0))

    assert len(lines) > 50
    # the same shape, up to where the 10 m simplification of the outline drops a vertex
    assert abs(area.area - expected.area) < 0.005 * expected.area
    assert area.symmetric_difference(expected).area < 0.02 * expected.area
    assert shapely.contains_xy(area, x[sites], y[sites]).all()
    far = shapely.distance(direct, shapely.points(x, y)) > SERVICE_AREA_BUFFER_M + 15.0
    assert far.sum() > 100 and not shapely.intersects_xy(area, x[far], y[far]).any()


def test_service_area_of_a_lone_node_is_its_disc() -> None:
    ground = city_ground(load_network(FIXTURE), seed=0)
    area = service_area(ground, np.array([0]), ServiceRadius(radius_m=0.001))
    point = shapely.Point(ground.node_x_m[0], ground.node_y_m[0])
    disc = shapely.simplify(
        point.buffer(SERVICE_AREA_BUFFER_M, quad_segs=4), SERVICE_AREA_SIMPLIFY_M
    )
    assert area.symmetric_difference(disc).area < 1e-6 * disc.area
