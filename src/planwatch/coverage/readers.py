"""Street-network readers: polylines from GeoJSON, GeoPackage, shapefiles, OSMnx GraphML and OSM
files become a ``Network`` of straight segments in metres, with a ``NetworkReport`` saying what was
cleaned on the way.

Every reader returns the file's polylines as a ``LineSet`` (flat vertex arrays in the file's CRS);
one builder then projects them to metres, merges vertices closer than the snap tolerance into one
node, splits every polyline at every vertex and drops what cannot be routed. Readers register
themselves by file suffix in ``READERS``; a new format is one more registered function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import osmium
import pyogrio.errors
import pyogrio.raw
import shapely
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from planwatch.coverage.network import Network, NetworkError, road_class_code

__all__ = [
    "READERS",
    "SKIPPED_HIGHWAYS",
    "LineSet",
    "NetworkReport",
    "network_from_file",
    "network_from_lines",
    "register_reader",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SKIPPED_HIGHWAYS: Final = frozenset(
    {
        # not a way people or vehicles use yet, or any more
        "abandoned",
        "construction",
        "disused",
        "no",
        "planned",
        "proposed",
        "razed",
        # not part of the street network (pyrosm and OSMnx leave these out of every network too)
        "bus_stop",
        "emergency_bay",
        "platform",
        "raceway",
        "rest_area",
        "services",
    }
)
"""OSM ``highway`` values that are not streets; ways tagged ``area=yes`` are left out as well."""


@dataclass
class LineSet:
    """Polylines as flat arrays, in the CRS they were read in (``crs``, ``None`` if undeclared).

    Line ``i`` is ``coords[offsets[i]:offsets[i + 1]]``; a one-way line may be driven from its first
    vertex to its last. ``vertex_ids`` holds the source's node id of each vertex (OSM node, GraphML
    node) or -1, so the report can flag separate source nodes that end up merged.
    """

    coords: FloatArray
    offsets: IntArray
    road_class: npt.NDArray[np.int8]
    oneway: npt.NDArray[np.bool_]
    crs: CRS | None = None
    vertex_ids: IntArray | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    """What the reader left out, by reason (e.g. ``"features without a line geometry": 3``)."""


@dataclass
class NetworkReport:
    """What building a network did: sizes, what was dropped or merged, the CRS and connectivity."""

    source: str
    nodes: int
    edges: int
    lines: int
    zero_length_dropped: int
    """Segments between two identical vertices (a vertex repeated in the source)."""
    self_loops_dropped: int
    """Segments whose two ends were merged into one node by snapping."""
    duplicate_edges: int
    """Edges that repeat another edge between the same two nodes; kept (routing uses the cheapest)."""
    snapped_merges: int
    """Distinct vertex positions merged into a nearby one because they lay within the tolerance."""
    snap_tolerance: float
    crs: str
    crs_auto: bool
    """The CRS was chosen by the reader (a UTM zone from the data's centre), not taken from the file."""
    components: int
    largest_share: float
    """Share of nodes in the largest piece of the walking network (0–1)."""
    crs_note: str = ""
    colocated_source_nodes: int = 0
    """Network nodes formed from more than one source node (OSM or GraphML ids): bridges, tunnels,
    levels or mapping slips that are separate in the source but share a place."""
    skipped: dict[str, int] = field(default_factory=dict)

    def messages(self) -> list[str]:
        """Human-readable lines, headline first (the headline is bilingual)."""
        share = f"{100 * self.largest_share:.1f} %"
        if self.components <= 1:
            lines = [f"路网连通 / the network is connected: {self.nodes:,} nodes, {self.edges:,} edges"]
        else:
            lines = [
                f"路网 {self.components} 个不连通部分 / {self.components} disconnected pieces; "
                f"the largest holds {share} of nodes"
            ]
        lines.append(
            f"{self.source or 'network'}: {self.lines:,} lines split into {self.edges:,} straight "
            f"segments between {self.nodes:,} nodes"
        )
        crs_line = f"CRS {self.crs}" + (" (chosen automatically)" if self.crs_auto else "")
        lines.append(crs_line + (f": {self.crs_note}" if self.crs_note else ""))
        counts = [
            (self.zero_length_dropped, "zero-length segments dropped (a vertex repeated in the source)"),
            (
                self.self_loops_dropped,
                f"segments dropped because both ends lie within {self.snap_tolerance:g} m of each other",
            ),
            (
                self.snapped_merges,
                f"vertices merged into a neighbour within {self.snap_tolerance:g} m (snap tolerance)",
            ),
            (
                self.duplicate_edges,
                "edges repeat another edge between the same two nodes (kept; routing uses the cheapest)",
            ),
            (
                self.colocated_source_nodes,
                "nodes join source nodes that are separate in the file (a bridge, tunnel or level at "
                "the same place, or a mapping slip): check them if routes look wrong there",
            ),
            *((count, f"left out: {reason}") for reason, count in self.skipped.items()),
        ]
        lines.extend(f"{count:,} {text}" for count, text in counts if count)
        return lines


def network_from_lines(
    lines: Sequence[npt.ArrayLike],
    *,
    road_class: npt.ArrayLike,
    oneway: npt.ArrayLike,
    crs: str,
    snap_tolerance: float = 1.0,
    name: str = "network",
    source: str = "",
    simulated: bool = False,
) -> tuple[Network, NetworkReport]:
    """Build a network from polylines in metres.

    Every polyline is split at every vertex into straight segments, one edge each. Vertices within
    ``snap_tolerance`` metres of each other become one node (transitively: a chain of close
    vertices is one node), so lines that meet only roughly are joined.

    Parameters
    ----------
    lines : sequence of (k, 2) arrays
        Vertex coordinates of each polyline, in metres in ``crs``.
    road_class : (len(lines),) int8 array
        Class codes from ``road_class_code``.
    oneway : (len(lines),) bool array
        The line may be driven only from its first vertex to its last.
    crs : str
        The projected CRS of the coordinates, e.g. ``"EPSG:32648"``.
    snap_tolerance : float
        Vertices closer than this (metres) are merged; 0 merges only identical positions.
    name, source, simulated
        Stored on the network.

    Returns
    -------
    (Network, NetworkReport)

    Raises
    ------
    NetworkError
        Arrays of the wrong shape or length, coordinates that are not finite, or no usable edge.
    """
    where = source or name
    arrays = [np.asarray(line, dtype=np.float64) for line in lines]
    for i, array in enumerate(arrays):
        if array.ndim != 2 or array.shape[1] != 2:
            raise NetworkError(
                f"{where}: line {i} has shape {array.shape}; every line needs (k, 2) coordinates"
            )
    coords, offsets = _ragged(arrays)
    classes = np.asarray(road_class, dtype=np.int8)
    one = np.asarray(oneway, dtype=np.bool_)
    for label, values in (("road_class", classes), ("oneway", one)):
        if values.shape != (len(arrays),):
            raise NetworkError(f"{where}: {label} has {values.size} values for {len(arrays)} lines")
    line_set = LineSet(coords=coords, offsets=offsets, road_class=classes, oneway=one)
    return _build(
        line_set,
        crs=crs,
        crs_auto=False,
        crs_note="",
        snap_tolerance=snap_tolerance,
        name=name,
        source=source,
        simulated=simulated,
    )


Reader = Callable[[Path, "str | None"], LineSet]
READERS: dict[str, Reader] = {}
"""File suffix (lower case, with the dot) → reader; the longest matching suffix wins."""


def register_reader(*suffixes: str) -> Callable[[Reader], Reader]:
    """Register a reader for file suffixes such as ``".gpkg"`` or ``".osm.pbf"``."""

    def register(reader: Reader) -> Reader:
        for suffix in suffixes:
            READERS[suffix.lower()] = reader
        return reader

    return register


def network_from_file(
    path: Path | str,
    *,
    layer: str | None = None,
    snap_tolerance: float | None = None,
    crs: str | None = None,
    name: str | None = None,
) -> tuple[Network, NetworkReport]:
    """Read a street network file into a network in metres.

    The reader is chosen by suffix (see ``READERS``): GeoJSON, GeoPackage and shapefiles (line
    layers; ``highway``/``class``/``fclass``/``road_class`` and ``oneway`` columns), OSMnx GraphML,
    and OSM PBF or XML (ways with a ``highway`` tag). Longitude/latitude, feet and Web Mercator
    are projected to the local UTM zone; a CRS in metres is kept.

    Parameters
    ----------
    path : Path or str
        The file.
    layer : str, optional
        Layer of a multi-layer file (GeoPackage); by default its only line layer.
    snap_tolerance : float, optional
        Vertices closer than this (metres) are merged into one node. By default 0 for OSM and
        GraphML files, whose node ids already give the topology (only vertices at the very same
        position are merged), and 1 m for line layers, whose line ends rarely meet exactly.
    crs : str, optional
        The CRS of the file's coordinates (e.g. ``"EPSG:4490"``), for files that declare none;
        it replaces a declared CRS.
    name : str, optional
        The network's name; by default the file name without its suffixes.

    Returns
    -------
    (Network, NetworkReport)

    Raises
    ------
    NetworkError
        A missing, unreadable or unsupported file, no CRS, no line geometries or no usable edge;
        the message names the file and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"{path}: no such file; check the path")
    suffix = _matching_suffix(path)
    if suffix is None:
        supported = ", ".join(sorted(READERS))
        raise NetworkError(f"{path}: unsupported file type; street networks are read from {supported}")
    line_set = READERS[suffix](path, layer)
    if crs is not None:
        try:
            line_set.crs = CRS.from_user_input(crs)
        except CRSError as exc:
            raise NetworkError(f"{path}: crs={crs!r} is not a coordinate reference system ({exc})") from exc
    source_crs = line_set.crs
    if source_crs is None:
        raise NetworkError(
            f"{path}: the file does not say which coordinate reference system its coordinates are in; "
            "pass --crs EPSG:xxxx (crs='EPSG:xxxx'), e.g. EPSG:4326 for longitude/latitude"
        )
    target, auto, note = _project(line_set, source_crs, path)
    return _build(
        line_set,
        crs=target,
        crs_auto=auto,
        crs_note=note,
        snap_tolerance=snap_tolerance
        if snap_tolerance is not None
        else (0.0 if line_set.vertex_ids is not None else 1.0),
        name=name if name is not None else path.name[: -len(suffix)] or path.name,
        source=str(path),
        simulated=False,
    )


def _matching_suffix(path: Path) -> str | None:
    lower = path.name.lower()
    matches = [suffix for suffix in READERS if lower.endswith(suffix)]
    return max(matches, key=len) if matches else None


# ----------------------------------------------------------------------------------------------
# Projection


def _project(line_set: LineSet, source: CRS, path: Path) -> tuple[str, bool, str]:
    """Project ``line_set.coords`` from ``source`` in place to metres; returns the CRS name, whether
    it was chosen automatically, and a note for the report."""
    if source.is_projected and not _needs_reprojection(source):
        return _crs_name(source), False, ""
    coords = line_set.coords
    if not len(coords):
        return _crs_name(source), False, ""
    to_lonlat = Transformer.from_crs(source, CRS.from_epsg(4326), always_xy=True)
    lon, lat = to_lonlat.transform(coords[:, 0], coords[:, 1])
    if not (np.all(np.isfinite(lon)) and np.all(np.abs(lat) <= 90) and np.all(np.abs(lon) <= 180)):
        raise NetworkError(
            f"{path}: coordinates do not fit the declared CRS {_crs_name(source)} (not longitude/latitude "
            "after conversion); pass the right one with --crs EPSG:xxxx"
        )
    # The median vertex, not the bounding box centre: one stray far-away line should not move the zone.
    centre_lon, centre_lat = float(np.median(lon)), float(np.median(lat))
    zone = int((centre_lon + 180) // 6) % 60 + 1
    epsg = (32600 if centre_lat >= 0 else 32700) + zone
    target = CRS.from_epsg(epsg)
    x, y = Transformer.from_crs(source, target, always_xy=True).transform(coords[:, 0], coords[:, 1])
    line_set.coords = np.column_stack([x, y]).astype(np.float64)
    hemisphere = "N" if centre_lat >= 0 else "S"
    if source.is_geographic:
        note = f"longitude/latitude projected to UTM zone {zone}{hemisphere}, chosen from the data's centre"
    else:
        unit = source.axis_info[0].unit_name if source.axis_info else "unknown units"
        note = (
            f"reprojected from {_crs_name(source)} ({unit}, {_method(source) or 'projection'}) to UTM zone "
            f"{zone}{hemisphere}: distances must be true metres"
        )
    return f"EPSG:{epsg}", True, note


def _needs_reprojection(crs: CRS) -> bool:
    """A projected CRS needs reprojection if its unit is not the metre, or if it is a (pseudo-)
    Mercator, whose metres are stretched by 1/cos(latitude): 55 % too long at 50° N."""
    units = {axis.unit_name.lower() for axis in crs.to_2d().axis_info}
    if not units <= {"metre", "meter", "m"}:
        return True
    method = _method(crs).lower()
    return "mercator" in method and "transverse" not in method and "oblique" not in method


def _method(crs: CRS) -> str:
    operation = crs.to_2d().coordinate_operation
    return operation.method_name if operation is not None else ""


def _crs_name(crs: CRS) -> str:
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()


# ----------------------------------------------------------------------------------------------
# Building the network


def _build(
    line_set: LineSet,
    *,
    crs: str,
    crs_auto: bool,
    crs_note: str,
    snap_tolerance: float,
    name: str,
    source: str,
    simulated: bool,
) -> tuple[Network, NetworkReport]:
    where = source or name
    coords, offsets = line_set.coords, line_set.offsets
    if not np.all(np.isfinite(coords)):
        raise NetworkError(f"{where}: some coordinates are not finite numbers (NaN or infinity)")
    if not snap_tolerance >= 0:
        raise NetworkError(f"{where}: snap tolerance must be 0 or more metres, not {snap_tolerance}")
    line_count = len(offsets) - 1
    line_of = np.repeat(np.arange(line_count, dtype=np.int64), np.diff(offsets))
    # A segment joins each vertex to the next one of the same line.
    start = np.flatnonzero(line_of[:-1] == line_of[1:]) if len(line_of) > 1 else np.empty(0, np.int64)
    end = start + 1
    segment_line = line_of[start]

    position, unique = _unique_positions(coords)
    nonempty = offsets[1:] > offsets[:-1]
    ends = np.unique(np.concatenate([position[offsets[:-1][nonempty]], position[offsets[1:][nonempty] - 1]]))
    cluster, node_xy = _snap(unique, snap_tolerance, ends=ends, segments=(position[start], position[end]))
    node = cluster[position]
    u, v = node[start], node[end]
    zero_length = position[start] == position[end]
    kept = u != v
    self_loops = int(np.count_nonzero(~kept & ~zero_length))

    u, v, segment_line = u[kept], v[kept], segment_line[kept]
    if not len(u):
        raise NetworkError(
            f"{where}: no usable street segments (every line is empty, a single point or zero length); "
            "check that the file holds the street lines"
        )
    # Keep only nodes that some edge uses, numbered in the same order (a mask: no sort needed).
    used = np.zeros(len(node_xy), dtype=bool)
    used[u] = used[v] = True
    number = np.cumsum(used) - 1
    edge_u, edge_v = number[u].astype(np.int32), number[v].astype(np.int32)
    x, y = node_xy[used, 0].copy(), node_xy[used, 1].copy()
    pair = np.sort(np.minimum(edge_u, edge_v).astype(np.int64) * len(x) + np.maximum(edge_u, edge_v))
    network = Network(
        x=x,
        y=y,
        edge_u=edge_u,
        edge_v=edge_v,
        length=np.hypot(x[edge_u] - x[edge_v], y[edge_u] - y[edge_v]),
        road_class=line_set.road_class[segment_line].astype(np.int8),
        oneway=line_set.oneway[segment_line].astype(np.bool_),
        crs=crs,
        name=name,
        source=source,
        simulated=simulated,
    )
    components = network.components("walk")
    report = NetworkReport(
        source=source,
        nodes=network.node_count,
        edges=network.edge_count,
        lines=line_count,
        zero_length_dropped=int(np.count_nonzero(zero_length)),
        self_loops_dropped=self_loops,
        duplicate_edges=int(np.count_nonzero(pair[1:] == pair[:-1])),
        snapped_merges=len(unique) - len(node_xy),
        snap_tolerance=float(snap_tolerance),
        crs=crs,
        crs_auto=crs_auto,
        crs_note=crs_note,
        components=components.count,
        largest_share=components.largest_share,
        colocated_source_nodes=_colocated(node, line_set.vertex_ids),
        skipped=dict(line_set.skipped),
    )
    return network, report


def _unique_positions(coords: FloatArray) -> tuple[IntArray, FloatArray]:
    """Index of each vertex's position among the distinct positions, and those positions (sorted by
    x, then y). A sort and a neighbour comparison: linear memory, fast for millions of vertices."""
    order = np.lexsort((coords[:, 1], coords[:, 0]))
    ordered = coords[order]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    position = np.empty(len(coords), dtype=np.int64)
    position[order] = np.cumsum(first) - 1
    return position, ordered[first]


def _snap(
    points: FloatArray, tolerance: float, *, ends: IntArray, segments: tuple[IntArray, IntArray]
) -> tuple[IntArray, FloatArray]:
    """Node of each point and the nodes' coordinates. Vertices at the same position are one node
    already; within ``tolerance`` only a line's *end* joins what lies near it (the dangling end of a
    street drawn a little short of the one it meets). Two interior vertices never merge, so
    streets crossing at different levels stay apart and a finely drawn street keeps its shape;
    neither do the two ends of one segment. Joined points form one node at its first point."""
    identity = np.arange(len(points), dtype=np.int64)
    if tolerance <= 0 or len(points) < 2 or not len(ends):
        return identity, points
    pairs = cKDTree(points).query_pairs(tolerance, output_type="ndarray")
    if len(pairs):
        is_end = np.zeros(len(points), dtype=bool)
        is_end[ends] = True
        n = len(points)
        low, high = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
        seg_low, seg_high = np.minimum(*segments), np.maximum(*segments)
        own_segment = np.isin(low * n + high, seg_low * n + seg_high)
        pairs = pairs[(is_end[pairs[:, 0]] | is_end[pairs[:, 1]]) & ~own_segment]
    if not len(pairs):
        return identity, points
    links = sparse.coo_array(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(len(points), len(points))
    )
    _, labels = csgraph.connected_components(links, directed=False)
    # The first occurrence of each label is the piece's lowest-numbered point.
    _, first = np.unique(labels, return_index=True)
    return labels.astype(np.int64), points[first]


def _colocated(node: IntArray, vertex_ids: IntArray | None) -> int:
    if vertex_ids is None or not len(node):
        return 0
    known = vertex_ids >= 0
    pairs = np.unique(np.column_stack([node[known], vertex_ids[known]]), axis=0)
    return int(np.count_nonzero(np.bincount(pairs[:, 0]) > 1)) if len(pairs) else 0


# ----------------------------------------------------------------------------------------------
# Tag values


def _text(value: object) -> str:
    """A tag or column value as lower-case text; a list (OSMnx merges ways: ``['primary',
    'secondary']``) gives its first item."""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    text = str(value).strip().lower() if value is not None else ""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].split(",")[0].strip().strip("'\"")
    return text


_FORWARD: Final = frozenset({"yes", "true", "1", "1.0"})
_REVERSED: Final = frozenset({"-1", "-1.0", "reverse"})
# Geofabrik's shapefiles code one-way streets as F (forward), T (backward) and B (both).
_GEOFABRIK_ONEWAY: Final = {"f": 1, "t": -1, "b": 0}


def _direction(value: object, *, geofabrik: bool = False) -> int:
    """1 for one-way along the line, -1 for one-way against it, 0 for two-way."""
    text = _text(value)
    if geofabrik and text in _GEOFABRIK_ONEWAY:
        return _GEOFABRIK_ONEWAY[text]
    return 1 if text in _FORWARD else -1 if text in _REVERSED else 0


def _per_value(values: npt.NDArray[Any], function: Callable[[object], int]) -> IntArray:
    """``function`` of every value's text, evaluated once per distinct value (a column repeats a
    few values over many rows)."""
    if not len(values):
        return np.empty(0, dtype=np.int64)
    distinct, inverse = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return np.array([function(_text(text)) for text in distinct], dtype=np.int64)[inverse]


def _ragged(parts: Sequence[npt.NDArray[Any]]) -> tuple[npt.NDArray[Any], IntArray]:
    """Per-line arrays as one array and the offsets where each line starts."""
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(part) for part in parts], out=offsets[1:])
    return (np.concatenate(parts) if parts else np.empty((0, 2))), offsets


def _line_set(
    coords: FloatArray,
    offsets: IntArray,
    classes: npt.ArrayLike,
    directions: npt.ArrayLike,
    *,
    crs: CRS | None,
    vertex_ids: IntArray | None = None,
    skipped: dict[str, int] | None = None,
) -> LineSet:
    """A line set whose lines one-way against their drawing (direction -1) are reversed."""
    direction = np.asarray(directions, dtype=np.int64)
    line = np.repeat(np.arange(len(direction)), np.diff(offsets))
    index = np.arange(len(coords))
    flip = direction[line] < 0
    # Within a reversed line, vertex i of [start, end) moves to start + end - 1 - i.
    index[flip] = offsets[line[flip]] + offsets[line[flip] + 1] - 1 - index[flip]
    return LineSet(
        coords=np.asarray(coords, dtype=np.float64)[index],
        offsets=offsets,
        road_class=np.asarray(classes, dtype=np.int8),
        oneway=direction != 0,
        crs=crs,
        vertex_ids=None if vertex_ids is None else vertex_ids[index],
        skipped={reason: count for reason, count in (skipped or {}).items() if count},
    )


# ----------------------------------------------------------------------------------------------
# Readers

_CLASS_COLUMNS: Final = ("highway", "road_class", "class", "fclass")
_LINE_TYPES: Final = ("LineString", "MultiLineString")


@register_reader(".geojson", ".json", ".gpkg", ".shp")
def _read_vector(path: Path, layer: str | None) -> LineSet:
    """Line layers read through GDAL (pyogrio)."""
    try:
        layer = layer if layer is not None else _line_layer(path)
        meta, _, wkb, field_data = pyogrio.raw.read(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise NetworkError(
            f"{path}: cannot read the file ({exc}); check that it is a valid vector file"
        ) from exc
    columns = {str(name).lower(): values for name, values in zip(meta["fields"], field_data, strict=True)}
    geometries = shapely.from_wkb(wkb)
    # Multi-lines become their parts; other geometries (points, polygons, nothing) are left out.
    is_line = np.isin(shapely.get_type_id(geometries), [1, 5])
    if not is_line.any():
        where, advice = (
            (f"layer {layer!r}", "pick the street layer with --layer NAME")
            if layer
            else ("the file", "export the streets as LineString features")
        )
        raise NetworkError(
            f"{path}: {where} has no line geometries (geometry type {meta['geometry_type']}); {advice}"
        )
    parts, feature = shapely.get_parts(geometries[is_line], return_index=True)
    feature = np.flatnonzero(is_line)[feature]
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    # get_coordinates skips empty parts: the lines are the parts that have coordinates
    nonempty, counts = np.unique(part_of, return_counts=True)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    feature = feature[nonempty]

    class_column = next((columns[c] for c in _CLASS_COLUMNS if c in columns), None)
    classes = (
        _per_value(class_column, road_class_code)[feature]
        if class_column is not None
        else np.full(len(feature), road_class_code("unclassified"))
    )
    oneway_column = columns.get("oneway")
    geofabrik = "fclass" in columns
    directions = (
        _per_value(oneway_column, lambda text: _direction(text, geofabrik=geofabrik))[feature]
        if oneway_column is not None
        else np.zeros(len(feature), dtype=np.int64)
    )
    crs = CRS.from_user_input(meta["crs"]) if meta["crs"] else None
    skipped = {"features without a line geometry": int(np.count_nonzero(~is_line))}
    return _line_set(coords, offsets, classes, directions, crs=crs, skipped=skipped)


def _line_layer(path: Path) -> str | None:
    """The only line layer of a multi-layer file; ``None`` lets GDAL pick its first layer."""
    layers = pyogrio.list_layers(path)
    if len(layers) <= 1:
        return None
    lines = [str(name) for name, kind in layers if any(str(kind).startswith(t) for t in _LINE_TYPES)]
    if len(lines) == 1:
        return lines[0]
    names = ", ".join(str(name) for name, _ in layers)
    if not lines:
        raise NetworkError(
            f"{path}: no layer has line geometries (layers: {names}); export the streets as lines"
        )
    raise NetworkError(f"{path}: several line layers ({', '.join(lines)}); choose one with --layer NAME")


_GRAPHML: Final = "{http://graphml.graphdrawing.org/xmlns}"


@register_reader(".graphml")
def _read_graphml(path: Path, layer: str | None) -> LineSet:
    """An OSMnx GraphML export, without networkx: nodes with x/y, edges with an optional WKT
    geometry. OSMnx lists a two-way street once per direction; each street becomes one line."""
    try:
        root = SafeElementTree.parse(path).getroot()
        if root is None:
            raise SafeElementTree.ParseError("no root element")
    except (SafeElementTree.ParseError, DefusedXmlException) as exc:
        raise NetworkError(
            f"{path}: not a readable GraphML file ({exc}); export it again with osmnx.save_graphml"
        ) from exc
    keys = {key.get("id"): key.get("attr.name") for key in root.iter(f"{_GRAPHML}key")}
    graph = root.find(f"{_GRAPHML}graph")
    if graph is None:
        raise NetworkError(f"{path}: no <graph> element; export it again with osmnx.save_graphml")

    def data(element: Any) -> dict[str, str]:
        return {str(keys.get(d.get("key"))): d.text or "" for d in element.findall(f"{_GRAPHML}data")}

    crs_text = data(graph).get("crs")
    xy: dict[str, tuple[float, float]] = {}
    node_number: dict[str, int] = {}
    for node in graph.iter(f"{_GRAPHML}node"):
        node_id, values = str(node.get("id")), data(node)
        try:
            xy[node_id] = (float(values["x"]), float(values["y"]))
        except (KeyError, ValueError) as exc:
            raise NetworkError(f"{path}: node {node_id} has no numeric x/y coordinates") from exc
        node_number[node_id] = len(node_number)
    directed = graph.get("edgedefault") == "directed"

    # One entry per street: key = its vertices drawn in a canonical direction; value = the
    # directions (relative to that drawing) in which it may be driven, its class and end node ids.
    streets: dict[bytes, tuple[set[int], int, FloatArray, tuple[int, int]]] = {}
    for edge in graph.iter(f"{_GRAPHML}edge"):
        values = data(edge)
        source, target = str(edge.get("source")), str(edge.get("target"))
        if source not in xy or target not in xy:
            raise NetworkError(f"{path}: edge {source}–{target} refers to a node that is not in the file")
        # Undirected exports (momepy) keep OSMnx's direction in from/to attributes.
        if not directed and values.get("from") in xy and values.get("to") in xy:
            source, target = values["from"], values["to"]
        line = _graphml_line(values.get("geometry"), xy[source], xy[target], path)
        reverse = line[::-1]
        forward = tuple(line.ravel()) <= tuple(reverse.ravel())
        canonical = line if forward else reverse
        ends = (
            (node_number[source], node_number[target])
            if forward
            else (node_number[target], node_number[source])
        )
        directions = {1 if forward else -1}
        if _direction(values.get("oneway")) == 0:
            directions.add(-1 if forward else 1)
        key = canonical.tobytes()
        seen = streets.get(key)
        if seen is not None:
            seen[0].update(directions)
        else:
            streets[key] = (directions, road_class_code(_text(values.get("highway"))), canonical, ends)

    parts, classes, oneway, ids = [], [], [], []
    for directions, code, line, (first, last) in streets.values():
        parts.append(line)
        classes.append(code)
        oneway.append(0 if len(directions) == 2 else next(iter(directions)))
        ids.append(np.array([first] + [-1] * (len(line) - 2) + [last], dtype=np.int64))
    try:
        crs = CRS.from_user_input(crs_text) if crs_text else _lonlat_or_none(xy)
    except CRSError as exc:
        raise NetworkError(
            f"{path}: the graph's crs attribute {crs_text!r} is not a coordinate reference system ({exc});"
            " correct it, or pass --crs EPSG:xxxx"
        ) from exc
    coords, offsets = _ragged(parts)
    return _line_set(coords, offsets, classes, oneway, crs=crs, vertex_ids=_ragged(ids)[0])


def _graphml_line(
    wkt: str | None, start: tuple[float, float], end: tuple[float, float], path: Path
) -> FloatArray:
    """The edge's geometry drawn from ``start`` to ``end``; a straight line if it has none."""
    if not wkt:
        return np.array([start, end], dtype=np.float64)
    try:
        line = shapely.get_coordinates(shapely.from_wkt(wkt))
    except shapely.errors.GEOSException as exc:
        raise NetworkError(f"{path}: an edge geometry is not valid WKT ({wkt[:60]}…)") from exc
    if len(line) < 2:
        return np.array([start, end], dtype=np.float64)
    # OSMnx draws u→v, but a reversed copy or an undirected export may not: orient by the ends.
    if np.hypot(*(line[0] - start)) > np.hypot(*(line[-1] - start)):
        line = line[::-1]
    return np.asarray(line, dtype=np.float64)


def _lonlat_or_none(xy: dict[str, tuple[float, float]]) -> CRS | None:
    """GraphML without a crs attribute: OSMnx's unprojected graphs are longitude/latitude."""
    values = np.array(list(xy.values()))
    if len(values) and np.all(np.abs(values[:, 0]) <= 180) and np.all(np.abs(values[:, 1]) <= 90):
        return CRS.from_epsg(4326)
    return None


_IMPLIED_ONEWAY_HIGHWAYS: Final = frozenset({"motorway"})
_IMPLIED_ONEWAY_JUNCTIONS: Final = frozenset({"roundabout", "circular"})
_NOT_ONEWAY: Final = frozenset({"no", "false", "0"})


@register_reader(".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")
def _read_osm(path: Path, layer: str | None) -> LineSet:
    """Ways with a ``highway`` tag from an OSM file (pyosmium). Intersections share node ids,
    and identical ids give identical coordinates, so they become one node."""
    parts: list[FloatArray] = []
    ids: list[IntArray] = []
    classes: list[int] = []
    directions: list[int] = []
    not_streets = missing = 0
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    try:
        for way in processor:
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = way.tags
            highway = tags.get("highway", "")
            if highway in SKIPPED_HIGHWAYS or tags.get("area") == "yes":
                not_streets += 1
                continue
            oneway = tags.get("oneway", "")
            direction = _direction(oneway)
            if (
                direction == 0
                and oneway not in _NOT_ONEWAY
                and (highway in _IMPLIED_ONEWAY_HIGHWAYS or tags.get("junction") in _IMPLIED_ONEWAY_JUNCTIONS)
            ):
                direction = 1
            # A way whose nodes are missing from an extract is split where they are missing.
            run: list[tuple[float, float]] = []
            run_ids: list[int] = []
            for way_node in [*way.nodes, None]:
                if way_node is not None and way_node.location.valid():
                    run.append((way_node.lon, way_node.lat))
                    run_ids.append(way_node.ref)
                    continue
                missing += way_node is not None
                if len(run) >= 2:
                    parts.append(np.array(run, dtype=np.float64))
                    ids.append(np.array(run_ids, dtype=np.int64))
                    classes.append(road_class_code(highway))
                    directions.append(direction)
                run, run_ids = [], []
    except RuntimeError as exc:
        raise NetworkError(
            f"{path}: cannot read the OSM file ({exc}); it may be truncated or not OSM data: download it again"
        ) from exc
    skipped = {
        "ways that are not streets (area=yes, proposed, construction, platform, …)": not_streets,
        "way nodes without a location in the file (the ways are split there)": missing,
    }
    coords, offsets = _ragged(parts)
    return _line_set(
        coords,
        offsets,
        classes,
        directions,
        crs=CRS.from_epsg(4326),
        vertex_ids=_ragged(ids)[0],
        skipped=skipped,
    )
