"""What the API, the pages and ``--json`` show of coverage and siting runs (one set of schemas)."""

from __future__ import annotations

import math
from datetime import datetime
from functools import cache
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel
from sqlalchemy.orm import Session

from planwatch.clock import as_utc
from planwatch.coverage.service import (
    circle_of,
    circle_of_run,
    division_results,
    facility_isochrones,
    get_run,
    get_siting_run,
    list_runs,
    list_siting_runs,
    origin_arrays,
)
from planwatch.coverage.standards import load_standards
from planwatch.errors import NotFoundError
from planwatch.models import CoverageRun, SitingRun
from planwatch.models.enums import DivisionLevel


class CircleOut(BaseModel):
    code: str
    standard: str
    name: str
    name_en: str
    mode: str
    threshold: float
    unit: str
    group: str
    rule: str
    measure: str
    facilities: list[str]
    indicator: str | None
    verified: str
    clause: str
    population: float
    covered: float
    share: float | None
    area_per_resident: float | None = None
    per_resident_m2: float | None = None


class RunOut(BaseModel):
    id: int
    computed_at: datetime
    computed_by: str
    year: int
    network: str
    simulated: bool
    """Some input is synthetic: every figure is 模拟数据 (simulated)."""
    inputs: dict[str, Any]
    circles: list[CircleOut]
    warnings: list[str]
    seconds: dict[str, float]
    written: dict[str, int]


class DivisionResultOut(BaseModel):
    code: str
    name: str
    name_en: str | None
    level: str
    population: float
    covered: float
    share: float | None
    area_per_resident: float | None = None
    placed_share: float | None = None
    simulated: bool
    """Computed from a synthetic input (模拟数据)."""


class MapOut(BaseModel):
    """Everything a coverage map draws, for one circle (or one facility type of it)."""

    run: int
    circle: str
    part: str
    unit: str
    threshold: float
    simulated: bool
    origins: dict[str, list[Any]]
    """Columns lon, lat, cost (the circle's unit; null beyond the search), population, division."""
    facilities: dict[str, list[Any]]
    """Columns id, lon, lat, type, name of the circle's facility types."""
    uncovered_population: float


class SitingOut(BaseModel):
    id: int
    coverage_run: int | None
    computed_at: datetime
    circle: str
    facility_type: str
    problem: str
    method: str
    status: str
    p: int | None
    optimality_gap: float | None
    population: float
    covered_before: float
    covered_after: float
    share_before: float | None
    share_after: float | None
    sites: list[dict[str, Any]]
    simulated: bool
    seconds: float


def _without_paths(inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs as shown: file names, hashes and counts, not where they lie on the server."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k != "path"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return {key: strip(value) for key, value in inputs.items()}


def run_out(run: CoverageRun) -> RunOut:
    return RunOut(
        id=run.id,
        computed_at=as_utc(run.computed_at),
        computed_by=run.computed_by,
        year=run.year,
        network=run.network_name,
        simulated=run.simulated,
        inputs=_without_paths(run.inputs),
        circles=[CircleOut(**c) for c in run.circles],
        warnings=run.warnings,
        seconds=run.seconds,
        written=run.written,
    )


def run_view(session: Session, run_id: int | None = None) -> RunOut:
    return run_out(get_run(session, run_id))


def division_view(
    session: Session, run_id: int | None, circle: str, *, part: str = "", level: DivisionLevel | None = None
) -> list[DivisionResultOut]:
    run = get_run(session, run_id)
    circle_part(CircleOut(**circle_of(run, circle)), part)  # an unknown part is a 404, not an empty list
    return [
        DivisionResultOut(
            code=node.code,
            name=node.name_zh,
            name_en=node.name_en,
            level=node.level.value,
            population=row.population,
            covered=row.covered,
            share=row.share,
            area_per_resident=row.area / row.population
            if row.area is not None and row.population > 0
            else None,
            placed_share=100 * row.placed / row.population
            if row.placed is not None and row.population > 0
            else None,
            simulated=run.simulated,
        )
        for row, node in division_results(session, run, circle, part=part, level=level)
    ]


def _finite(values: np.ndarray[Any, Any], digits: int) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), digits) for v in values]


def map_view(session: Session, run_id: int | None, circle: str, *, part: str = "") -> MapOut:
    run = get_run(session, run_id)
    summary = circle_of(run, circle)
    arrays = origin_arrays(run)
    key = f"cost:{circle}:{part}"
    if key not in arrays:
        parts = sorted(k.split(":", 2)[2] for k in arrays if k.startswith(f"cost:{circle}:"))
        known = ", ".join(p or "(whole circle)" for p in parts)
        raise NotFoundError(f"circle {circle} has no part '{part}'; it has {known}")
    cost = arrays[key]
    population = arrays[f"population:{summary['group']}"]  # the run computed the circle on this group
    wanted = np.isin(arrays["facility_type"], summary["facilities"] if not part else [part])
    threshold = float(summary["threshold"])
    return MapOut(
        run=run.id,
        circle=circle,
        part=part,
        unit=summary["unit"],
        threshold=threshold,
        simulated=run.simulated,
        origins={
            "lon": _finite(arrays["origin_lon"], 5),
            "lat": _finite(arrays["origin_lat"], 5),
            "cost": _finite(cost, 1),
            "population": _finite(population, 0),
            "division": arrays["origin_division"].tolist(),
        },
        facilities={
            "id": arrays["facility_id"][wanted].tolist(),
            "lon": _finite(arrays["facility_lon"][wanted], 5),
            "lat": _finite(arrays["facility_lat"][wanted], 5),
            "type": arrays["facility_type"][wanted].tolist(),
            "name": arrays["facility_name"][wanted].tolist(),
        },
        uncovered_population=float(population[~(cost <= threshold)].sum()),
    )


def siting_out(siting: SitingRun) -> SitingOut:
    def share(value: float) -> float | None:
        return 100 * value / siting.population if siting.population else None

    return SitingOut(
        id=siting.id,
        coverage_run=siting.coverage_run_id,
        computed_at=as_utc(siting.computed_at),
        circle=siting.circle_code,
        facility_type=siting.facility_type,
        problem=siting.problem,
        method=siting.method,
        status=siting.status,
        p=siting.p,
        optimality_gap=siting.optimality_gap,
        population=siting.population,
        covered_before=siting.covered_before,
        covered_after=siting.covered_after,
        share_before=share(siting.covered_before),
        share_after=share(siting.covered_after),
        sites=siting.sites,
        simulated=siting.simulated,
        seconds=siting.seconds,
    )


def siting_view(session: Session, siting_id: int | None = None) -> SitingOut:
    return siting_out(get_siting_run(session, siting_id))


# —— what the web pages list and draw besides the above ——


class RunSummary(BaseModel):
    """One stored coverage run, as the list of runs shows it."""

    id: int
    computed_at: datetime
    computed_by: str
    year: int
    network: str
    simulated: bool
    circles: int
    """How many circles the run judged."""
    warnings: int


def runs_view(session: Session) -> list[RunSummary]:
    """Every stored coverage run, the latest first."""
    return [
        RunSummary(
            id=run.id,
            computed_at=as_utc(run.computed_at),
            computed_by=run.computed_by,
            year=run.year,
            network=run.network_name,
            simulated=run.simulated,
            circles=len(run.circles),
            warnings=len(run.warnings),
        )
        for run in list_runs(session)
    ]


def siting_runs_view(session: Session, *, coverage_run: int | None = None) -> list[SitingOut]:
    """Every stored siting run (or those of one coverage run), the latest first."""
    return [
        siting_out(siting)
        for siting in list_siting_runs(session)
        if coverage_run is None or siting.coverage_run_id == coverage_run
    ]


def circle_parts(circle: CircleOut) -> list[str]:
    """The parts a circle's results are kept for: the whole circle (``""``) and, when it lists
    more than one facility type, each type on its own (as ``CoverageProblem`` judges them)."""
    return ["", *circle.facilities] if len(circle.facilities) > 1 else [""]


def circle_part(circle: CircleOut, part: str) -> str:
    """``part`` if the circle keeps results for it; ``NotFoundError`` naming the parts otherwise."""
    parts = circle_parts(circle)
    if part not in parts:
        known = ", ".join(p or "(whole circle)" for p in parts)
        raise NotFoundError(f"circle {circle.code} has no part '{part}'; it has {known}")
    return part


def circle_in(run: RunOut, code: str) -> CircleOut:
    """One circle of a run; ``NotFoundError`` names the run's circles."""
    return CircleOut(**circle_of_run(run.id, [c.model_dump() for c in run.circles], code))


@cache
def facility_type_names() -> dict[str, tuple[str, str]]:
    """Chinese and English names of the built-in facility types, by code (for labels only: a type
    a city added in its own file shows its code)."""
    return {code: (kind.name, kind.name_en) for code, kind in load_standards().facility_types.items()}


def siting_map_view(session: Session, siting_id: int) -> MapOut:
    """The map of a siting run's coverage run for its circle and facility type: residents out of
    reach, and the facilities of that type that exist already."""
    siting = get_siting_run(session, siting_id)
    if siting.coverage_run_id is None:
        raise NotFoundError(
            f"the coverage run of siting run {siting.id} was deleted; there is no map to draw"
        )
    run = get_run(session, siting.coverage_run_id)
    circle = CircleOut(**circle_of(run, siting.circle_code))
    part = siting.facility_type if len(circle.facilities) > 1 else ""
    return map_view(session, run.id, circle.code, part=part)


# —— isochrones of one facility (for display) ——


class IsochronesOut(BaseModel):
    """A GeoJSON FeatureCollection in longitude/latitude: one polygon per band of the circle's
    threshold, smallest first, each with properties band, limit (the circle's unit), unit,
    facility_id, facility_name, facility_type, circle and simulated."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[dict[str, Any]]
    simulated: bool
    """Some input is synthetic: the polygons are 模拟数据 (simulated)."""


def isochrones_view(
    session: Session, run_id: int | None, circle: str, facility_id: str, *, steps: int = 3
) -> IsochronesOut:
    return IsochronesOut(
        **facility_isochrones(
            session, run_id=run_id, circle_code=circle, facility_id=facility_id, steps=steps
        )
    )
