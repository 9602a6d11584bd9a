"""Evaluate the targets of a plan for a year from the values in the database.

The entry points the CLI, the API and the pages call. Data gathering lives in ``data``, the rules
per kind of target in ``judges``, the pure arithmetic in ``progress``, ``rollup``, ``measures``
and ``forecast``. The rules are documented in ``docs/evaluation.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from planwatch.config import StatusThresholds
from planwatch.divisions.service import division_tree, population_by_division
from planwatch.errors import NotFoundError
from planwatch.evaluation.data import (
    OPERATOR,
    PUBLIC,
    Audience,
    EvaluationContext,
    IndicatorData,
    coverage_series,
    scope_series,
)
from planwatch.evaluation.judges import FIXED_COMPARATORS, judge
from planwatch.evaluation.progress import is_met
from planwatch.evaluation.results import PlanEvaluation, Reason, TargetEvaluation
from planwatch.models import DataValue, Plan, Target, Task
from planwatch.models.enums import DivisionLevel, PlanKind, TargetKind

__all__ = [
    "OPERATOR",
    "PUBLIC",
    "Audience",
    "PlanEvaluation",
    "Reason",
    "TargetEvaluation",
    "UnitValue",
    "breakdown",
    "check_year",
    "evaluate_plan",
    "evaluate_target",
    "get_plan",
    "latest_data_year",
    "plan_targets",
    "plan_years",
]


def plan_years(plan: Plan) -> range:
    """Years that can be evaluated: from the base year to the end of the period."""
    return range(plan.base_year, plan.period_end + 1)


def check_year(plan: Plan, year: int) -> None:
    years = plan_years(plan)
    if year not in years:
        msg = (
            f"no evaluation for {year}: the plan {plan.code} runs {plan.period_start}–{plan.period_end}"
            f" with base year {plan.base_year}; choose a year from {years.start} to {years.stop - 1}"
        )
        raise NotFoundError(msg)


def evaluate_plan(
    session: Session,
    plan: Plan,
    year: int,
    *,
    thresholds: StatusThresholds | None = None,
    audience: Audience = OPERATOR,
) -> PlanEvaluation:
    """Evaluate every target of ``plan`` with the data up to ``year``."""
    check_year(plan, year)
    targets = plan_targets(session, plan)
    ctx = EvaluationContext.load(session, year, targets, thresholds, audience)
    return PlanEvaluation(plan.id, year, [judge(target, ctx) for target in targets])


def plan_targets(session: Session, plan: Plan) -> list[Target]:
    """The plan's targets in its order, with their indicators and their tasks' lead departments
    loaded (what evaluation, warnings and back-testing read of each)."""
    return list(
        session.scalars(
            select(Target)
            .where(Target.plan_id == plan.id)
            .options(
                selectinload(Target.indicator),
                selectinload(Target.task).selectinload(Task.lead_department),
            )
            .order_by(Target.position)
        )
    )


def evaluate_target(
    session: Session,
    target: Target,
    year: int,
    *,
    thresholds: StatusThresholds | None = None,
    audience: Audience = OPERATOR,
) -> TargetEvaluation:
    check_year(target.plan, year)
    return judge(target, EvaluationContext.load(session, year, [target], thresholds, audience))


def get_plan(session: Session, code: str | None = None, *, audience: Audience = OPERATOR) -> Plan:
    """A plan by code (its latest version); without a code, the only plan loaded, or else the only
    master plan (规划纲要). With several candidates, the error lists their codes. Plans the
    audience may not see (drafts, for the public) do not exist for it."""
    plans = [
        p for p in session.scalars(select(Plan).order_by(Plan.code, Plan.version)) if audience.may_see(p)
    ]
    if code is not None:
        found = [p for p in plans if p.code == code]
        if not found:
            known = ", ".join(sorted({p.code for p in plans})) or "none"
            msg = f"no plan with code {code!r} is loaded (loaded: {known})"
            raise NotFoundError(msg)
        return found[-1]
    latest = {plan.code: plan for plan in plans}
    if not latest:
        msg = "no plan is loaded; run `planwatch init`"
        raise NotFoundError(msg)
    if len(latest) == 1:
        return next(iter(latest.values()))
    masters = [p for p in latest.values() if p.kind is PlanKind.master]
    if len(masters) == 1:
        return masters[0]
    msg = f"several plans are loaded ({', '.join(sorted(latest))}); choose one with --plan / ?plan="
    raise NotFoundError(msg)


def latest_data_year(session: Session, plan: Plan) -> int:
    """The latest year in the plan's range that has any value for the plan's indicators."""
    indicator_ids = select(Target.indicator_id).where(Target.plan_id == plan.id)
    years = session.scalars(
        select(DataValue.year)
        .where(DataValue.indicator_id.in_(indicator_ids), DataValue.deleted.is_(False))
        .distinct()
    ).all()
    in_range = [y for y in years if y in plan_years(plan)]
    return max(in_range) if in_range else plan.base_year


@dataclass(frozen=True)
class UnitValue:
    """The target's indicator in one child division of the scope (e.g. one district of the city)."""

    division_id: int
    code: str
    name_zh: str
    name_en: str | None
    value: float | None
    data_year: int | None
    met: bool | None
    simulated: bool


def breakdown(
    session: Session, target: Target, year: int, *, audience: Audience = OPERATOR
) -> tuple[DivisionLevel | None, bool, list[UnitValue]]:
    """The indicator per child division of the target's scope, in ``year`` (or the latest earlier
    year with data): rolled up like the scope itself; for per-unit coverage, the share of units in
    each child that meet the target (%). The flag says whether the values are such shares."""
    check_year(target.plan, year)
    tree = division_tree(session)
    scope = tree.nodes[target.scope_division_id]
    children = [tree.nodes[i] for i in tree.children.get(scope.id, [])]
    if not children:
        return None, False, []
    data = IndicatorData(session, target.indicator, audience)
    population = {k: v[0] for k, v in population_by_division(session, year).items()}
    level = children[0].level
    coverage = target.kind is TargetKind.per_unit_coverage and target.per_unit_level is not None
    coverage = coverage and target.per_unit_level.depth > level.depth  # type: ignore[union-attr]
    out = []
    for child in sorted(children, key=lambda n: n.code):
        if coverage:
            result = coverage_series(target, data, tree, child)
            series, simulated = ({}, False) if isinstance(result, Reason) else (result[0].by_year, result[1])
        else:
            series, simulated, _ = scope_series(data, tree, child, population)
        years = [y for y, v in series.items() if y <= year and not math.isnan(v)]
        value = series[max(years)] if years else None
        out.append(
            UnitValue(
                child.id,
                child.code,
                child.name_zh,
                child.name_en,
                value,
                max(years) if years else None,
                _unit_met(target, value, coverage=coverage),
                simulated,
            )
        )
    return level, coverage, out


def _unit_met(target: Target, value: float | None, *, coverage: bool) -> bool | None:
    if value is None:
        return None
    if coverage:
        return value >= 100.0 - 1e-9
    fixed = target.comparator.value in FIXED_COMPARATORS
    if target.kind in {TargetKind.level, TargetKind.per_unit_coverage} and target.value is not None and fixed:
        return bool(is_met(value, target.comparator.value, target.value))
    return None
