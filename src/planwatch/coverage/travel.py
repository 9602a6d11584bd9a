"""Travel costs from where people live to the nearest facility, on the street network.

Points (residents, facilities) are snapped onto the nearest *edge*, not the nearest node: the
point's projection on the segment splits it at a fraction ``t``, and the straight walk from the
point to the network (the access leg) is added to every cost. A facility becomes a virtual node
joined to both ends of its edge; one bounded multi-source Dijkstra per facility type
(``scipy.sparse.csgraph.dijkstra(..., min_only=True, limit=...)``) then gives every node its cost
to the nearest facility and which facility that is. An origin's cost is the cheaper of its two
edge ends plus the part of the edge between, and a facility on the origin's own edge is reached
along the edge directly.

Directions matter only when driving (one-way streets): ``from_facility`` is a fire crew driving
out to residents, ``to_facility`` is residents travelling to the facility (a search on the
reversed graph).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from planwatch.coverage.network import SPEEDS_KMH, Mode, Network, NetworkError, Weight, speeds_key
from planwatch.errors import InvalidValueError

Direction = Literal["to_facility", "from_facility"]
"""``to_facility``: residents travel to the facility; ``from_facility``: crews travel out (fire)."""
_Costs = tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]
"""Cost of every edge, and whether it may be travelled forward (u→v) and backward (v→u)."""

SAMPLE_SPACING_M: Final = 40.0
"""Edges are sampled every 40 m (at the middle of pieces of at most 40 m) for the snapping KD-tree;
a point is projected exactly onto the edges of its nearest samples, and asks for more samples until
no unseen edge can be nearer (every point of an edge lies within 20 m of one of its samples)."""

_CANDIDATES: Final = 8


@dataclass(frozen=True)
class Snapped:
    """Points placed on the network: edge index, fraction along it from ``edge_u``, and the
    straight distance from the point to that place (the access leg, metres)."""

    edge: npt.NDArray[np.int64]
    t: npt.NDArray[np.float64]
    access_m: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.edge)

    def take(self, index: npt.NDArray[np.integer]) -> Snapped:
        return Snapped(self.edge[index], self.t[index], self.access_m[index])


@dataclass(frozen=True)
class Nearest:
    """For every origin: the cost to the nearest facility (``inf`` beyond the search limit or when
    unreachable) and that facility's index (``-1`` if none)."""

    cost: npt.NDArray[np.float64]
    facility: npt.NDArray[np.int64]


def _usable_edges(
    network: Network, mode: Mode, speeds: Mapping[str, float | None] | None
) -> npt.NDArray[np.int64]:
    return np.flatnonzero(~np.isnan(network.speed(mode, speeds)))


def _sample_tree(network: Network, edges: npt.NDArray[np.int64]) -> tuple[cKDTree, npt.NDArray[np.int64]]:
    # pieces by the segment's drawn length (its ``length`` may be a longer travelled length)
    drawn = np.hypot(
        network.x[network.edge_v[edges]] - network.x[network.edge_u[edges]],
        network.y[network.edge_v[edges]] - network.y[network.edge_u[edges]],
    )
    pieces = np.maximum(1, np.ceil(drawn / SAMPLE_SPACING_M)).astype(np.int64)
    owner = np.repeat(edges, pieces)
    start = np.cumsum(pieces) - pieces
    k = np.arange(len(owner)) - np.repeat(start, pieces)
    frac = (k + 0.5) / np.repeat(pieces, pieces)
    u, v = network.edge_u[owner], network.edge_v[owner]
    sx = network.x[u] + frac * (network.x[v] - network.x[u])
    sy = network.y[u] + frac * (network.y[v] - network.y[u])
    return cKDTree(np.column_stack([sx, sy]), balanced_tree=False), owner  # unbalanced builds ~2× faster


def snap_points(
    network: Network,
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    *,
    mode: Mode = "walk",
    speeds: Mapping[str, float | None] | None = None,
) -> Snapped:
    """Project every point onto the nearest edge that ``mode`` may use.

    Parameters
    ----------
    network : the street network (metres)
    x, y : point coordinates in the network's CRS
    mode : only edges open to this mode are candidates (no walkers snapped onto a motorway)

    Returns
    -------
    Snapped
        Edge, fraction along it and access distance of every point, in input order.
    """
    key = ("snap-tree", mode, speeds_key(speeds))
    if key not in network.derived:
        edges = _usable_edges(network, mode, speeds)
        if len(edges) == 0:
            raise NetworkError(f"network {network.name} has no edge open to {mode}; check its road classes")
        network.derived[key] = _sample_tree(network, edges)
    tree: cKDTree = network.derived[key][0]  # type: ignore[index]
    owner: npt.NDArray[np.int64] = network.derived[key][1]  # type: ignore[index]
    points = np.column_stack([x, y])
    edge = np.zeros(len(x), dtype=np.int64)
    t = np.zeros(len(x))
    dist = np.zeros(len(x))
    todo = np.arange(len(x))
    k = _CANDIDATES
    while len(todo):
        k = min(k, len(owner))
        sample_dist, idx = tree.query(points[todo], k=k, workers=-1)
        sample_dist, idx = sample_dist.reshape(len(todo), k), idx.reshape(len(todo), k)
        e, tt, dd = _nearest_of(network, x[todo], y[todo], owner[idx])
        edge[todo], t[todo], dist[todo] = e, tt, dd
        # every point of an edge lies within half a sample spacing of one of its samples: when the
        # k-th sample is nearer than best + half a spacing, a nearer edge may hide beyond it, so
        # ask again with more candidates (a few per cent of points, in dense areas)
        unsure = (sample_dist[:, -1] < dd + SAMPLE_SPACING_M / 2) & (k < len(owner))
        todo = todo[unsure]
        k *= 4
    return Snapped(edge, t, dist)


def _nearest_of(
    network: Network, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], cand: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The nearest of each point's candidate edges (rows of ``cand``): edge, fraction, distance."""
    u, v = network.edge_u[cand], network.edge_v[cand]
    ax, ay = network.x[u], network.y[u]
    dx, dy = network.x[v] - ax, network.y[v] - ay
    px, py = x[:, None] - ax, y[:, None] - ay
    t = np.clip((px * dx + py * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    dist = np.hypot(px - t * dx, py - t * dy)
    best = np.argmin(dist, axis=1)
    rows = np.arange(len(x))
    return cand[rows, best].astype(np.int64), t[rows, best], dist[rows, best]


def access_speed(mode: Mode, speeds: Mapping[str, float | None] | None = None) -> float:
    """Speed (m/s) of the leg between a point and the street: the slowest speed the mode has on
    any road class (walking pace for walkers, pushing a bike, a car at living-street pace)."""
    table = speeds if speeds is not None else SPEEDS_KMH[mode]
    return min(float(s) for s in table.values() if s is not None) / 3.6


def _costs(network: Network, mode: Mode, weight: Weight, speeds: Mapping[str, float | None] | None) -> _Costs:
    """Edge cost, and whether each edge may be travelled forward (u→v) and backward (v→u)."""
    cost = network.edge_weight(mode, weight, speeds)
    usable = ~np.isnan(cost)
    backward = usable & ~network.oneway if mode == "drive" else usable
    return cost, usable, backward


def _access_cost(
    snapped: Snapped, mode: Mode, weight: Weight, speeds: Mapping[str, float | None] | None
) -> npt.NDArray[np.float64]:
    return snapped.access_m if weight == "length" else snapped.access_m / access_speed(mode, speeds)


def _search_graph(
    network: Network,
    mode: Mode,
    weight: Weight,
    direction: Direction,
    speeds: Mapping[str, float | None] | None,
) -> sparse.csr_array:
    # towards a facility the search runs backwards; only one-way streets make that differ
    return network.graph(mode, weight, speeds, reverse=direction == "to_facility" and mode == "drive")


def _with_sources(
    graph: sparse.csr_array,
    network: Network,
    sources: Snapped,
    costs: _Costs,
    access: npt.NDArray[np.float64],
    direction: Direction,
) -> sparse.csr_array:
    """``graph`` with one virtual node per source (rows N…N+F−1), joined to the ends of its edge
    by the part of the edge it may travel plus its access leg. Rows are appended to the CSR
    arrays directly: O(edges), no COO round trip."""
    cost, forward, backward = costs
    n, f = network.node_count, len(sources)
    e, t = sources.edge, sources.t
    # from the facility: to v along the edge needs u→v; to u needs v→u. Towards the facility the
    # search runs on the reversed graph, where reaching u means travelling u→v in reality.
    # a point at an end of its edge (t = 0 or 1) is at that node: no travel along the edge, so
    # the street's direction does not matter
    to_u_ok = (backward[e] if direction == "from_facility" else forward[e]) | (t == 0.0)
    to_v_ok = (forward[e] if direction == "from_facility" else backward[e]) | (t == 1.0)
    targets = np.stack([network.edge_u[e], network.edge_v[e]], axis=1)
    weights = np.stack([t * cost[e], (1.0 - t) * cost[e]], axis=1) + access[:, None]
    ok = np.stack([to_u_ok, to_v_ok], axis=1)
    # a zero weight would be no edge at all in a sparse graph: keep a tiny positive floor
    weights = np.maximum(weights, 1e-9)
    counts = ok.sum(axis=1)
    indptr = np.concatenate([graph.indptr.astype(np.int64), graph.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([graph.indices, targets[ok].astype(graph.indices.dtype)])
    data = np.concatenate([graph.data, weights[ok]])
    index_type = graph.indices.dtype
    return sparse.csr_array((data, indices, indptr.astype(index_type)), shape=(n + f, n + f))


def _origin_costs(
    node_cost: npt.NDArray[np.float64],
    network: Network,
    origins: Snapped,
    costs: _Costs,
    access: npt.NDArray[np.float64],
    direction: Direction,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Cost at every origin from the node costs of its edge's ends; which end it came through."""
    cost, forward, backward = costs
    e, t = origins.edge, origins.t
    u, v = network.edge_u[e], network.edge_v[e]
    # from a facility, the origin is reached from u by going forward along its edge, from v
    # backward; towards a facility the origin leaves through u (backward) or v (forward)
    via_u_ok = (forward[e] if direction == "from_facility" else backward[e]) | (t == 0.0)
    via_v_ok = (backward[e] if direction == "from_facility" else forward[e]) | (t == 1.0)
    via_u = np.where(via_u_ok, node_cost[u] + t * cost[e], np.inf)
    via_v = np.where(via_v_ok, node_cost[v] + (1.0 - t) * cost[e], np.inf)
    through = np.where(via_u <= via_v, u, v).astype(np.int64)
    return np.minimum(via_u, via_v) + access, through


def _same_edge(
    result_cost: npt.NDArray[np.float64],
    result_facility: npt.NDArray[np.int64],
    origins: Snapped,
    facilities: Snapped,
    costs: _Costs,
    origin_access: npt.NDArray[np.float64],
    facility_access: npt.NDArray[np.float64],
    direction: Direction,
) -> None:
    """Origins on the same edge as a facility: the direct way along the edge may beat going round
    through an end node."""
    cost, forward, backward = costs
    order = np.argsort(facilities.edge, kind="stable")
    fac_edges = facilities.edge[order]
    hit = np.isin(origins.edge, fac_edges)
    for o in np.flatnonzero(hit):
        e = origins.edge[o]
        lo, hi = np.searchsorted(fac_edges, [e, e + 1])
        fs = order[lo:hi]
        delta = origins.t[o] - facilities.t[fs]  # > 0: origin lies after the facility (towards v)
        # travelling from the facility to the origin goes forward when delta > 0
        forward_trip = delta >= 0 if direction == "from_facility" else delta <= 0
        allowed = np.where(forward_trip, forward[e], backward[e]) | (delta == 0.0)
        direct = np.where(allowed, np.abs(delta) * cost[e] + facility_access[fs] + origin_access[o], np.inf)
        best = int(np.argmin(direct))
        if direct[best] < result_cost[o]:
            result_cost[o] = direct[best]
            result_facility[o] = fs[best]


def _prepare(
    network: Network,
    origins: Snapped | None,
    facilities: Snapped,
    mode: Mode,
    weight: Weight,
    direction: Direction,
    speeds: Mapping[str, float | None] | None,
) -> tuple[_Costs, sparse.csr_array, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """What every search needs: edge costs and directions, the search graph with the facilities
    as virtual nodes, and the access legs of facilities and origins in the cost's unit."""
    costs = _costs(network, mode, weight, speeds)
    f_access = _access_cost(facilities, mode, weight, speeds)
    o_access = np.zeros(0) if origins is None else _access_cost(origins, mode, weight, speeds)
    graph = _with_sources(
        _search_graph(network, mode, weight, direction, speeds),
        network,
        facilities,
        costs,
        f_access,
        direction,
    )
    return costs, graph, f_access, o_access


def nearest_facility(
    network: Network,
    origins: Snapped,
    facilities: Snapped,
    *,
    mode: Mode = "walk",
    weight: Weight = "time",
    limit: float = np.inf,
    direction: Direction = "to_facility",
    speeds: Mapping[str, float | None] | None = None,
) -> Nearest:
    """The nearest facility of one type for every origin, in one bounded multi-source pass.

    Parameters
    ----------
    network : the street network
    origins, facilities : points snapped with ``snap_points`` for the same ``mode``
    mode, weight : travel mode; cost in seconds (``time``) or metres (``length``)
    limit : search radius in the cost's unit; farther origins get ``inf``
    direction : ``to_facility`` (residents travel) or ``from_facility`` (crews drive out)

    Returns
    -------
    Nearest
        Cost and nearest facility index of every origin (``inf`` / ``-1`` beyond ``limit``).
    """
    n_origins = len(origins)
    if len(facilities) == 0:
        return Nearest(np.full(n_origins, np.inf), np.full(n_origins, -1, dtype=np.int64))
    costs, graph, f_access, o_access = _prepare(network, origins, facilities, mode, weight, direction, speeds)
    n = network.node_count
    node_cost, _, source = csgraph.dijkstra(
        graph,
        directed=True,
        indices=np.arange(n, n + len(facilities)),
        min_only=True,
        limit=limit,
        return_predecessors=True,
    )
    cost, through = _origin_costs(node_cost, network, origins, costs, o_access, direction)
    facility = np.where(np.isfinite(cost), source[through] - n, -1).astype(np.int64)
    _same_edge(cost, facility, origins, facilities, costs, o_access, f_access, direction)
    beyond = cost > limit
    cost[beyond] = np.inf
    facility[beyond] = -1
    return Nearest(cost, facility)


@dataclass(frozen=True)
class Catchments:
    """Sparse (facility, origin, cost) triples of every origin within ``limit`` of each facility."""

    facility: npt.NDArray[np.int64]
    origin: npt.NDArray[np.int64]
    cost: npt.NDArray[np.float64]

    def population(self, weights: npt.NDArray[np.float64], n_facilities: int) -> npt.NDArray[np.float64]:
        """Population within reach of each facility (catchment size)."""
        return np.bincount(self.facility, weights=weights[self.origin], minlength=n_facilities).astype(
            np.float64
        )


def catchments(
    network: Network,
    origins: Snapped,
    facilities: Snapped,
    *,
    mode: Mode = "walk",
    weight: Weight = "time",
    limit: float,
    direction: Direction = "to_facility",
    speeds: Mapping[str, float | None] | None = None,
    chunk: int | None = None,
) -> Catchments:
    """Every origin within ``limit`` of each facility: one bounded search per facility, in chunks
    (a dense chunk × nodes block at a time), kept as sparse triples."""
    if not np.isfinite(limit):
        raise InvalidValueError("catchments need a finite limit (the circle's threshold)")
    if chunk is None:  # a dense chunk × nodes block of float64 at a time: keep it near 100 MB
        chunk = int(max(1, min(64, 12_500_000 // max(network.node_count, 1))))
    costs, graph, f_access, o_access = _prepare(network, origins, facilities, mode, weight, direction, speeds)
    n = network.node_count
    out_f: list[npt.NDArray[np.int64]] = []
    out_o: list[npt.NDArray[np.int64]] = []
    out_c: list[npt.NDArray[np.float64]] = []
    o_u, o_v = network.edge_u[origins.edge], network.edge_v[origins.edge]
    for start in range(0, len(facilities), chunk):
        ids = np.arange(start, min(start + chunk, len(facilities)))
        dist = csgraph.dijkstra(graph, directed=True, indices=n + ids, limit=limit)
        reached = np.isfinite(dist[:, :n])
        for row, f in enumerate(ids):
            # only origins on an edge with a reached end, or on the facility's own edge, can be near
            near = np.flatnonzero(
                reached[row, o_u] | reached[row, o_v] | (origins.edge == facilities.edge[f])
            )
            some = origins.take(near)
            cost, _ = _origin_costs(dist[row], network, some, costs, o_access[near], direction)
            fac = np.zeros(len(near), dtype=np.int64)
            _same_edge(
                cost,
                fac,
                some,
                facilities.take(ids[row : row + 1]),
                costs,
                o_access[near],
                f_access[f : f + 1],
                direction,
            )
            within = np.flatnonzero(cost <= limit)
            out_f.append(np.full(len(within), f, dtype=np.int64))
            out_o.append(near[within].astype(np.int64))
            out_c.append(cost[within])
    if not out_f:
        empty_i = np.zeros(0, dtype=np.int64)
        return Catchments(empty_i, empty_i, np.zeros(0))
    return Catchments(np.concatenate(out_f), np.concatenate(out_o), np.concatenate(out_c))


def isochrone(
    network: Network,
    facility: Snapped,
    *,
    limits: list[float],
    mode: Mode = "walk",
    weight: Weight = "time",
    direction: Direction = "to_facility",
    speeds: Mapping[str, float | None] | None = None,
    ratio: float = 0.2,
) -> list[shapely.Geometry]:
    """Polygons of the area within each of ``limits`` of one facility (for display): the concave
    hull of the nodes reached, smallest limit first. Empty where fewer than 3 nodes are reached."""
    _, graph, _, _ = _prepare(network, None, facility, mode, weight, direction, speeds)
    n = network.node_count
    dist = csgraph.dijkstra(graph, directed=True, indices=n, limit=max(limits))[:n]
    polygons = []
    for lim in sorted(limits):
        reached = np.flatnonzero(dist <= lim)
        if len(reached) < 3:
            polygons.append(shapely.Polygon())
            continue
        points = shapely.multipoints(np.column_stack([network.x[reached], network.y[reached]]))
        polygons.append(shapely.concave_hull(points, ratio=ratio))
    return polygons
