"""A street network as plain arrays: nodes in metres, undirected edges with length, road class and
one-way flag, and per-mode CSR graphs built on demand.

Every edge is one straight segment between two nodes (readers split polylines at their vertices),
so a point snapped onto an edge lies exactly on the segment and distances along it are exact.
Compressed sparse row (CSR) graphs are what ``scipy.sparse.csgraph.dijkstra`` runs on; they are
built once per mode and weight and cached on the network. A network saves to one ``.npz`` file
that loads in milliseconds.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse import csgraph

from planwatch.errors import PlanwatchError

Mode = Literal["walk", "bike", "drive"]
Weight = Literal["time", "length"]
MODES: Final[tuple[Mode, ...]] = ("walk", "bike", "drive")

ROAD_CLASSES: Final[tuple[str, ...]] = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "service",
    "living_street",
    "track",
    "path",
    "footway",
    "cycleway",
    "pedestrian",
    "steps",
)
"""Road classes after OSM's ``highway`` values; the index is the code stored per edge. Readers map
other values (``primary_link`` → ``primary``, unknown → ``unclassified``) with ``road_class_code``."""

SPEEDS_KMH: Final[Mapping[Mode, Mapping[str, float | None]]] = {
    # walking: 4.5 km/h (75 m/min) everywhere people may walk; motorways and trunk roads are closed
    "walk": {c: (None if c in ("motorway", "trunk") else 4.5) for c in ROAD_CLASSES},
    # cycling: 15 km/h on roads and cycleways, pushed (5 km/h) on footways and steps
    "bike": {
        c: (None if c in ("motorway", "trunk") else 5.0 if c in ("footway", "pedestrian", "steps") else 15.0)
        for c in ROAD_CLASSES
    },
    # driving: urban free-flow speeds by class; no driving on paths, footways, cycleways, steps
    "drive": {
        "motorway": 80.0,
        "trunk": 60.0,
        "primary": 45.0,
        "secondary": 40.0,
        "tertiary": 30.0,
        "unclassified": 30.0,
        "residential": 20.0,
        "service": 15.0,
        "living_street": 10.0,
        "track": 15.0,
        "path": None,
        "footway": None,
        "cycleway": None,
        "pedestrian": None,
        "steps": None,
    },
}
"""Default speeds by mode and road class (km/h); ``None`` closes the class to the mode. A city can
pass its own table to ``Network.graph``."""

_ALIASES: Final = {
    "motorway_link": "motorway",
    "trunk_link": "trunk",
    "primary_link": "primary",
    "secondary_link": "secondary",
    "tertiary_link": "tertiary",
    "road": "unclassified",
    "bridleway": "path",
    "corridor": "footway",
    "sidewalk": "footway",
    "crossing": "footway",
    # walk-only ways OSM tags apart (Helsinki's extract has 159 trails); unknown, they would be
    # driven as unclassified roads
    "trail": "path",
    "elevator": "footway",
    "escalator": "footway",
    "ladder": "steps",
}


def road_class_code(value: object) -> int:
    """The code of an OSM ``highway`` value (or a class name); unknown values are ``unclassified``."""
    name = str(value).strip().lower() if value is not None else ""
    name = _ALIASES.get(name, name)
    try:
        return ROAD_CLASSES.index(name)
    except ValueError:
        return ROAD_CLASSES.index("unclassified")


def speeds_key(speeds: Mapping[str, float | None] | None) -> object:
    """A cache key for a speeds table (by content: an ``id`` could be reused by a later table)."""
    return None if speeds is None else tuple(sorted(speeds.items()))


class NetworkError(PlanwatchError):
    """A network file or array set that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Components:
    """Connected pieces of a network (weakly connected, for the edges a mode may use)."""

    count: int
    sizes: npt.NDArray[np.int64]
    """Node count of each piece, largest first."""
    labels: npt.NDArray[np.int32]
    """Piece of each node (0 = the largest)."""

    @property
    def largest_share(self) -> float:
        total = int(self.sizes.sum())
        return float(self.sizes[0]) / total if total else 0.0


@dataclass(eq=False)
class Network:
    """A street network in a projected CRS (metres).

    Attributes
    ----------
    x, y : node coordinates in metres (``crs``)
    edge_u, edge_v : end nodes of each undirected edge (a straight segment)
    length : edge length in metres (> 0)
    road_class : index into ``ROAD_CLASSES``
    oneway : the edge may be driven only from ``edge_u`` to ``edge_v``
    crs : e.g. ``"EPSG:32648"`` (WGS 84 / UTM 48N, Chengdu)
    name, source : what the network is called and the file it came from
    simulated : the network is synthetic (模拟数据); every result computed on it says so
    """

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    edge_u: npt.NDArray[np.int32]
    edge_v: npt.NDArray[np.int32]
    length: npt.NDArray[np.float64]
    road_class: npt.NDArray[np.int8]
    oneway: npt.NDArray[np.bool_]
    crs: str
    name: str = "network"
    source: str = ""
    simulated: bool = False
    _graphs: dict[tuple[str, str, object, bool], sparse.csr_array] = field(default_factory=dict, repr=False)
    derived: dict[object, object] = field(default_factory=dict, repr=False)
    """Other structures built from the arrays once and reused (the snapping KD-tree per mode)."""

    def __post_init__(self) -> None:
        n, m = len(self.x), len(self.edge_u)
        if len(self.y) != n:
            raise NetworkError(f"network {self.name}: x has {n} nodes, y has {len(self.y)}")
        for name in ("edge_v", "length", "road_class", "oneway"):
            if len(getattr(self, name)) != m:
                raise NetworkError(
                    f"network {self.name}: {name} has {len(getattr(self, name))} edges, not {m}"
                )
        if m and (
            min(self.edge_u.min(), self.edge_v.min()) < 0 or max(self.edge_u.max(), self.edge_v.max()) >= n
        ):
            raise NetworkError(f"network {self.name}: an edge refers to a node that does not exist")
        if m and not np.all(self.length > 0):
            raise NetworkError(
                f"network {self.name}: every edge needs a positive length (zero-length edges are dropped by the readers)"
            )

    @property
    def node_count(self) -> int:
        return len(self.x)

    @property
    def edge_count(self) -> int:
        return len(self.edge_u)

    def speed(self, mode: Mode, speeds: Mapping[str, float | None] | None = None) -> npt.NDArray[np.float64]:
        """Speed of every edge for ``mode`` in metres per second; NaN where the mode may not go."""
        table = speeds if speeds is not None else SPEEDS_KMH[mode]
        by_class = np.array(
            [np.nan if table.get(c) is None else float(table[c]) / 3.6 for c in ROAD_CLASSES],  # type: ignore[arg-type]
            dtype=np.float64,
        )
        return by_class[self.road_class]

    def edge_weight(
        self, mode: Mode, weight: Weight = "time", speeds: Mapping[str, float | None] | None = None
    ) -> npt.NDArray[np.float64]:
        """Cost of traversing each edge: seconds (``time``) or metres (``length``); NaN if closed."""
        speed = self.speed(mode, speeds)
        if weight == "length":
            return np.where(np.isnan(speed), np.nan, self.length)
        return self.length / speed

    def graph(
        self,
        mode: Mode,
        weight: Weight = "time",
        speeds: Mapping[str, float | None] | None = None,
        *,
        reverse: bool = False,
    ) -> sparse.csr_array:
        """The directed CSR graph of ``mode``: both directions of every edge the mode may use, except
        the reverse of one-way edges when driving. Parallel edges keep the cheapest. ``reverse``
        turns every arc round (searches *towards* a place). Cached."""
        key = (mode, weight, speeds_key(speeds), reverse)
        cached = self._graphs.get(key)
        if cached is not None:
            return cached
        cost = self.edge_weight(mode, weight, speeds)
        usable = ~np.isnan(cost)
        forward = usable
        backward = usable & ~self.oneway if mode == "drive" else usable
        rows = np.concatenate([self.edge_u[forward], self.edge_v[backward]])
        cols = np.concatenate([self.edge_v[forward], self.edge_u[backward]])
        data = np.concatenate([cost[forward], cost[backward]])
        if reverse:
            rows, cols = cols, rows
        graph = csr_min(rows, cols, data, self.node_count)
        self._graphs[key] = graph
        return graph

    def components(self, mode: Mode = "walk") -> Components:
        """The weakly connected pieces of ``mode``'s graph, largest first."""
        count, labels = csgraph.connected_components(
            self.graph(mode, "length"), directed=True, connection="weak"
        )
        sizes = np.bincount(labels, minlength=count)
        order = np.argsort(-sizes, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(count)
        return Components(int(count), sizes[order].astype(np.int64), rank[labels].astype(np.int32))

    def save(self, path: Path) -> None:
        """Write the network to one ``.npz`` file (no pickles), at exactly ``path``."""
        # Through an open file: given a name, numpy appends ".npz" when the suffix differs, and
        # ``load(path)`` would then not find what ``save(path)`` wrote. Written next to the target
        # and renamed over it, so a failure never leaves a half-written network behind.
        target = Path(path)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                self._write(file)
            Path(temporary).replace(target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _write(self, file: BinaryIO) -> None:
        np.savez(
            file,
            x=self.x,
            y=self.y,
            edge_u=self.edge_u,
            edge_v=self.edge_v,
            length=self.length,
            road_class=self.road_class,
            oneway=self.oneway,
            meta=np.array([self.crs, self.name, self.source, "1" if self.simulated else "0"]),
        )

    @classmethod
    def load(cls, path: Path) -> Network:
        """Read a network written by ``save``."""
        try:
            with np.load(path, allow_pickle=False) as data:
                crs, name, source, simulated = (str(v) for v in data["meta"])
                return cls(
                    x=data["x"],
                    y=data["y"],
                    edge_u=data["edge_u"],
                    edge_v=data["edge_v"],
                    length=data["length"],
                    road_class=data["road_class"],
                    oneway=data["oneway"],
                    crs=crs,
                    name=name,
                    source=source,
                    simulated=simulated == "1",
                )
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise NetworkError(
                f"{path}: not a planwatch network file ({exc}); build one with `planwatch coverage network FILE`"
            ) from exc


def csr_min(
    rows: npt.NDArray[np.integer], cols: npt.NDArray[np.integer], data: npt.NDArray[np.float64], n: int
) -> sparse.csr_array:
    """An n×n CSR array from COO triples keeping the *minimum* of duplicate entries (scipy would sum
    them, turning two parallel streets into one twice as long)."""
    key = rows.astype(np.int64) * n + cols
    order = np.argsort(key, kind="stable")  # one integer key sorts ~10× faster than a lexsort
    key, data = key[order], data[order]
    if len(key):
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        data, key = np.minimum.reduceat(data, starts), key[starts]
    rows, cols = key // n, key % n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    index_type = np.int32 if n < 2**31 - 1 else np.int64
    return sparse.csr_array((data, cols.astype(index_type), indptr.astype(index_type)), shape=(n, n))
