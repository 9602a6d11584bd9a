"""Evaluation rounds: annual tracking (年度监测), the mid-term (中期评估) and the final evaluation
(总结评估) as stored, dated snapshots of every target's evaluation with the data it used.

A round is published once per plan, kind and year. Later data changes never touch it: it is read
back from its own rows, which the database refuses to change (migration 0004). A correction is a
new round that supersedes the earlier one (``supersede=True``); both stay. Two rounds compare with
``diff_rounds``. The rules are documented in ``docs/evaluation.md`` ("Evaluation rounds and
qualitative assessments").
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from planwatch.audit.security_log import Actor, record
from planwatch.clock import system_clock
from planwatch.config import StatusThresholds
from planwatch.errors import ConflictError, InvalidValueError, NotFoundError
from planwatch.evaluation.assessments import latest_assessments
from planwatch.evaluation.service import (
    OPERATOR,
    Audience,
    TargetEvaluation,
    evaluate_plan,
    latest_data_year,
)
from planwatch.models import EvaluationRound, EvaluationRoundTarget, Plan, QualitativeAssessment, Target
from planwatch.models.enums import RoundKind, TargetKind

PUBLISHED_VALUES = Audience(unapproved_in=frozenset(), drafts=True)
"""A round is published for the public, so it is evaluated on approved (and locked) values only,
whoever publishes it; the plan itself may still be a draft (its rounds are then shown only to
those who may read drafts)."""

ROUND_KIND_EN = {
    RoundKind.annual: "annual tracking",
    RoundKind.midterm: "mid-term evaluation",
    RoundKind.final: "final evaluation",
}
IGNORED_IN_DIFF = frozenset({"target_id", "code", "year"})
"""Payload fields a diff does not list: identity, and the evaluation year (shown for the rounds)."""


def middle_year(plan: Plan) -> int:
    """The year of the mid-term evaluation: the middle year of the plan period (2023 for 2021–2025;
    the earlier of the two middle years for an even number of years)."""
    return plan.period_start + (plan.period_end - plan.period_start) // 2


def default_round_year(session: Session, plan: Plan, kind: RoundKind) -> int:
    """Annual tracking: the latest year with data; mid-term: the middle year; final: the last year."""
    if kind is RoundKind.midterm:
        return middle_year(plan)
    if kind is RoundKind.final:
        return plan.period_end
    return latest_data_year(session, plan)


def _check_round_year(plan: Plan, kind: RoundKind, year: int) -> None:
    label = f"{kind.zh}({ROUND_KIND_EN[kind]})"
    if not plan.period_start <= year <= plan.period_end:
        msg = (
            f"{label}的年份须在规划期{plan.period_start}–{plan.period_end}年内。no {ROUND_KIND_EN[kind]} "
            f"of {year}: a round evaluates a year of the plan period {plan.period_start}–{plan.period_end} "
            f"of {plan.code}; choose a year from {plan.period_start} to {plan.period_end}"
        )
        raise InvalidValueError(msg)
    if kind is RoundKind.final and year != plan.period_end:
        msg = (
            f"总结评估针对规划期末年{plan.period_end}年。the final evaluation is of the last year of the plan "
            f"period, {plan.period_end}; leave out the year or give {plan.period_end} (an earlier year is an "
            "annual or the mid-term round)"
        )
        raise InvalidValueError(msg)


def current_round(session: Session, plan: Plan, kind: RoundKind, year: int) -> EvaluationRound | None:
    """The latest revision of the plan's round of ``kind`` and ``year``, if one is published."""
    return session.scalars(
        select(EvaluationRound)
        .where(EvaluationRound.plan_id == plan.id, EvaluationRound.kind == kind, EvaluationRound.year == year)
        .order_by(EvaluationRound.revision.desc())
        .limit(1)
    ).first()


def publish_round(
    session: Session,
    plan: Plan,
    *,
    kind: RoundKind | str,
    year: int | None = None,
    actor: Actor,
    note: str | None = None,
    supersede: bool = False,
    thresholds: StatusThresholds | None = None,
    now: datetime | None = None,
) -> EvaluationRound:
    """Evaluate every target of ``plan`` for ``year`` and store the result as a round.

    Parameters
    ----------
    kind
        ``annual`` (年度监测), ``midterm`` (中期评估) or ``final`` (总结评估).
    year
        The evaluation year; default: the latest year with data (annual), the middle year of the
        plan period (midterm), the last year of the period (final, which allows no other year).
    actor
        Who publishes (recorded as ``published_by`` and in the security log).
    supersede
        Publish a correction of the round already published for this kind and year: a new round
        with the next revision that names the one it supersedes. Without it, a second round of the
        same kind and year is refused.
    thresholds
        Status thresholds; stored with the round.

    Returns
    -------
    EvaluationRound
        The stored round with its targets. Values are the approved (and locked) ones only
        (``PUBLISHED_VALUES``), whoever publishes.
    """
    kind = _kind(kind)
    year = year if year is not None else default_round_year(session, plan, kind)
    _check_round_year(plan, kind, year)
    label = f"{kind.zh} {year}"
    current = current_round(session, plan, kind, year)
    if current is not None and not supersede:
        msg = (
            f"{plan.code} 的{label}年已发布(第{current.id}号,第{current.revision}版),已发布的评估不能改写;"
            f"如需更正,请以 --supersede 发布新版本。the {ROUND_KIND_EN[kind]} of {year} for {plan.code} is "
            f"already published (round {current.id}, revision {current.revision}) and is never rewritten; "
            'to correct it, publish again with --supersede (API: "supersede": true): a new revision that '
            "names the one it supersedes"
        )
        raise ConflictError(msg)
    if current is None and supersede:
        msg = (
            f"{plan.code} 尚未发布{label}年,无可替代的版本;请去掉 --supersede。nothing to supersede: no "
            f"{ROUND_KIND_EN[kind]} of {year} is published for {plan.code}; publish without --supersede"
        )
        raise InvalidValueError(msg)
    moment = now or system_clock()
    thresholds = thresholds or StatusThresholds()
    evaluation = evaluate_plan(session, plan, year, thresholds=thresholds, audience=PUBLISHED_VALUES)
    qualitative = session.scalars(
        select(Target.id).where(Target.plan_id == plan.id, Target.kind == TargetKind.qualitative)
    ).all()
    assessments = latest_assessments(session, qualitative, year)
    rows = []
    for position, target_evaluation in enumerate(evaluation.targets):
        data = evaluation_data(target_evaluation)
        assessment = assessments.get(target_evaluation.target_id)
        if assessment is not None:
            data["assessment"] = _assessment_data(assessment)
        rows.append(
            EvaluationRoundTarget(
                target_id=target_evaluation.target_id,
                target_code=target_evaluation.code,
                position=position,
                status=str(_plain(target_evaluation.status)),
                payload=snapshot(target_evaluation),
                data=data,
            )
        )
    published = EvaluationRound(
        plan_id=plan.id,
        kind=kind,
        year=year,
        revision=current.revision + 1 if current is not None else 1,
        supersedes_id=current.id if current is not None else None,
        published_at=moment,
        published_by=actor.name,
        note=(note or "").strip() or None,
        counts={str(_plain(status)): n for status, n in evaluation.counts.items()},
        simulated=evaluation.simulated,
        thresholds=_plain(thresholds.model_dump()),
        data_fingerprint=fingerprint(rows),
        targets=rows,
    )
    try:
        with session.begin_nested():
            session.add(published)
    except IntegrityError:  # someone published the same round a moment earlier
        msg = (
            f"{plan.code} 的{label}年刚刚已由他人发布。the {ROUND_KIND_EN[kind]} of {year} for {plan.code} was "
            "published by someone else a moment ago; list the rounds and supersede it if it needs a correction"
        )
        raise ConflictError(msg) from None
    record(
        session,
        actor,
        "evaluation.publish",
        now=moment,
        object_type="evaluation_round",
        object_id=published.id,
        detail={
            "plan": plan.code,
            "kind": kind.value,
            "year": year,
            "revision": published.revision,
            "supersedes": published.supersedes_id,
            "fingerprint": published.data_fingerprint,
        },
    )
    return published


def _kind(kind: RoundKind | str) -> RoundKind:
    try:
        return RoundKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in RoundKind)
        msg = f"未知的评估类型 {kind!r}。unknown round kind {kind!r}; use one of {known}"
        raise InvalidValueError(msg) from None


# ---------------------------------------------------------------- what a round stores


def snapshot(evaluation: TargetEvaluation) -> dict[str, Any]:
    """Every field of a target's evaluation as JSON-ready data, read generically from the
    dataclass (fields added later are stored without a change here); NaN and infinities as null."""
    plain = _plain(evaluation)
    assert isinstance(plain, dict)  # noqa: S101 - a dataclass instance becomes a dict
    return plain


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, Mapping):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def evaluation_data(evaluation: TargetEvaluation) -> dict[str, Any]:
    """The data a target's evaluation used: the judged measure per year at the target's scope up
    to the evaluation year (the value itself for a level target, the increase, the running sum or
    the share of units meeting it for other kinds: ``measure_zh`` says which), the baseline, the
    data year, and whether any value behind the series is simulated (one flag for the series)."""
    measure = evaluation.measure
    values = (
        {str(y): _plain(float(v)) for y, v in sorted(measure.by_year.items()) if y <= evaluation.year}
        if measure is not None
        else {}
    )
    return {
        "measure_zh": measure.label_zh if measure is not None else None,
        "measure_en": measure.label_en if measure is not None else None,
        "values": values,
        "baseline": _plain(float(measure.baseline)) if measure is not None else None,
        "data_year": evaluation.data_year,
        "simulated": bool(evaluation.simulated),
    }


def _assessment_data(row: QualitativeAssessment) -> dict[str, Any]:
    return {
        "id": row.id,
        "year": row.year,
        "status": row.status,
        "assessor": row.assessor,
        "assessed_on": row.assessed_on.isoformat(),
        "evidence": row.evidence,
    }


def fingerprint(rows: Iterable[EvaluationRoundTarget]) -> str:
    """sha256 over every target's ``data`` (sorted by target code, canonical JSON)."""
    canonical = json.dumps(
        sorted([row.target_code, row.data] for row in rows),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- reading rounds


def list_rounds(
    session: Session, plan: Plan | None = None, *, audience: Audience = OPERATOR
) -> list[EvaluationRound]:
    """Rounds newest first, of ``plan`` or of every plan the audience may see."""
    query = select(EvaluationRound).options(selectinload(EvaluationRound.plan))
    if plan is not None:
        query = query.where(EvaluationRound.plan_id == plan.id)
    rounds = session.scalars(query.order_by(EvaluationRound.id.desc())).all()
    return [r for r in rounds if audience.may_see(r.plan)]


def get_round(session: Session, round_id: int, *, audience: Audience = OPERATOR) -> EvaluationRound:
    """One round with its targets; rounds of plans the audience may not see do not exist for it."""
    found = session.scalars(
        select(EvaluationRound)
        .where(EvaluationRound.id == round_id)
        .options(
            selectinload(EvaluationRound.plan),
            selectinload(EvaluationRound.targets)
            .selectinload(EvaluationRoundTarget.target)
            .selectinload(Target.indicator),
        )
    ).first()
    if found is None or not audience.may_see(found.plan):
        msg = (
            f"评估轮次 {round_id} 不存在。no evaluation round {round_id}; list them with "
            "GET /api/evaluation-rounds or `planwatch evaluate rounds`"
        )
        raise NotFoundError(msg)
    return found


def superseded_by(session: Session, rounds: Iterable[EvaluationRound]) -> dict[int, int]:
    """For each of ``rounds`` that a later round supersedes, that later round's id."""
    ids = [r.id for r in rounds]
    if not ids:
        return {}
    rows = session.execute(
        select(EvaluationRound.supersedes_id, func.min(EvaluationRound.id))
        .where(EvaluationRound.supersedes_id.in_(ids))
        .group_by(EvaluationRound.supersedes_id)
    ).all()
    return {int(old): int(new) for old, new in rows if old is not None}


# ---------------------------------------------------------------- comparing rounds


@dataclass(frozen=True)
class TargetChange:
    """One target in a comparison of two rounds. ``fields`` names what differs: payload fields
    (one level deep for nested ones, e.g. ``measure.by_year``) and ``data.*`` for the values used."""

    code: str
    target_id: int
    status_before: str | None
    status_after: str | None
    actual_before: float | None
    actual_after: float | None
    fields: tuple[str, ...] = ()

    @property
    def status_changed(self) -> bool:
        return self.status_before != self.status_after


@dataclass(frozen=True)
class RoundDiff:
    """What changed from round ``before`` to round ``after`` (in the order given)."""

    before: EvaluationRound
    after: EvaluationRound
    changed: list[TargetChange] = field(default_factory=list)
    """Targets in both rounds whose evaluation or data differ."""
    added: list[TargetChange] = field(default_factory=list)
    """Targets only in ``after``."""
    removed: list[TargetChange] = field(default_factory=list)
    """Targets only in ``before``."""
    unchanged: int = 0

    @property
    def counts_before(self) -> dict[str, int]:
        return dict(self.before.counts)

    @property
    def counts_after(self) -> dict[str, int]:
        return dict(self.after.counts)


def diff_rounds(before: EvaluationRound, after: EvaluationRound) -> RoundDiff:
    """Compare two rounds of one plan target by target (matched by target code).

    Rounds of different plan versions of the same plan code compare too; rounds of different plans
    are refused.
    """
    if before.plan.code != after.plan.code:
        msg = (
            f"第{before.id}号与第{after.id}号评估属于不同规划({before.plan.code}、{after.plan.code}),"
            f"无法比较。rounds {before.id} and {after.id} are of different plans ({before.plan.code}, "
            f"{after.plan.code}); compare two rounds of one plan"
        )
        raise InvalidValueError(msg)
    old = {t.target_code: t for t in before.targets}
    new = {t.target_code: t for t in after.targets}
    changed: list[TargetChange] = []
    unchanged = 0
    for code, row in new.items():
        if code not in old:
            continue
        fields = _changed_fields(old[code].payload, row.payload, ignored=IGNORED_IN_DIFF)
        fields += [f"data.{name}" for name in _changed_fields(old[code].data, row.data)]
        if fields:
            changed.append(_change(old[code], row, fields))
        else:
            unchanged += 1
    return RoundDiff(
        before,
        after,
        changed=changed,
        added=[_change(None, row) for code, row in new.items() if code not in old],
        removed=[_change(row, None) for code, row in old.items() if code not in new],
        unchanged=unchanged,
    )


def _change(
    before: EvaluationRoundTarget | None, after: EvaluationRoundTarget | None, fields: list[str] | None = None
) -> TargetChange:
    either = after if after is not None else before
    assert either is not None  # noqa: S101 - one side always exists
    return TargetChange(
        code=either.target_code,
        target_id=either.target_id,
        status_before=before.status if before is not None else None,
        status_after=after.status if after is not None else None,
        actual_before=_actual(before),
        actual_after=_actual(after),
        fields=tuple(fields or ()),
    )


def _actual(row: EvaluationRoundTarget | None) -> float | None:
    value = row.payload.get("actual") if row is not None else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any], *, ignored: frozenset[str] = frozenset()
) -> list[str]:
    """Keys whose values differ; a mapping on both sides is compared one level deeper."""
    out: list[str] = []
    for key in sorted(set(before) | set(after)):
        if key in ignored:
            continue
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            deeper = [f"{key}.{sub}" for sub in sorted(set(old) | set(new)) if old.get(sub) != new.get(sub)]
            out.extend(deeper or [key])
        else:
            out.append(key)
    return out
