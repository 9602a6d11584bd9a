"""Use cases of life-circle coverage: build a network file, compute coverage and write it back as
indicator values, site new facilities, and read stored runs for the API, pages and CLI.

A compute is one transaction: the run, its results per division and the indicator values are
written together or not at all (a locked value stops the whole run, and says which).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer
from scipy import sparse
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from planwatch.coverage.compute import MAX_SNAP_M, CoverageProblem, Pass, division_table, run_catchments
from planwatch.coverage.network import Network
from planwatch.coverage.points import Facilities, Origins, facilities_from_file, origins_from_file
from planwatch.coverage.readers import NetworkReport, network_from_file
from planwatch.coverage.siting import MaximalCovering, Method, SetCovering
from planwatch.coverage.standards import Circle, StandardSet, load_standards
from planwatch.coverage.travel import Snapped, isochrone, snap_points
from planwatch.datasets.coverage_demo import build_coverage_demo, write_coverage_demo
from planwatch.divisions.service import division_tree
from planwatch.divisions.tree import DivisionTree
from planwatch.errors import ImportFileError, InvalidValueError, NotFoundError
from planwatch.ingest.writer import ValueChange, Writer, write_values
from planwatch.models import CoverageDivisionResult, CoverageRun, Indicator, SitingRun
from planwatch.models.enums import Channel, DivisionLevel, ValueSource

SIMULATED_NOTE: Final = "模拟数据：由模拟路网、人口与设施计算 / simulated: computed from a synthetic network, population and facilities"


def build_network(
    source: Path,
    out: Path,
    *,
    layer: str | None = None,
    snap_tolerance: float | None = None,
    crs: str | None = None,
    name: str | None = None,
) -> tuple[Network, NetworkReport]:
    """Read a street network file and save it as a planwatch network (``.npz``)."""
    network, report = network_from_file(
        source, layer=layer, snap_tolerance=snap_tolerance, crs=crs, name=name
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    network.save(out)
    return network, report


@dataclass(frozen=True)
class CoverageInputs:
    """The files a coverage run is computed from."""

    network: Path
    origins: Path
    facilities: Path
    standards: Sequence[Path] = ()
    circles: Sequence[str] = ()

    def load(self) -> tuple[Network, Origins, Facilities, StandardSet]:
        if not self.network.exists():
            raise ImportFileError(
                str(self.network), "no such network file; build one with `planwatch coverage network FILE`"
            )
        network = Network.load(self.network)
        standards = load_standards(list(self.standards) or None)
        for code in self.circles:
            standards.circle(code)  # an unknown code is an error before any work
        origins = origins_from_file(self.origins, crs=network.crs)
        facilities = facilities_from_file(
            self.facilities, crs=network.crs, types=frozenset(standards.facility_types)
        )
        return network, origins, facilities, standards


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ancestors(tree: DivisionTree, codes: npt.NDArray[np.str_], source: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    unknown = []
    for code in np.unique(codes):
        node = tree.by_code.get(str(code))
        if node is None:
            unknown.append(str(code))
            continue
        out[str(code)] = [n.code for n in tree.path(node.id)]
    if unknown:
        row = int(np.flatnonzero(codes == unknown[0])[0]) + 2
        raise ImportFileError(
            source,
            f"row {row}, column 'division_code': {len(unknown)} division code(s) are not in the division tree"
            f" ({', '.join(unknown[:5])}); load the divisions or correct the codes",
        )
    return out


def _origin_blob(problem: CoverageProblem) -> bytes:
    origins, facilities = problem.origins, problem.facilities
    arrays: dict[str, Any] = {
        "origin_lon": origins.lon.astype(np.float32),
        "origin_lat": origins.lat.astype(np.float32),
        "origin_id": origins.ids.astype(str),
        "origin_division": origins.division_code.astype(str),
        "facility_lon": facilities.lon.astype(np.float32),
        "facility_lat": facilities.lat.astype(np.float32),
        "facility_type": facilities.type.astype(str),
        "facility_name": facilities.name.astype(str),
        "facility_id": facilities.ids.astype(str),
    }
    for group, weights in origins.population.items():
        arrays[f"population:{group}"] = weights.astype(np.float32)
    for circle in problem.circles:
        result = problem.results_[circle.code]
        for part in result.parts:
            arrays[f"cost:{circle.code}:{part}"] = result.costs[part].astype(np.float32)
        if result.area is not None and result.placed is not None:
            arrays[f"area:{circle.code}"] = result.area.astype(np.float32)
            arrays[f"placed:{circle.code}"] = result.placed.astype(np.float32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def compute_coverage(
    session: Session,
    inputs: CoverageInputs,
    *,
    year: int,
    actor: str,
    entry_expiry_days: int,
    write: bool = True,
    client: Any = None,
    progress: Callable[[str], None] | None = None,
    passes: Callable[[list[Pass]], None] | None = None,
) -> CoverageRun:
    """Compute every circle for every resident, store the run with its results per division, and
    (with ``write``) write each circle's indicator values at the indicator's reporting level.

    Values computed from any simulated input are written as simulated (模拟数据), never as
    computed, and say so in their comment."""
    network, origins, facilities, standards = inputs.load()
    tree = division_tree(session)
    ancestors = _ancestors(tree, origins.division_code, origins.source)
    problem = CoverageProblem.from_inputs(
        network, origins, facilities, standards, circles=inputs.circles or None
    )
    if passes is not None:
        passes(problem.passes)
    problem.solve(client=client, progress=progress)
    run = CoverageRun(
        computed_by=actor,
        year=year,
        network_name=network.name,
        inputs={
            "network": _input(
                inputs.network, network.simulated, nodes=network.node_count, edges=network.edge_count
            ),
            "origins": _input(
                inputs.origins,
                origins.simulated,
                rows=len(origins),
                population=float(origins.weights("total").sum()),
            ),
            "facilities": _input(
                inputs.facilities,
                facilities.simulated,
                rows=len(facilities),
                types={
                    str(t): int(n)
                    for t, n in zip(*np.unique(facilities.type, return_counts=True), strict=True)
                },
            ),
            # a city's own standards files, with their hashes (the built-in ones ship with the code)
            "standards": [
                {"path": str(p.resolve()), "file": p.name, "sha256": _sha256(p)} for p in inputs.standards
            ],
        },
        circles=[],
        warnings=list(problem.warnings_),
        simulated=problem.simulated,
        seconds={k: round(v, 3) for k, v in problem.seconds_.items()},
        written={},
        origin_results=_origin_blob(problem),
    )
    session.add(run)
    session.flush()
    rows: list[dict[str, Any]] = []
    tables = {}
    root = tree.root
    for circle in problem.circles:
        result = problem.results_[circle.code]
        for part, covered in result.parts.items():
            weights = result.part_weights.get(part, result.weights)
            columns = {"population": weights, "covered": weights * covered}
            if not part and result.area is not None and result.placed is not None:
                # an area circle covers the residents given a place within reach
                columns |= {"covered": result.placed, "area": result.area, "placed": result.placed}
            table = division_table(columns, origins.division_code, ancestors)
            tables[(circle.code, part)] = table
            rows.extend(_result_rows(run.id, circle.code, part, table, tree))
        whole = tables[(circle.code, "")]
        top = whole.loc[root.code] if root is not None and root.code in whole.index else whole.sum()
        run.circles = [*run.circles, _circle_summary(standards, circle, top)]
    if rows:
        session.execute(insert(CoverageDivisionResult), rows)
    if write:
        run.written = _write_indicators(
            session, run, problem, tables, tree, year=year, actor=actor, expiry=entry_expiry_days
        )
    session.flush()
    return run


PART_LEVELS: Final = frozenset({DivisionLevel.city, DivisionLevel.district, DivisionLevel.street})
"""A facility type's own share is kept down to streets; the whole circle down to communities."""


def _result_rows(run_id: int, circle: str, part: str, table: Any, tree: DivisionTree) -> list[dict[str, Any]]:
    nodes = [tree.by_code[str(code)] for code in table.index]
    keep = np.array([not part or node.level in PART_LEVELS for node in nodes], dtype=bool)
    population = table["population"].to_numpy(dtype=np.float64)
    covered = table["covered"].to_numpy(dtype=np.float64)
    area = table["area"].to_numpy(dtype=np.float64) if "area" in table.columns else None
    placed = table["placed"].to_numpy(dtype=np.float64) if "placed" in table.columns else None
    return [
        {
            "run_id": run_id,
            "circle_code": circle,
            "part": part,
            "division_id": nodes[i].id,
            "population": float(population[i]),
            "covered": float(covered[i]),
            "share": float(100 * covered[i] / population[i]) if population[i] > 0 else None,
            "area": None if area is None else float(area[i]),
            "placed": None if placed is None else float(placed[i]),
        }
        for i in np.flatnonzero(keep)
    ]


def _input(path: Path, simulated: bool, **extra: Any) -> dict[str, Any]:
    return {
        "path": str(path.resolve()),
        "file": path.name,
        "sha256": _sha256(path),
        "simulated": simulated,
        **extra,
    }


def _circle_summary(standards: StandardSet, circle: Circle, top: Any) -> dict[str, Any]:
    standard = standards.standard_of(circle.code)
    population = float(top["population"])
    summary = {
        "code": circle.code,
        "standard": standard.code,
        "name": circle.name,
        "name_en": circle.name_en,
        "mode": circle.mode,
        "threshold": circle.threshold_value,
        "unit": circle.unit,
        "group": circle.group,
        "rule": circle.rule,
        "measure": circle.measure,
        "facilities": list(circle.facility_codes),
        "indicator": circle.indicator,
        "verified": circle.verified,
        "clause": circle.clause,
        "population": population,
        "covered": float(top["covered"]),
        "share": 100 * float(top["covered"]) / population if population > 0 else None,
    }
    if "area" in top:
        summary["area"] = float(top["area"])
        summary["area_per_resident"] = float(top["area"]) / population if population > 0 else None
        summary["per_resident_m2"] = circle.per_resident_m2
    return summary


def _write_indicators(
    session: Session,
    run: CoverageRun,
    problem: CoverageProblem,
    tables: dict[tuple[str, str], Any],
    tree: DivisionTree,
    *,
    year: int,
    actor: str,
    expiry: int,
) -> dict[str, int]:
    changes: list[ValueChange] = []
    codes, where = np.unique(problem.origins.division_code, return_inverse=True)
    origin_depth = np.array([tree.by_code[str(c)].level.depth for c in codes])[where]
    for circle in problem.circles:
        if circle.indicator is None:
            continue
        indicator = session.scalar(select(Indicator).where(Indicator.code == circle.indicator))
        if indicator is None:
            run.warnings = [
                *run.warnings,
                f"circle {circle.code}: indicator {circle.indicator} is not in the catalogue; nothing written for it",
            ]
            continue
        level = (
            max(indicator.level_enums, key=lambda lv: lv.depth) if indicator.levels else DivisionLevel.city
        )
        coarse = origin_depth < level.depth
        if coarse.any():
            people = float(problem.origins.weights("total")[coarse].sum())
            run.warnings = [
                *run.warnings,
                f"circle {circle.code}: {int(coarse.sum())} origin(s) ({people:,.0f} residents) are coded above the"
                f" {level.value} level where {indicator.code} is written, so its values leave them out;"
                " code every origin at that level or below",
            ]
        table = tables[(circle.code, "")]
        area = circle.measure == "area_per_resident"
        factor = indicator.factor if indicator.factor is not None else (1.0 if area else 100.0)
        # the same inputs give the same comment, so recomputing leaves the value untouched (the run
        # that wrote it is known from the audit trail's actor and time, and from coverage_runs)
        comment = f"生活圈覆盖计算 / life-circle coverage {circle.code}" + (
            f"；{SIMULATED_NOTE}" if problem.simulated else ""
        )
        numerators = table["area" if area else "covered"].to_numpy(dtype=np.float64)
        denominators = table["population"].to_numpy(dtype=np.float64)
        for code, numerator, denominator in zip(table.index, numerators, denominators, strict=True):
            node = tree.by_code[str(code)]
            if node.level is not level or denominator <= 0:
                continue
            changes.append(
                ValueChange(
                    indicator.id,
                    indicator.code,
                    node.id,
                    node.code,
                    str(year),
                    value=float(factor * numerator / denominator),
                    numerator=float(numerator),
                    denominator=float(denominator),
                    comment=comment,
                )
            )
    if not changes:
        return {}
    writer = Writer(
        actor=actor,
        channel=Channel.simulation if problem.simulated else Channel.file,
        now=datetime.now(UTC),
        source=ValueSource.simulated if problem.simulated else ValueSource.computed,
    )
    result = write_values(session, changes, writer, default_expiry_days=expiry)
    return {
        "created": result.inserted,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "kept_reported": result.kept_reported,
        "kept_locked": result.kept_locked,
    }


def get_run(session: Session, run_id: int | None = None) -> CoverageRun:
    """A stored run, or the latest."""
    query = select(CoverageRun).order_by(CoverageRun.id.desc())
    if run_id is not None:
        query = select(CoverageRun).where(CoverageRun.id == run_id)
    run = session.scalars(query.limit(1)).first()
    if run is None:
        what = f"coverage run {run_id}" if run_id is not None else "any coverage run"
        raise NotFoundError(f"no {what}; compute one with `planwatch coverage compute`")
    return run


def list_runs(session: Session) -> list[CoverageRun]:
    return list(session.scalars(select(CoverageRun).order_by(CoverageRun.id.desc())))


def circle_of(run: CoverageRun, code: str) -> dict[str, Any]:
    """The summary of one circle of a stored run; ``NotFoundError`` names the run's circles."""
    return circle_of_run(run.id, run.circles, code)


def circle_of_run(run_id: int, circles: Sequence[dict[str, Any]], code: str) -> dict[str, Any]:
    for circle in circles:
        if circle["code"] == code:
            return circle
    known = ", ".join(c["code"] for c in circles)
    raise NotFoundError(f"circle {code} is not in coverage run {run_id}; it has {known}")


def division_results(
    session: Session, run: CoverageRun, circle: str, *, part: str = "", level: DivisionLevel | None = None
) -> list[tuple[CoverageDivisionResult, Any]]:
    """A circle's results per division (every level, or one), with each division's tree node."""
    circle_of(run, circle)
    tree = division_tree(session)
    rows = session.scalars(
        select(CoverageDivisionResult).where(
            CoverageDivisionResult.run_id == run.id,
            CoverageDivisionResult.circle_code == circle,
            CoverageDivisionResult.part == part,
        )
    )
    out = [(r, tree.nodes[r.division_id]) for r in rows if r.division_id in tree.nodes]
    if level is not None:
        out = [(r, n) for r, n in out if n.level is level]
    return sorted(out, key=lambda rn: (rn[1].level.depth, rn[1].code))


def origin_arrays(run: CoverageRun) -> dict[str, npt.NDArray[Any]]:
    with np.load(io.BytesIO(run.origin_results), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


# —— siting ——


def _checked(recorded: dict[str, Any], what: str, run: CoverageRun) -> Path:
    path = Path(recorded["path"])
    if not path.exists() or _sha256(path) != recorded["sha256"]:
        raise InvalidValueError(
            f"the {what} file of coverage run {run.id} ({recorded['path']}) is gone or changed since;"
            " compute coverage again, then site"
        )
    return path


def site_facilities(
    session: Session,
    *,
    circle_code: str,
    candidates: Path,
    run_id: int | None = None,
    facility_type: str | None = None,
    p: int | None = None,
    method: Method = "auto",
    time_limit: float = 60.0,
    actor: str,
) -> SitingRun:
    """Where to build ``facility_type`` next for a circle of a stored coverage run: with ``p``,
    the p sites among ``candidates`` that bring the most residents within reach (maximal
    covering); without, the fewest sites that bring everyone reachable within reach (set
    covering). Existing facilities of the type stay open and count as covering already."""
    run = get_run(session, run_id)
    circle_of(run, circle_code)
    inputs = CoverageInputs(
        _checked(run.inputs["network"], "network", run),
        _checked(run.inputs["origins"], "origins", run),
        _checked(run.inputs["facilities"], "facilities", run),
        [_checked(record, "standards", run) for record in run.inputs.get("standards", [])],
    )
    network, origins, facilities, standards = inputs.load()
    circle = standards.circle(circle_code)
    kind = facility_type or circle.facility_codes[0]
    if kind not in circle.facility_codes:
        raise InvalidValueError(
            f"facility type {kind} is not one of circle {circle_code}'s ({', '.join(circle.facility_codes)})"
        )
    sites = facilities_from_file(candidates, crs=network.crs, types=frozenset(standards.facility_types))
    usable = np.flatnonzero((sites.type == kind) | (sites.type == ""))
    if len(usable) == 0:
        raise ImportFileError(
            str(candidates), f"has no candidate site for type {kind} (nor any with an empty type)"
        )
    # the facilities that already cover: of this type, or for a circle any listed type reaches
    # (rule any), of every listed type, so new sites go where nothing of the circle reaches
    existing = np.flatnonzero(
        np.isin(facilities.type, circle.facility_codes if circle.rule == "any" else [kind])
    )
    started = datetime.now(UTC)
    snapped = snap_points(network, origins.x, origins.y, mode=circle.mode)
    total = float(origins.weights(circle.group).sum())  # everyone, as in the coverage run
    weights = origins.weights(circle.group).copy()
    weights[snapped.access_m > MAX_SNAP_M] = 0.0  # outside the network: no site can reach them
    columns = _column_points(network, sites, usable, facilities, existing, mode=circle.mode)
    spec = Pass(kind, circle.mode, circle.weight, circle.direction, circle.cutoff)
    reach = run_catchments(network, snapped, columns, spec)
    times = sparse.csr_array(
        (reach.cost + 1e-12, (reach.origin, reach.facility)), shape=(len(origins), len(columns))
    )
    fixed = np.arange(len(usable), len(usable) + len(existing))
    names = [str(sites.ids[i]) for i in usable] + [str(facilities.ids[i]) for i in existing]
    problem: MaximalCovering | SetCovering
    if p is not None:
        problem = MaximalCovering.from_travel_times(
            times, weights, threshold=circle.cutoff, p=p, fixed=fixed, names=names
        )
    else:
        problem = SetCovering.from_travel_times(
            times, weights, threshold=circle.cutoff, fixed=fixed, names=names
        )
    problem.solve(method=method, time_limit=time_limit)
    covered_by_existing = _covered_weight(times, weights, fixed, circle.cutoff)
    chosen = []
    cumulative = covered_by_existing
    for order, (site, added) in enumerate(
        zip(problem.selected_, problem.added_weight_, strict=True), start=1
    ):
        i = usable[int(site)]
        cumulative += float(added)
        chosen.append(
            {
                "order": order,
                "id": str(sites.ids[i]),
                "lon": float(sites.lon[i]),
                "lat": float(sites.lat[i]),
                "division_code": str(sites.division_code[i]),
                "population_added": float(added),
                "cumulative_share": 100 * cumulative / total if total else None,
            }
        )
    siting = SitingRun(
        coverage_run_id=run.id,
        computed_by=actor,
        circle_code=circle_code,
        facility_type=kind,
        problem="maximal" if p is not None else "set",
        method=str(problem.method_),
        status=problem.status_,
        p=p,
        optimality_gap=problem.optimality_gap_,
        population=total,
        covered_before=covered_by_existing,
        covered_after=cumulative,
        sites=chosen,
        inputs={**run.inputs, "candidates": _input(candidates, sites.simulated, rows=len(sites))},
        simulated=bool(run.simulated or sites.simulated),
        seconds=(datetime.now(UTC) - started).total_seconds(),
    )
    session.add(siting)
    session.flush()
    return siting


def _column_points(
    network: Network,
    sites: Facilities,
    usable: npt.NDArray[np.int64],
    facilities: Facilities,
    existing: npt.NDArray[np.int64],
    *,
    mode: Any,
) -> Snapped:
    x = np.concatenate([sites.x[usable], facilities.x[existing]])
    y = np.concatenate([sites.y[usable], facilities.y[existing]])
    return snap_points(network, x, y, mode=mode)


def _covered_weight(
    times: Any, weights: npt.NDArray[np.float64], fixed: npt.NDArray[np.int64], threshold: float
) -> float:
    if len(fixed) == 0:
        return 0.0
    sub = times[:, fixed].tocsr()
    hit = np.zeros(times.shape[0], dtype=bool)
    coo = sub.tocoo()
    hit[coo.row[coo.data <= threshold + 1e-9]] = True
    return float(weights[hit].sum())


def facility_isochrones(
    session: Session, *, run_id: int | None, circle_code: str, facility_id: str, steps: int = 3
) -> dict[str, Any]:
    """The area within reach of one facility of a stored run, for display on a map: the circle's
    threshold split into ``steps`` equal bands (5/10/15 min, 100/200/300 m …), each the concave
    hull of the network nodes reached within it by the circle's mode and direction, and every band
    containing the smaller ones. Returns a GeoJSON FeatureCollection in longitude/latitude
    (EPSG:4326, 6 decimals), smallest band first; computed on request, cached nowhere.

    Raises ``NotFoundError`` for an unknown run, circle or facility id, and ``InvalidValueError``
    when the facility is not of one of the circle's types, ``steps`` is out of range, or the run's
    network or facilities file is gone or changed since."""
    if not 1 <= steps <= 6:
        raise InvalidValueError(f"steps (bands of the threshold) must be 1 to 6; got {steps}")
    run = get_run(session, run_id)
    summary = circle_of(run, circle_code)
    network = Network.load(_checked(run.inputs["network"], "network", run))
    standards = load_standards(
        [_checked(record, "standards", run) for record in run.inputs.get("standards", [])] or None
    )
    circle = standards.circle(circle_code)
    facilities = facilities_from_file(
        _checked(run.inputs["facilities"], "facilities", run),
        crs=network.crs,
        types=frozenset(standards.facility_types),
    )
    found = np.flatnonzero(facilities.ids == facility_id)
    if len(found) == 0:
        raise NotFoundError(f"facility {facility_id} is not in the facilities of coverage run {run.id}")
    i = int(found[0])
    kind = str(facilities.type[i])
    if kind not in circle.facility_codes:
        raise InvalidValueError(
            f"facility {facility_id} is a {kind}, not one of circle {circle_code}'s types"
            f" ({', '.join(circle.facility_codes)})"
        )
    snapped = snap_points(network, facilities.x[i : i + 1], facilities.y[i : i + 1], mode=circle.mode)
    fractions = [k / steps for k in range(1, steps + 1)]
    polygons = isochrone(
        network,
        snapped,
        limits=[circle.cutoff * f for f in fractions],
        mode=circle.mode,
        weight=circle.weight,
        direction=circle.direction,
    )
    to_lonlat = Transformer.from_crs(network.crs, "EPSG:4326", always_xy=True)

    def lonlat(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lon, lat = to_lonlat.transform(coords[:, 0], coords[:, 1])
        return np.round(np.column_stack([lon, lat]), 6)

    simulated = bool(run.simulated or network.simulated or facilities.simulated)
    features = []
    inner = shapely.Polygon()
    for band, (fraction, polygon) in enumerate(zip(fractions, polygons, strict=True), start=1):
        if not polygon.is_empty and shapely.get_type_id(polygon) not in (3, 6):
            polygon = shapely.buffer(polygon, 10.0)  # nodes in a line: a thin strip, not a line
        # a band holds every smaller one (a concave hull of more nodes may bend in elsewhere)
        shape = shapely.union(polygon, inner) if not inner.is_empty else polygon
        inner = shape
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": []}
                if shape.is_empty  # fewer than 3 nodes within reach
                else json.loads(shapely.to_geojson(shapely.transform(shape, lonlat))),
                "properties": {
                    "band": band,
                    "limit": round(circle.threshold_value * fraction, 3),
                    "unit": summary["unit"],
                    "facility_id": str(facilities.ids[i]),
                    "facility_name": str(facilities.name[i]),
                    "facility_type": kind,
                    "circle": circle_code,
                    "simulated": simulated,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features, "simulated": simulated}


def list_siting_runs(session: Session) -> list[SitingRun]:
    return list(session.scalars(select(SitingRun).order_by(SitingRun.id.desc())))


def get_siting_run(session: Session, siting_id: int | None = None) -> SitingRun:
    query = select(SitingRun).order_by(SitingRun.id.desc())
    if siting_id is not None:
        query = select(SitingRun).where(SitingRun.id == siting_id)
    siting = session.scalars(query.limit(1)).first()
    if siting is None:
        raise NotFoundError("no siting run; run `planwatch coverage site`")
    return siting


# —— the Chengdu demo ——

DEMO_SITINGS: Final = (
    # (circle, facility type, new sites): where the demo shows a siting result
    ("cd_child_5min_activity", "children_complex", 20),
    ("cd_fire_5min", "fire_station", 10),
)


def install_coverage_demo(
    session: Session,
    directory: Path,
    *,
    year: int,
    scale: float = 1.0,
    entry_expiry_days: int = 90,
    progress: Callable[[str], None] | None = None,
) -> CoverageRun:
    """Write the synthetic Chengdu network, population and facilities (模拟数据) to ``directory``,
    compute every circle for ``year`` and site new facilities for the demo's siting examples."""
    write_coverage_demo(build_coverage_demo(scale=scale), directory)
    inputs = CoverageInputs(
        directory / "network.npz", directory / "origins.csv", directory / "facilities.csv"
    )
    run = compute_coverage(
        session, inputs, year=year, actor="demo", entry_expiry_days=entry_expiry_days, progress=progress
    )
    for circle, kind, p in DEMO_SITINGS:
        site_facilities(
            session,
            circle_code=circle,
            candidates=directory / "candidates.csv",
            run_id=run.id,
            facility_type=kind,
            p=p,
            method="greedy",
            actor="demo",
        )
    return run
