"""Qualitative assessments (定性评估): a person's judgement of a qualitative target for a year, with
the evidence, who assessed it and when. The history is append-only (the database refuses changes);
for an evaluation year the assessment of the latest year up to it wins, and within that year the
one recorded last. See ``docs/evaluation.md`` ("Evaluation rounds and qualitative assessments").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.audit.security_log import Actor, record
from planwatch.clock import as_utc, system_clock
from planwatch.errors import InvalidValueError
from planwatch.evaluation.progress import Status
from planwatch.ingest.locks import CHINA
from planwatch.models import QualitativeAssessment, Target
from planwatch.models.enums import TargetKind

AssessmentChannel = Literal["cli", "api", "page"]
ASSESSABLE = tuple(s for s in Status if s is not Status.not_evaluable)
"""The statuses an assessor may give: every evaluation status but ``not_evaluable``."""
EVIDENCE_MAX = 10_000
ASSESSOR_MAX = 150


def local_today(now: datetime | None = None) -> date:
    """Today in Beijing time (dates of judgements are local dates)."""
    return as_utc(now or system_clock()).astimezone(CHINA).date()


def record_assessment(
    session: Session,
    target: Target,
    *,
    year: int,
    status: Status | str,
    evidence: str,
    assessor: str,
    assessed_on: date,
    actor: Actor,
    channel: AssessmentChannel,
    now: datetime | None = None,
) -> QualitativeAssessment:
    """Record an assessment of a qualitative target for ``year`` and log it as ``evaluation.assess``.

    Parameters
    ----------
    target
        A target of kind ``qualitative``; any other kind is evaluated from its data and refused.
    year
        The year the judgement is about, within the plan's years (base year to end of period).
    status
        An evaluation status other than ``not_evaluable`` (achieved, ahead, on_track, lagging,
        seriously_lagging, missed).
    evidence, assessor
        Required: what the judgement rests on, and who made it (a person or a body).
    assessed_on
        The date of the judgement; not after today (Beijing time).
    actor
        Who enters it (the signed-in user or the CLI operator); kept as ``recorded_by``.

    Returns
    -------
    QualitativeAssessment
        The new row (flushed). Earlier assessments stay as they are.
    """
    moment = now or system_clock()
    if target.kind is not TargetKind.qualitative:
        msg = (
            f"{target.code} 是“{target.kind.zh}”类目标,由监测数据自动评估,不能录入定性评估;"
            f"只有定性类目标可以。{target.code} is a {target.kind.value} target, evaluated from its "
            "data; only qualitative targets take a manual assessment"
        )
        raise InvalidValueError(msg)
    _check_year(target, year)
    chosen = _status(status)
    evidence = (evidence or "").strip()
    assessor = (assessor or "").strip()
    if not evidence:
        msg = (
            "请填写评估依据(证据):文件、验收结论、统计公报等。"
            "give the evidence the assessment rests on (documents, acceptance findings, statistics)"
        )
        raise InvalidValueError(msg)
    if len(evidence) > EVIDENCE_MAX:
        msg = f"评估依据过长(最多{EVIDENCE_MAX}字)。the evidence is longer than {EVIDENCE_MAX} characters; summarise it and cite the documents"
        raise InvalidValueError(msg)
    if not assessor:
        msg = "请填写评估人(个人或机构)。give the assessor: the person or body that made the judgement"
        raise InvalidValueError(msg)
    if len(assessor) > ASSESSOR_MAX:
        msg = f"评估人过长(最多{ASSESSOR_MAX}字)。the assessor is longer than {ASSESSOR_MAX} characters"
        raise InvalidValueError(msg)
    if assessed_on > local_today(moment):
        msg = (
            f"评估日期{assessed_on.isoformat()}晚于今天。the assessment date {assessed_on.isoformat()} "
            "lies in the future; give the date the judgement was made"
        )
        raise InvalidValueError(msg)
    row = QualitativeAssessment(
        target_id=target.id,
        year=year,
        status=chosen.value,
        evidence=evidence,
        assessor=assessor,
        assessed_on=assessed_on,
        recorded_by=actor.name,
        recorded_at=moment,
        channel=channel,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "evaluation.assess",
        now=moment,
        object_type="target",
        object_id=target.code,
        detail={"assessment": row.id, "year": year, "status": chosen.value, "assessor": assessor},
    )
    return row


def _check_year(target: Target, year: int) -> None:
    # the rule of ``service.check_year``, restated: ``service`` reads assessments, so this module
    # must not import it
    plan = target.plan
    if not plan.base_year <= year <= plan.period_end:
        msg = (
            f"评估年份须在{plan.base_year}至{plan.period_end}年之间。no assessment for {year}: the plan "
            f"{plan.code} runs {plan.period_start}–{plan.period_end} with base year {plan.base_year}; "
            f"choose a year from {plan.base_year} to {plan.period_end}"
        )
        raise InvalidValueError(msg)


def _status(status: Status | str) -> Status:
    allowed = ", ".join(s.value for s in ASSESSABLE)
    try:
        chosen = Status(status)
    except ValueError:
        msg = f"未知的评估状态 {status!r}。unknown status {status!r}; use one of {allowed}"
        raise InvalidValueError(msg) from None
    if chosen is Status.not_evaluable:
        msg = (
            "定性评估须给出判断,不能是“无法评估”;没有判断时不要录入。"
            f"an assessment must judge the target; use one of {allowed} (record nothing until you can)"
        )
        raise InvalidValueError(msg)
    return chosen


def latest_assessments(
    session: Session, target_ids: Iterable[int], year: int
) -> dict[int, QualitativeAssessment]:
    """The assessment that counts for each target in ``year``: of those for years up to ``year``,
    the one of the latest year, and within that year the one recorded last. Targets with none are
    left out."""
    ids = list(target_ids)
    if not ids:
        return {}
    rows = session.scalars(
        select(QualitativeAssessment)
        .where(QualitativeAssessment.target_id.in_(ids), QualitativeAssessment.year <= year)
        .order_by(QualitativeAssessment.year, QualitativeAssessment.id)
    )
    return {row.target_id: row for row in rows}


def assessment_history(session: Session, target: Target) -> list[QualitativeAssessment]:
    """Every assessment of ``target``, newest first (latest year, then latest recorded)."""
    return list(
        session.scalars(
            select(QualitativeAssessment)
            .where(QualitativeAssessment.target_id == target.id)
            .order_by(QualitativeAssessment.year.desc(), QualitativeAssessment.id.desc())
        )
    )
