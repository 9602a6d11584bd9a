"""The JSON API of evaluation rounds (年度监测, 中期评估, 总结评估) and qualitative assessments.

Rounds are published documents: anyone may read those of published plans. Publishing a round and
recording an assessment need ``evaluation.publish`` (planners) and the plan's or the target's scope
in the caller's capture scope.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from planwatch.accounts.policy import Operation
from planwatch.accounts.principal import Principal
from planwatch.evaluation.assessments import ASSESSOR_MAX, EVIDENCE_MAX, local_today, record_assessment
from planwatch.evaluation.round_views import (
    AssessmentOut,
    RoundDiffOut,
    RoundOut,
    RoundSummaryOut,
    assessment_out,
    assessment_views,
    list_round_views,
    round_diff_view,
    round_view,
)
from planwatch.evaluation.rounds import publish_round
from planwatch.evaluation.service import get_plan
from planwatch.models import Plan
from planwatch.models.enums import RoundKind
from planwatch.plans.views import get_target
from planwatch.web.deps import AudienceDep, Id, NowDep, PrincipalDep, SessionDep, SettingsDep, requires

router = APIRouter(prefix="/api", tags=["evaluation"])

Year = Annotated[int, Field(ge=1949, le=2100)]
PlanCode = Annotated[str, Field(min_length=1, max_length=64)]


class RoundIn(BaseModel):
    """Publish a round. Unknown fields are refused; who publishes and when is not yours to set."""

    model_config = ConfigDict(extra="forbid")

    kind: RoundKind = Field(description="annual 年度监测 | midterm 中期评估 | final 总结评估")
    year: Year | None = Field(
        default=None,
        description="Evaluation year (default: annual, the latest with data; midterm, the plan's middle "
        "year; final, its last year)",
    )
    plan: PlanCode | None = Field(default=None, description="Plan code (default: the loaded plan)")
    note: str | None = Field(default=None, max_length=2000)
    supersede: bool = Field(
        default=False, description="Publish a correction of the round of this kind and year (a new revision)"
    )


class AssessmentIn(BaseModel):
    """Record a qualitative target's assessment. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    year: Year
    status: str = Field(
        max_length=32,
        description="achieved | ahead | on_track | lagging | seriously_lagging | missed",
    )
    evidence: str = Field(min_length=1, max_length=EVIDENCE_MAX)
    assessor: str = Field(min_length=1, max_length=ASSESSOR_MAX)
    assessed_on: date | None = Field(default=None, description="Date of the judgement (default: today)")


def require_plan_scope(principal: Principal, plan: Plan) -> None:
    """Publishing a plan's round needs the plan's scope (e.g. the city) in the capture scope."""
    if plan.scope_division_id is not None:
        principal.require_capture(plan.scope_division_id, "plan")


def internal(principal: Principal) -> bool:
    """Account names (who published, who entered) are shown to signed-in catalogue readers only."""
    return principal.can(Operation.catalogue_read)


@router.get(
    "/evaluation-rounds",
    response_model=list[RoundSummaryOut],
    summary="Published evaluation rounds (年度监测/中期评估/总结评估), newest first",
)
def api_rounds(
    audience: AudienceDep,
    principal: PrincipalDep,
    session: SessionDep,
    plan: Annotated[str | None, Query(description="Plan code", max_length=64)] = None,
) -> list[RoundSummaryOut]:
    plan_row = get_plan(session, plan, audience=audience) if plan else None
    return list_round_views(session, plan=plan_row, audience=audience, internal=internal(principal))


@router.post(
    "/evaluation-rounds",
    response_model=RoundOut,
    status_code=201,
    summary="Publish an evaluation round: every target evaluated on approved values, stored for good",
    dependencies=[requires(Operation.evaluation_publish)],
    responses={409: {"description": "This kind and year is already published: supersede it instead"}},
)
def api_publish_round(
    body: RoundIn,
    audience: AudienceDep,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> RoundOut:
    plan = get_plan(session, body.plan, audience=audience)
    require_plan_scope(principal, plan)
    published = publish_round(
        session,
        plan,
        kind=body.kind,
        year=body.year,
        actor=principal.actor,
        note=body.note,
        supersede=body.supersede,
        thresholds=settings.thresholds,
        now=now,
    )
    return round_view(session, published.id, audience=audience, internal=True)


@router.get(
    "/evaluation-rounds/{round_id}",
    response_model=RoundOut,
    summary="One evaluation round: every target's evaluation as published, with the data it used",
)
def api_round(round_id: Id, audience: AudienceDep, principal: PrincipalDep, session: SessionDep) -> RoundOut:
    return round_view(session, round_id, audience=audience, internal=internal(principal))


@router.get(
    "/evaluation-rounds/{round_id}/diff/{other_id}",
    response_model=RoundDiffOut,
    summary="What changed from one round to another (targets whose status, figures or data differ)",
)
def api_round_diff(
    round_id: Id, other_id: Id, audience: AudienceDep, principal: PrincipalDep, session: SessionDep
) -> RoundDiffOut:
    return round_diff_view(session, round_id, other_id, audience=audience, internal=internal(principal))


@router.get(
    "/targets/{target_id}/assessments",
    response_model=list[AssessmentOut],
    summary="A qualitative target's assessments, newest first (the latest year's latest one counts)",
)
def api_assessments(
    target_id: Id, audience: AudienceDep, principal: PrincipalDep, session: SessionDep
) -> list[AssessmentOut]:
    target = get_target(session, target_id, audience=audience)
    return assessment_views(session, target, internal=internal(principal))


@router.post(
    "/targets/{target_id}/assessments",
    response_model=AssessmentOut,
    status_code=201,
    summary="Record a qualitative target's assessment for a year, with evidence, assessor and date",
    dependencies=[requires(Operation.evaluation_publish)],
)
def api_record_assessment(
    target_id: Id,
    body: AssessmentIn,
    audience: AudienceDep,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
) -> AssessmentOut:
    target = get_target(session, target_id, audience=audience)
    principal.require_capture(target.scope_division_id, "target")
    row = record_assessment(
        session,
        target,
        year=body.year,
        status=body.status,
        evidence=body.evidence,
        assessor=body.assessor,
        assessed_on=body.assessed_on or local_today(now),
        actor=principal.actor,
        channel="api",
        now=now,
    )
    return assessment_out(row, internal=True)
