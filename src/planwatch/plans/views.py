"""What the CLI, the JSON API and the pages show of a target: one model, one builder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from planwatch.config import StatusThresholds
from planwatch.divisions.maps import PALETTE, classes, project
from planwatch.errors import NotFoundError
from planwatch.evaluation.forecast import DEFAULT_LEVEL
from planwatch.evaluation.progress import Status
from planwatch.evaluation.scores import Leaf, rollup_scores
from planwatch.evaluation.service import (
    OPERATOR,
    Audience,
    TargetEvaluation,
    breakdown,
    evaluate_plan,
    evaluate_target,
    plan_years,
)
from planwatch.models import Division, Plan, Section, Target, Task


class IndicatorRef(BaseModel):
    code: str
    name_zh: str
    name_en: str | None
    unit: str
    direction: str
    nature: str
    nature_zh: str
    aggregation: str
    levels: list[str]


class SectionRef(BaseModel):
    code: str
    title_zh: str
    title_en: str | None


class TaskRef(BaseModel):
    code: str
    name_zh: str
    name_en: str | None
    kind: str
    lead_department: str | None
    lead_department_en: str | None
    lead_inferred: bool


class DivisionRef(BaseModel):
    code: str
    name_zh: str
    name_en: str | None
    level: str


class EvaluationOut(BaseModel):
    year: int
    status: str
    status_zh: str
    status_en: str
    reason_zh: str | None
    reason_en: str | None
    data_year: int | None
    measure_zh: str | None
    measure_en: str | None
    actual: float | None
    baseline: float | None
    target: float | None
    time_progress: float | None
    actual_progress: float | None
    ratio: float | None
    simulated: bool
    units_total: int | None
    units_meeting: int | None
    units_reported: int | None
    units_expected: int | None
    per_period: bool
    series: dict[int, float]
    values: dict[int, float]
    """The indicator's own values at the scope (the data the measure was computed from)."""
    forecast: ForecastOut | None
    score: float | None
    """−5…+5, what the target adds to its section's score (docs/evaluation.md §6)."""


class ForecastOut(BaseModel):
    """The projection at the deadline (docs/evaluation.md, "Forecast")."""

    scale: str
    """``measure``: projects the judged measure (``series``); ``value``: the indicator's values
    (rate targets, whose target implies a level at the deadline)."""
    deadline: int
    projected: float | None
    lower: float | None
    upper: float | None
    level: float
    probability: float | None
    anticipated_gap: float | None
    points: int
    model: str
    note: str
    trajectory: dict[int, float]


def _finite_series(series: dict[int, float]) -> dict[int, float]:
    return {y: v for y, v in ((y, _finite(v)) for y, v in sorted(series.items())) if v is not None}


def forecast_out(evaluation: TargetEvaluation, deadline: int) -> ForecastOut | None:
    found = evaluation.forecast
    if found is None:
        return None
    return ForecastOut(
        scale=evaluation.forecast_scale,
        deadline=deadline,
        projected=_finite(found.projected),
        lower=_finite(found.lower),
        upper=_finite(found.upper),
        level=DEFAULT_LEVEL,
        probability=_finite(found.probability),
        anticipated_gap=_finite(found.anticipated_gap),
        points=found.points,
        model=found.model,
        note=found.note,
        trajectory=_finite_series(found.trajectory),
    )


class TargetOut(BaseModel):
    id: int
    code: str
    plan: str
    indicator: IndicatorRef
    section: SectionRef | None
    task: TaskRef | None
    scope: DivisionRef
    kind: str
    kind_zh: str
    comparator: str
    comparator_zh: str
    value: float | None
    range: tuple[float, float] | None
    unit: str
    per: str | None
    per_unit_level: str | None
    reference: str | None
    reference_indicator: str | None
    """Relative targets: the code of the indicator holding the reference series."""
    baseline_value: float | None
    baseline_year: int
    year: int
    deadline_inferred: bool
    incomplete: bool
    incomplete_reason: str | None
    note: str | None
    source_sentence: str
    status: str | None
    evaluation: EvaluationOut | None


def _finite(value: float | None) -> float | None:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return round(float(value), 6)


def evaluation_out(evaluation: TargetEvaluation, deadline: int | None = None) -> EvaluationOut:
    measure = evaluation.measure
    return EvaluationOut(
        year=evaluation.year,
        status=evaluation.status.value,
        status_zh=evaluation.status.zh,
        status_en=evaluation.status.en,
        reason_zh=evaluation.reason.zh if evaluation.reason else None,
        reason_en=evaluation.reason.en if evaluation.reason else None,
        data_year=evaluation.data_year,
        measure_zh=measure.label_zh if measure else None,
        measure_en=measure.label_en if measure else None,
        actual=_finite(evaluation.actual),
        baseline=_finite(evaluation.baseline),
        target=_finite(evaluation.target),
        time_progress=_finite(evaluation.tau),
        actual_progress=_finite(evaluation.pi),
        ratio=_finite(evaluation.ratio),
        simulated=evaluation.simulated,
        units_total=evaluation.units_total,
        units_meeting=evaluation.units_meeting,
        units_reported=evaluation.units_reported,
        units_expected=evaluation.units_expected,
        per_period=bool(measure and measure.per_period),
        series=_finite_series(measure.by_year) if measure else {},
        values=_finite_series(measure.values) if measure else {},
        forecast=forecast_out(evaluation, deadline) if deadline is not None else None,
        score=_finite(evaluation.score),
    )


def target_out(target: Target, evaluation: TargetEvaluation | None) -> TargetOut:
    indicator = target.indicator
    task = target.task
    return TargetOut(
        id=target.id,
        code=target.code,
        plan=target.plan.code,
        indicator=IndicatorRef(
            code=indicator.code,
            name_zh=indicator.name_zh,
            name_en=indicator.name_en,
            unit=indicator.unit,
            direction=indicator.direction.value,
            nature=indicator.nature.value,
            nature_zh=indicator.nature.zh,
            aggregation=indicator.aggregation.value,
            levels=indicator.levels,
        ),
        section=SectionRef(
            code=target.section.code, title_zh=target.section.title_zh, title_en=target.section.title_en
        )
        if target.section
        else None,
        task=_task_ref(task) if task else None,
        scope=DivisionRef(
            code=target.scope.code,
            name_zh=target.scope.name_zh,
            name_en=target.scope.name_en,
            level=target.scope.level.value,
        ),
        kind=target.kind.value,
        kind_zh=target.kind.zh,
        comparator=target.comparator.value,
        comparator_zh=target.comparator.zh,
        value=target.value,
        range=(target.range_low, target.range_high)
        if target.range_low is not None and target.range_high is not None
        else None,
        unit=target.unit,
        per=target.per,
        per_unit_level=target.per_unit_level.value if target.per_unit_level else None,
        reference=target.reference,
        reference_indicator=target.reference_indicator.code if target.reference_indicator else None,
        baseline_value=target.baseline_value,
        baseline_year=target.baseline_year,
        year=target.deadline_year,
        deadline_inferred=target.deadline_inferred,
        incomplete=target.incomplete,
        incomplete_reason=target.incomplete_reason,
        note=target.note,
        source_sentence=target.source_sentence,
        status=evaluation.status.value if evaluation else None,
        evaluation=evaluation_out(evaluation, target.deadline_year) if evaluation else None,
    )


def _task_ref(task: Task) -> TaskRef:
    lead = task.lead_department
    return TaskRef(
        code=task.code,
        name_zh=task.name_zh,
        name_en=task.name_en,
        kind=task.kind.value,
        lead_department=lead.name_zh if lead else None,
        lead_department_en=lead.name_en if lead else None,
        lead_inferred=task.lead_inferred,
    )


def _load_targets(session: Session, plan: Plan) -> list[Target]:
    return list(
        session.scalars(
            select(Target)
            .where(Target.plan_id == plan.id)
            .options(
                selectinload(Target.indicator),
                selectinload(Target.section),
                selectinload(Target.scope),
                selectinload(Target.task).selectinload(Task.lead_department),
            )
            .order_by(Target.position)
        )
    )


def list_target_views(
    session: Session,
    plan: Plan,
    year: int,
    *,
    thresholds: StatusThresholds | None = None,
    audience: Audience = OPERATOR,
) -> list[TargetOut]:
    """Every target of the plan with its evaluation for ``year``."""
    targets = _load_targets(session, plan)
    evaluation = evaluate_plan(session, plan, year, thresholds=thresholds, audience=audience)
    evaluations = {e.target_id: e for e in evaluation.targets}
    return [target_out(t, evaluations.get(t.id)) for t in targets]


def get_target(session: Session, target_id: int, *, audience: Audience = OPERATOR) -> Target:
    target = session.get(Target, target_id)
    if target is None or not audience.may_see(target.plan):
        msg = f"no target with id {target_id}; list them with GET /api/targets or `planwatch targets`"
        raise NotFoundError(msg)
    return target


def target_view(
    session: Session,
    target_id: int,
    year: int,
    *,
    thresholds: StatusThresholds | None = None,
    audience: Audience = OPERATOR,
) -> TargetOut:
    target = get_target(session, target_id, audience=audience)
    return target_out(
        target, evaluate_target(session, target, year, thresholds=thresholds, audience=audience)
    )


class ChildShare(BaseModel):
    """One child of a section in its rolled-up score: a target or a sub-section, and its weight."""

    code: str
    kind: str
    """``target`` or ``section``."""
    score: float | None
    status: str
    share: float
    """Its weight among the evaluable children (they sum to 1)."""


class SectionNode(BaseModel):
    code: str
    title_zh: str
    title_en: str | None
    depth: int
    targets: list[TargetOut]
    score: float | None = None
    """The section's score, −5…+5: the weighted mean of the targets below (docs/evaluation.md §6)."""
    status: str = Status.not_evaluable.value
    evaluable: int = 0
    not_evaluable: int = 0
    children: list[ChildShare] = []


class PlanOverview(BaseModel):
    """The plan overview page's content: sections in reading order with their targets."""

    code: str
    title_zh: str
    title_en: str | None
    kind: str
    kind_zh: str
    period: tuple[int, int]
    base_year: int
    year: int
    years: list[int]
    counts: dict[str, int]
    simulated: bool
    incomplete: int
    sections: list[SectionNode]
    unsectioned: list[TargetOut]


def plan_overview(
    session: Session,
    plan: Plan,
    year: int,
    *,
    thresholds: StatusThresholds | None = None,
    audience: Audience = OPERATOR,
) -> PlanOverview:
    views = list_target_views(session, plan, year, thresholds=thresholds, audience=audience)
    by_section: dict[str, list[TargetOut]] = {}
    for view in views:
        by_section.setdefault(view.section.code if view.section else "", []).append(view)
    sections = session.scalars(
        select(Section).where(Section.plan_id == plan.id).order_by(Section.position)
    ).all()
    parents = {s.id: s.parent_id for s in sections}
    codes_with_targets = set(by_section)
    keep: set[int] = set()
    for section in sections:
        if section.code in codes_with_targets:
            node: int | None = section.id
            while node is not None:
                keep.add(node)
                node = parents.get(node)
    counts = {status.value: 0 for status in Status}
    for view in views:
        counts[view.status or Status.not_evaluable.value] += 1
    scored = _section_scores(sections, views)
    return PlanOverview(
        code=plan.code,
        title_zh=plan.title_zh,
        title_en=plan.title_en,
        kind=plan.kind.value,
        kind_zh=plan.kind.zh,
        period=(plan.period_start, plan.period_end),
        base_year=plan.base_year,
        year=year,
        years=list(plan_years(plan)),
        counts=counts,
        simulated=any(v.evaluation is not None and v.evaluation.simulated for v in views),
        incomplete=sum(v.incomplete for v in views),
        sections=[
            SectionNode(
                code=s.code,
                title_zh=s.title_zh,
                title_en=s.title_en,
                depth=s.depth,
                targets=by_section.get(s.code, []),
                **scored.get(s.id, {}),
            )
            for s in sections
            if s.id in keep
        ],
        unsectioned=by_section.get("", []),
    )


def _section_scores(sections: Sequence[Section], views: list[TargetOut]) -> dict[int, dict[str, Any]]:
    """Each section's rolled-up score and status, and its children's weights (scores.py)."""
    by_code = {s.code: s for s in sections}
    leaves = [
        Leaf(
            ("target", v.code),
            by_code[v.section.code].id,
            v.status or Status.not_evaluable.value,
            v.evaluation.score if v.evaluation else None,
        )
        for v in views
        if v.section is not None and v.section.code in by_code
    ]
    nodes = [(s.id, s.parent_id) for s in sections]
    codes = {s.id: s.code for s in sections}
    out: dict[int, dict[str, Any]] = {}
    for node_id, node in rollup_scores(nodes, leaves).items():
        assert isinstance(node_id, int)  # noqa: S101 - section ids
        out[node_id] = {
            "score": None if node.score is None else round(node.score, 3),
            "status": node.status.value,
            "evaluable": node.evaluable,
            "not_evaluable": node.not_evaluable,
            "children": [
                ChildShare(
                    code=codes[c.child_id] if c.is_node else str(c.child_id[1]),  # type: ignore[index]
                    kind="section" if c.is_node else "target",
                    score=None if c.score is None else round(c.score, 3),
                    status=c.status.value,
                    share=round(c.share, 4),
                )
                for c in node.children
            ],
        }
    return out


class UnitValueOut(BaseModel):
    code: str
    name_zh: str
    name_en: str | None
    value: float | None
    data_year: int | None
    met: bool | None
    simulated: bool
    colour: str


class MapOut(BaseModel):
    width: int
    height: int
    paths: dict[str, str]
    labels: dict[str, tuple[float, float]]
    breaks: list[float]
    palette: list[str]


class BreakdownOut(BaseModel):
    """The target's indicator per child division of its scope, with a map where boundaries exist."""

    target: str
    year: int
    level: str | None
    level_zh: str | None
    measure_zh: str
    measure_en: str
    simulated: bool
    units: list[UnitValueOut]
    map: MapOut | None


def target_breakdown(
    session: Session, target_id: int, year: int, *, audience: Audience = OPERATOR
) -> BreakdownOut:

    target = get_target(session, target_id, audience=audience)
    level, coverage, units = breakdown(session, target, year, audience=audience)
    colours, breaks = classes([u.value for u in units])
    geometries = dict(
        session.execute(
            select(Division.code, Division.geometry).where(
                Division.id.in_([u.division_id for u in units]), Division.geometry.is_not(None)
            )
        ).all()
    )
    frame = project(tuple(sorted(geometries.items()))) if geometries else None
    return BreakdownOut(
        target=target.code,
        year=year,
        level=level.value if level else None,
        level_zh=level.zh if level else None,
        measure_zh="达标单元占比(%)" if coverage else f"{target.indicator.name_zh}({target.indicator.unit})",
        measure_en="share of units meeting it (%)"
        if coverage
        else f"{target.indicator.name_en or target.indicator.code} ({target.indicator.unit})",
        simulated=any(u.simulated for u in units),
        units=[
            UnitValueOut(
                code=u.code,
                name_zh=u.name_zh,
                name_en=u.name_en,
                value=_finite(u.value),
                data_year=u.data_year,
                met=u.met,
                simulated=u.simulated,
                colour=colour,
            )
            for u, colour in zip(units, colours, strict=True)
        ],
        map=MapOut(
            width=frame.width,
            height=frame.height,
            paths={shape.code: shape.path for shape in frame.shapes},
            labels={shape.code: (shape.label_x, shape.label_y) for shape in frame.shapes},
            breaks=breaks,
            palette=list(PALETTE),
        )
        if frame and frame.shapes
        else None,
    )
