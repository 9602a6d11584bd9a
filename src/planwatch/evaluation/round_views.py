"""What the CLI, the JSON API and the pages show of evaluation rounds and qualitative assessments:
one set of models, and one function per page and its JSON twin."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from planwatch.clock import as_utc
from planwatch.evaluation.assessments import assessment_history
from planwatch.evaluation.progress import Status
from planwatch.evaluation.rounds import (
    ROUND_KIND_EN,
    RoundDiff,
    TargetChange,
    diff_rounds,
    get_round,
    list_rounds,
    superseded_by,
)
from planwatch.evaluation.service import OPERATOR, Audience
from planwatch.models import EvaluationRound, EvaluationRoundTarget, Plan, QualitativeAssessment, Target


class RoundSummaryOut(BaseModel):
    id: int
    plan: str
    plan_version: int
    kind: str
    kind_zh: str
    kind_en: str
    year: int
    revision: int
    supersedes: int | None = Field(description="The round this one corrects, if any.")
    superseded_by: int | None = Field(description="The round that corrects this one, if any.")
    published_at: datetime
    published_by: str | None = Field(description="The account that published it (not shown to the public).")
    note: str | None
    counts: dict[str, int]
    simulated: bool = Field(description="True when any value behind the round is simulated (模拟数据).")
    thresholds: dict[str, Any]
    data_fingerprint: str = Field(description="sha256 over the data every target's evaluation used.")


class RoundTargetOut(BaseModel):
    target_id: int
    code: str
    indicator_zh: str
    indicator_en: str | None
    status: str
    status_zh: str
    status_en: str
    actual: float | None
    data_year: int | None
    reason_zh: str | None
    reason_en: str | None
    simulated: bool
    evaluation: dict[str, Any] = Field(description="Every field of the target's evaluation as published.")
    data: dict[str, Any] = Field(description="The values the evaluation used.")


class RoundOut(RoundSummaryOut):
    targets: list[RoundTargetOut]


class TargetChangeOut(BaseModel):
    target_id: int
    code: str
    status_before: str | None
    status_after: str | None
    actual_before: float | None
    actual_after: float | None
    fields: list[str] = Field(description="What differs: evaluation fields, and data.* for the values used.")


class RoundDiffOut(BaseModel):
    before: RoundSummaryOut
    after: RoundSummaryOut
    changed: list[TargetChangeOut]
    added: list[TargetChangeOut]
    removed: list[TargetChangeOut]
    unchanged: int
    status_changes: int = Field(description="How many targets changed status.")


class AssessmentOut(BaseModel):
    id: int
    target: str
    year: int
    status: str
    status_zh: str
    status_en: str
    evidence: str
    assessor: str
    assessed_on: date
    recorded_by: str | None = Field(description="The account that entered it (not shown to the public).")
    recorded_at: datetime
    channel: str


def _status(value: str | None) -> Status:
    try:
        return Status(value or Status.not_evaluable)
    except ValueError:  # a status retired after the round was published
        return Status.not_evaluable


def round_summary_out(row: EvaluationRound, *, later: int | None, internal: bool) -> RoundSummaryOut:
    """``internal``: the reader may see account names (signed-in catalogue readers)."""
    return RoundSummaryOut(
        id=row.id,
        plan=row.plan.code,
        plan_version=row.plan.version,
        kind=row.kind.value,
        kind_zh=row.kind.zh,
        kind_en=ROUND_KIND_EN[row.kind],
        year=row.year,
        revision=row.revision,
        supersedes=row.supersedes_id,
        superseded_by=later,
        published_at=as_utc(row.published_at),
        published_by=row.published_by if internal else None,
        note=row.note,
        counts=dict(row.counts),
        simulated=row.simulated,
        thresholds=dict(row.thresholds),
        data_fingerprint=row.data_fingerprint,
    )


def round_target_out(row: EvaluationRoundTarget) -> RoundTargetOut:
    payload = row.payload
    status = _status(row.status)
    given = payload.get("reason")
    reason: dict[str, Any] = given if isinstance(given, dict) else {}
    actual = payload.get("actual")
    indicator = row.target.indicator
    return RoundTargetOut(
        target_id=row.target_id,
        code=row.target_code,
        indicator_zh=indicator.name_zh,
        indicator_en=indicator.name_en,
        status=row.status,
        status_zh=status.zh,
        status_en=status.en,
        actual=float(actual) if isinstance(actual, int | float) and not isinstance(actual, bool) else None,
        data_year=payload.get("data_year"),
        reason_zh=reason.get("zh"),
        reason_en=reason.get("en"),
        simulated=bool(payload.get("simulated")),
        evaluation=payload,
        data=row.data,
    )


def round_out(row: EvaluationRound, *, later: int | None, internal: bool) -> RoundOut:
    summary = round_summary_out(row, later=later, internal=internal)
    return RoundOut(**summary.model_dump(), targets=[round_target_out(t) for t in row.targets])


def _change_out(change: TargetChange) -> TargetChangeOut:
    return TargetChangeOut(
        target_id=change.target_id,
        code=change.code,
        status_before=change.status_before,
        status_after=change.status_after,
        actual_before=change.actual_before,
        actual_after=change.actual_after,
        fields=list(change.fields),
    )


def round_diff_out(diff: RoundDiff, *, later: dict[int, int], internal: bool) -> RoundDiffOut:
    return RoundDiffOut(
        before=round_summary_out(diff.before, later=later.get(diff.before.id), internal=internal),
        after=round_summary_out(diff.after, later=later.get(diff.after.id), internal=internal),
        changed=[_change_out(c) for c in diff.changed],
        added=[_change_out(c) for c in diff.added],
        removed=[_change_out(c) for c in diff.removed],
        unchanged=diff.unchanged,
        status_changes=sum(c.status_changed for c in diff.changed),
    )


def assessment_out(row: QualitativeAssessment, *, internal: bool) -> AssessmentOut:
    status = _status(row.status)
    return AssessmentOut(
        id=row.id,
        target=row.target.code,
        year=row.year,
        status=row.status,
        status_zh=status.zh,
        status_en=status.en,
        evidence=row.evidence,
        assessor=row.assessor,
        assessed_on=row.assessed_on,
        recorded_by=row.recorded_by if internal else None,
        recorded_at=as_utc(row.recorded_at),
        channel=row.channel,
    )


# ---------------------------------------------------------------- one function per page and JSON twin


def list_round_views(
    session: Session, *, plan: Plan | None = None, audience: Audience = OPERATOR, internal: bool = True
) -> list[RoundSummaryOut]:
    """Rounds newest first (of ``plan``, or of every plan the audience may see)."""
    rounds = list_rounds(session, plan, audience=audience)
    later = superseded_by(session, rounds)
    return [round_summary_out(r, later=later.get(r.id), internal=internal) for r in rounds]


def round_view(
    session: Session, round_id: int, *, audience: Audience = OPERATOR, internal: bool = True
) -> RoundOut:
    row = get_round(session, round_id, audience=audience)
    return round_out(row, later=superseded_by(session, [row]).get(row.id), internal=internal)


def round_diff_view(
    session: Session,
    before_id: int,
    after_id: int,
    *,
    audience: Audience = OPERATOR,
    internal: bool = True,
) -> RoundDiffOut:
    before = get_round(session, before_id, audience=audience)
    after = get_round(session, after_id, audience=audience)
    diff = diff_rounds(before, after)
    return round_diff_out(diff, later=superseded_by(session, [before, after]), internal=internal)


def assessment_views(session: Session, target: Target, *, internal: bool = True) -> list[AssessmentOut]:
    """A target's assessments, newest first."""
    return [assessment_out(row, internal=internal) for row in assessment_history(session, target)]
