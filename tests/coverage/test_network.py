"""The Network type: validation, speeds, per-mode graphs, components, save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from planwatch.coverage.network import ROAD_CLASSES, Network, NetworkError, road_class_code

RESIDENTIAL = road_class_code("residential")


def make_network(
    edges: list[tuple[int, int]],
    xy: list[tuple[float, float]],
    *,
    classes: list[str] | None = None,
    oneway: list[bool] | None = None,
) -> Network:
    """A network of straight edges between the given node coordinates."""
    x = np.array([p[0] for p in xy], dtype=np.float64)
    y = np.array([p[1] for p in xy], dtype=np.float64)
    u = np.array([e[0] for e in edges], dtype=np.int32)
    v = np.array([e[1] for e in edges], dtype=np.int32)
    return Network(
        x=x,
        y=y,
        edge_u=u,
        edge_v=v,
        length=np.hypot(x[u] - x[v], y[u] - y[v]),
        road_class=np.array(
            [road_class_code(c) for c in classes or ["residential"] * len(edges)], dtype=np.int8
        ),
        oneway=np.array(oneway or [False] * len(edges), dtype=np.bool_),
        crs="EPSG:32648",
    )


def test_road_class_code_maps_links_aliases_and_unknown_values() -> None:
    assert ROAD_CLASSES[road_class_code("primary_link")] == "primary"
    assert ROAD_CLASSES[road_class_code(" Footway ")] == "footway"
    assert ROAD_CLASSES[road_class_code("trail")] == "path"
    assert ROAD_CLASSES[road_class_code("no such class")] == "unclassified"
    assert ROAD_CLASSES[road_class_code(None)] == "unclassified"


def test_inconsistent_arrays_are_refused_with_the_network_name() -> None:
    network = make_network([(0, 1)], [(0, 0), (10, 0)])
    with pytest.raises(NetworkError, match="network network: x has 2 nodes, y has 1"):
        Network(
            network.x,
            network.y[:1],
            network.edge_u,
            network.edge_v,
            network.length,
            network.road_class,
            network.oneway,
            "EPSG:32648",
        )
    with pytest.raises(NetworkError, match="does not exist"):
        Network(
            network.x,
            network.y,
            network.edge_u + 5,
            network.edge_v,
            network.length,
            network.road_class,
            network.oneway,
            "EPSG:32648",
        )
    with pytest.raises(NetworkError, match="positive length"):
        Network(
            network.x,
            network.y,
            network.edge_u,
            network.edge_v,
            network.length * 0,
            network.road_class,
            network.oneway,
            "EPSG:32648",
        )


def test_one_way_edges_block_driving_against_them_but_not_walking() -> None:
    network = make_network([(0, 1)], [(0, 0), (100, 0)], oneway=[True])

    drive = dijkstra(network.graph("drive", "length"), indices=[0, 1])
    walk = dijkstra(network.graph("walk", "length"), indices=[0, 1])

    assert drive[0, 1] == pytest.approx(100.0)
    assert np.isinf(drive[1, 0])
    assert walk[1, 0] == pytest.approx(100.0)


def test_travel_time_follows_the_road_class_speed_and_closed_classes() -> None:
    network = make_network([(0, 1), (1, 2)], [(0, 0), (900, 0), (900, 450)], classes=["primary", "footway"])

    drive = dijkstra(network.graph("drive", "time"), indices=0)
    walk = dijkstra(network.graph("walk", "time"), indices=0)

    assert drive[1] == pytest.approx(900 / (45 / 3.6))  # primary roads: 45 km/h
    assert np.isinf(drive[2])  # no driving on footways
    assert walk[2] == pytest.approx(1350 / (4.5 / 3.6))


def test_parallel_edges_keep_the_cheapest_instead_of_summing() -> None:
    network = make_network([(0, 1), (0, 1)], [(0, 0), (30, 40)])
    network.length[1] = 80.0  # the same two nodes joined by a longer street

    graph = network.graph("walk", "length")

    assert graph[0, 1] == pytest.approx(50.0)
    assert graph[1, 0] == pytest.approx(50.0)


def test_components_are_listed_largest_first() -> None:
    network = make_network([(0, 1), (1, 2), (3, 4)], [(0, 0), (10, 0), (20, 0), (100, 0), (110, 0)])

    pieces = network.components("walk")

    assert pieces.count == 2
    assert pieces.sizes.tolist() == [3, 2]
    assert pieces.labels.tolist() == [0, 0, 0, 1, 1]
    assert pieces.largest_share == pytest.approx(0.6)


def test_save_and_load_round_trip_every_array_and_field(tmp_path: Path) -> None:
    network = make_network(
        [(0, 1), (1, 2)], [(0, 0), (10, 0), (10, 5)], classes=["service", "steps"], oneway=[True, False]
    )
    network.name, network.source, network.simulated = "成都 demo", "streets.gpkg", True
    path = tmp_path / "net.npz"

    network.save(path)
    loaded = Network.load(path)

    for name in ("x", "y", "edge_u", "edge_v", "length", "road_class", "oneway"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(network, name))
        assert getattr(loaded, name).dtype == getattr(network, name).dtype
    assert (loaded.crs, loaded.name, loaded.source, loaded.simulated) == (
        "EPSG:32648",
        "成都 demo",
        "streets.gpkg",
        True,
    )
    assert (loaded.graph("drive", "time") != network.graph("drive", "time")).nnz == 0


def test_save_writes_exactly_the_path_given_even_without_the_npz_suffix(tmp_path: Path) -> None:
    network = make_network([(0, 1)], [(0, 0), (10, 0)])

    network.save(tmp_path / "chengdu.network")

    assert [p.name for p in tmp_path.iterdir()] == ["chengdu.network"]
    assert Network.load(tmp_path / "chengdu.network").edge_count == 1


def test_a_million_edge_network_round_trips_as_plain_arrays(tmp_path: Path) -> None:
    n = 1_000_000
    rng = np.random.default_rng(7)
    network = Network(
        x=rng.uniform(0, 1e4, n),
        y=rng.uniform(0, 1e4, n),
        edge_u=np.arange(n, dtype=np.int32),
        edge_v=np.roll(np.arange(n, dtype=np.int32), -1),
        length=rng.uniform(1, 100, n),
        road_class=np.full(n, RESIDENTIAL, dtype=np.int8),
        oneway=np.zeros(n, dtype=np.bool_),
        crs="EPSG:32648",
    )
    network.save(tmp_path / "big.npz")

    loaded = Network.load(tmp_path / "big.npz")

    # loading reads arrays only (its speed is measured in benchmarks/coverage.py, not asserted);
    # the CSR graphs are built when first asked for
    assert loaded.edge_count == n
    assert not loaded._graphs
    np.testing.assert_array_equal(loaded.length, network.length)


def test_loading_a_file_that_is_not_a_network_names_it(tmp_path: Path) -> None:
    path = tmp_path / "streets.npz"
    path.write_text("not numpy")

    with pytest.raises(NetworkError, match=r"streets\.npz: not a planwatch network file"):
        Network.load(path)
