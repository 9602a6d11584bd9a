"""The JSON API. Each route parses input, calls one service function and returns its result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from planwatch.accounts.policy import Operation
from planwatch.divisions.schemas import DivisionOut
from planwatch.divisions.service import get_division, list_divisions
from planwatch.evaluation.progress import Status
from planwatch.evaluation.service import get_plan, latest_data_year
from planwatch.models.enums import DivisionLevel
from planwatch.plans.schemas import Number
from planwatch.plans.service import fill_target
from planwatch.plans.views import (
    BreakdownOut,
    EvaluationOut,
    TargetOut,
    get_target,
    list_target_views,
    target_breakdown,
    target_view,
)
from planwatch.web.deps import AudienceDep, Id, NowDep, PrincipalDep, SessionDep, SettingsDep, requires

router = APIRouter(prefix="/api", tags=["api"])


class EvaluationSummary(BaseModel):
    plan: str
    year: int
    counts: dict[str, int]
    simulated: bool = Field(description="True when any value behind the evaluation is simulated (模拟数据).")
    targets: list[EvaluationRow]


class EvaluationRow(BaseModel):
    id: int
    code: str
    incomplete: bool
    evaluation: EvaluationOut | None


class TargetPatch(BaseModel):
    """Fill in what the source lost. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    value: Number | None = None
    range: tuple[Number, Number] | None = None
    deadline: int | None = None
    note: str | None = Field(default=None, max_length=2000)


@router.get("/targets", response_model=list[TargetOut], summary="Every target with its status")
def api_targets(
    audience: AudienceDep,
    session: SessionDep,
    settings: SettingsDep,
    year: Annotated[int | None, Query(description="Evaluation year (default: latest with data)")] = None,
    plan: Annotated[str | None, Query(description="Plan code")] = None,
) -> list[TargetOut]:
    plan_row = get_plan(session, plan, audience=audience)
    year = year if year is not None else latest_data_year(session, plan_row)
    return list_target_views(session, plan_row, year, thresholds=settings.thresholds, audience=audience)


@router.get("/targets/{target_id}", response_model=TargetOut, summary="One target with its evaluation")
def api_target(
    audience: AudienceDep,
    target_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    year: Annotated[int | None, Query(description="Evaluation year (default: latest with data)")] = None,
) -> TargetOut:
    target = get_target(session, target_id, audience=audience)
    year = year if year is not None else latest_data_year(session, target.plan)
    return target_view(session, target_id, year, thresholds=settings.thresholds, audience=audience)


@router.get(
    "/targets/{target_id}/divisions",
    response_model=BreakdownOut,
    summary="A target's indicator per child division of its scope (e.g. per district), with map shapes",
)
def api_target_divisions(
    audience: AudienceDep,
    target_id: Id,
    session: SessionDep,
    year: Annotated[int | None, Query(description="Year (default: latest with data)")] = None,
) -> BreakdownOut:
    target = get_target(session, target_id, audience=audience)
    year = year if year is not None else latest_data_year(session, target.plan)
    return target_breakdown(session, target_id, year, audience=audience)


@router.patch(
    "/targets/{target_id}",
    response_model=TargetOut,
    summary="Fill in a target's missing number (planners, within their capture scope)",
    dependencies=[requires(Operation.catalogue_edit)],
)
def api_patch_target(
    audience: AudienceDep,
    target_id: Id,
    patch: TargetPatch,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> TargetOut:
    target = get_target(session, target_id, audience=audience)
    principal.require_capture(target.scope_division_id, "target")
    fill_target(
        session,
        target,
        value=patch.value,
        range_=patch.range,
        deadline=patch.deadline,
        actor=principal.username,
        channel="api",
        note=patch.note,
        logged_as=principal.actor,
    )
    year = latest_data_year(session, target.plan)
    return target_view(session, target_id, year, thresholds=settings.thresholds, audience=audience)


@router.get("/divisions", response_model=list[DivisionOut], summary="Divisions, filtered by level or parent")
def api_divisions(
    session: SessionDep,
    level: Annotated[DivisionLevel | None, Query(description="city, district, street, community")] = None,
    parent: Annotated[str | None, Query(description="Code of the parent division")] = None,
    q: Annotated[str | None, Query(description="Part of the Chinese name", max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[DivisionOut]:
    return list_divisions(session, level=level, parent=parent, q=q, limit=limit, offset=offset)


@router.get("/divisions/{code}", response_model=DivisionOut, summary="One division by its official code")
def api_division(code: str, session: SessionDep) -> DivisionOut:
    return DivisionOut.from_row(get_division(session, code))


@router.get("/evaluation", response_model=EvaluationSummary, summary="Evaluation of every target for a year")
def api_evaluation(
    audience: AudienceDep,
    session: SessionDep,
    settings: SettingsDep,
    year: Annotated[int, Query(description="Evaluation year")],
    plan: Annotated[str | None, Query(description="Plan code")] = None,
) -> EvaluationSummary:
    plan_row = get_plan(session, plan, audience=audience)
    views = list_target_views(session, plan_row, year, thresholds=settings.thresholds, audience=audience)
    counts = {status.value: 0 for status in Status}
    for view in views:
        counts[view.status or Status.not_evaluable.value] += 1
    return EvaluationSummary(
        plan=plan_row.code,
        year=year,
        counts=counts,
        simulated=any(v.evaluation is not None and v.evaluation.simulated for v in views),
        targets=[
            EvaluationRow(id=v.id, code=v.code, incomplete=v.incomplete, evaluation=v.evaluation)
            for v in views
        ],
    )
