"""Life-circle coverage (生活圈覆盖) and siting (选址) as JSON: the twins of the /coverage pages.

Coverage results are aggregated public data (like published indicator values): every caller may
read them, and every figure of a run computed from synthetic input carries ``simulated``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from planwatch.coverage.views import (
    DivisionResultOut,
    IsochronesOut,
    MapOut,
    RunOut,
    RunSummary,
    SitingOut,
    division_view,
    isochrones_view,
    map_view,
    run_view,
    runs_view,
    siting_map_view,
    siting_runs_view,
    siting_view,
)
from planwatch.models.enums import DivisionLevel
from planwatch.web.deps import Id, SessionDep

router = APIRouter(prefix="/api/coverage", tags=["coverage"])

RunRef = Annotated[
    str,
    Path(
        pattern=r"^(latest|[1-9][0-9]{0,14})$",
        description="A coverage run id, or `latest` for the most recent run",
        examples=["latest", "1"],
    ),
]
CircleCode = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="A life circle's code, e.g. `cd_child_5min_activity` (see the run's `circles`)",
    ),
]
Part = Annotated[
    str,
    Query(
        max_length=64,
        description="One facility type of the circle (e.g. `kindergarten`); empty: the whole circle by its rule",
    ),
]
Level = Literal["city", "district", "street", "community"]


def run_id(ref: str) -> int | None:
    """The run a path names: ``None`` (the latest) or its id."""
    return None if ref == "latest" else int(ref)


@router.get(
    "/runs", response_model=list[RunSummary], summary="Coverage runs (生活圈覆盖计算), the latest first"
)
def api_coverage_runs(session: SessionDep) -> list[RunSummary]:
    return runs_view(session)


@router.get(
    "/runs/{run}", response_model=RunOut, summary="One coverage run (生活圈覆盖): inputs, circles, warnings"
)
def api_coverage_run(session: SessionDep, run: RunRef) -> RunOut:
    return run_view(session, run_id(run))


@router.get(
    "/runs/{run}/circles/{code}/divisions",
    response_model=list[DivisionResultOut],
    summary="A life circle's coverage per division (分区覆盖率)",
)
def api_coverage_divisions(
    session: SessionDep,
    run: RunRef,
    code: CircleCode,
    level: Annotated[
        Level | None,
        Query(description="Only this division level (市/区(市)县/街道(镇)/社区(村)); default: all"),
    ] = None,
    part: Part = "",
) -> list[DivisionResultOut]:
    return division_view(session, run_id(run), code, part=part, level=DivisionLevel(level) if level else None)


@router.get(
    "/runs/{run}/circles/{code}/map",
    response_model=MapOut,
    summary="A life circle's coverage map (覆盖地图): every origin's cost to the nearest facility",
)
def api_coverage_map(session: SessionDep, run: RunRef, code: CircleCode, part: Part = "") -> MapOut:
    return map_view(session, run_id(run), code, part=part)


@router.get(
    "/runs/{run}/circles/{code}/facilities/{facility_id}/isochrones",
    response_model=IsochronesOut,
    summary="One facility's isochrones (等时圈) for a life circle: GeoJSON polygons for display",
)
def api_coverage_isochrones(
    session: SessionDep,
    run: RunRef,
    code: CircleCode,
    facility_id: Annotated[
        str,
        Path(
            min_length=1,
            max_length=128,
            description="A facility's id in the run's facilities file (the map's `facilities.id`)",
        ),
    ],
    steps: Annotated[
        int, Query(ge=1, le=6, description="Bands the circle's threshold is split into (5/10/15 min …)")
    ] = 3,
) -> IsochronesOut:
    """The area within reach of the facility by the circle's mode and direction, within each of
    ``steps`` equal parts of the threshold: the concave hull of the street nodes reached, in
    longitude/latitude, smallest band first. For display only: coverage itself is judged per
    resident on the network, not by these polygons."""
    return isochrones_view(session, run_id(run), code, facility_id, steps=steps)


@router.get("/siting", response_model=list[SitingOut], summary="Siting runs (设施选址), the latest first")
def api_siting_runs(session: SessionDep) -> list[SitingOut]:
    return siting_runs_view(session)


@router.get(
    "/siting/{siting_id}",
    response_model=SitingOut,
    summary="One siting run (设施选址): proposed sites in order, coverage before and after",
)
def api_siting_run(session: SessionDep, siting_id: Id) -> SitingOut:
    return siting_view(session, siting_id)


@router.get(
    "/siting/{siting_id}/map",
    response_model=MapOut,
    summary="The coverage map behind a siting run (选址地图): uncovered residents, existing facilities",
)
def api_siting_map(session: SessionDep, siting_id: Id) -> MapOut:
    return siting_map_view(session, siting_id)
