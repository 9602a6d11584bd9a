"""Early warnings (预警) of a plan for a year: which targets, how urgent, where, and who answers.

Evaluates the plan (``service.evaluate_plan``), applies the rules of ``early_warning`` to every
target and, below the target's scope, to every unit: for a per-unit coverage target the units that
do not meet it ("these 12 streets have no community elderly-care complex"); for targets whose number
holds in every division (rates, and levels and trends of shares and means, not of totals) each child
division judged by the same rules as the target itself. Each warning names the
responsible department: the lead department of the target's task (任务分解), else the indicator's
source department.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from planwatch.config import StatusThresholds
from planwatch.divisions.tree import Node
from planwatch.evaluation.data import OPERATOR, Audience, EvaluationContext, coverage_threshold
from planwatch.evaluation.early_warning import (
    DEFAULT_RULES,
    WarningLevel,
    WarningRule,
    highest,
    matching_rules,
)
from planwatch.evaluation.judges import judge
from planwatch.evaluation.progress import Status, is_met
from planwatch.evaluation.results import TargetEvaluation
from planwatch.evaluation.service import check_year, plan_targets
from planwatch.models import Department, Plan, Target
from planwatch.models.enums import Aggregation, DivisionLevel, Nature, TargetKind

RATE_LIKE = frozenset({TargetKind.average_annual_rate, TargetKind.rate_of_change})
"""Kinds whose target holds in every division as it is (a rate)."""
LEVEL_LIKE = frozenset({TargetKind.level, TargetKind.relative, TargetKind.trend})
"""Kinds whose target holds in every division only for an intensive indicator (a share, a mean):
a district's count can tick up by one case while the city's falls as the plan asks."""
ADDITIVE = frozenset({Aggregation.sum, Aggregation.count_meeting})
"""A city total of 50 says nothing of what each district owes, so additive indicators' level,
increment and cumulative targets are not judged division by division."""


def judged_per_division(target: Target) -> bool:
    """Whether the target's number applies to each division below its scope as it stands."""
    if target.kind in RATE_LIKE:
        return True
    return target.kind in LEVEL_LIKE and target.indicator.aggregation not in ADDITIVE


@dataclass(frozen=True)
class UnitWarning:
    """One division below the target's scope that raises a warning."""

    division_id: int
    code: str
    name_zh: str
    name_en: str | None
    level: WarningLevel
    status: Status
    value: float | None
    """The unit's judged measure (for per-unit coverage: its value of the indicator)."""


@dataclass
class TargetWarning:
    """The warning for one target: its own level and rules, and the units that warn."""

    target: Target
    evaluation: TargetEvaluation
    level: WarningLevel | None
    """The target's own level; None when only units below it warn."""
    rules: list[WarningRule]
    department: Department | None
    department_role: str | None
    """``lead`` (the task's lead department) or ``source`` (the indicator's source department)."""
    unit_level: DivisionLevel | None = None
    units: list[UnitWarning] = field(default_factory=list)

    @property
    def top_level(self) -> WarningLevel:
        """The highest level of the target and its units."""
        levels = [u.level for u in self.units] + ([self.level] if self.level else [])
        return max(levels, key=lambda level: level.rank)


def plan_warnings(
    session: Session,
    plan: Plan,
    year: int,
    *,
    thresholds: StatusThresholds | None = None,
    audience: Audience = OPERATOR,
    rules: Sequence[WarningRule] = DEFAULT_RULES,
    per_division: bool = True,
) -> list[TargetWarning]:
    """Every target of ``plan`` that warns in ``year``: red first, then by the plan's order."""
    check_year(plan, year)
    targets = plan_targets(session, plan)
    ctx = EvaluationContext.load(session, year, targets, thresholds, audience)
    out: list[TargetWarning] = []
    for target in targets:
        evaluation = judge(target, ctx)
        nature = target.indicator.nature
        matched = matching_rules(
            nature=nature, status=evaluation.status, probability=_probability(evaluation), rules=rules
        )
        units: list[UnitWarning] = []
        unit_level: DivisionLevel | None = None
        if per_division and not target.incomplete:
            unit_level, units = _unit_warnings(target, ctx, evaluation, nature, rules)
        if not matched and not units:
            continue
        department, role = responsible(target)
        out.append(
            TargetWarning(target, evaluation, highest(matched), matched, department, role, unit_level, units)
        )
    return sorted(out, key=lambda w: -w.top_level.rank)


def responsible(target: Target) -> tuple[Department | None, str | None]:
    """The department that answers for a target: its task's lead, else the indicator's source."""
    if target.task is not None and target.task.lead_department is not None:
        return target.task.lead_department, "lead"
    if target.indicator.source_department is not None:
        return target.indicator.source_department, "source"
    return None, None


def _probability(evaluation: TargetEvaluation) -> float | None:
    found = evaluation.forecast
    return None if found is None or math.isnan(found.probability) else found.probability


def _unit_warnings(
    target: Target,
    ctx: EvaluationContext,
    evaluation: TargetEvaluation,
    nature: Nature,
    rules: Sequence[WarningRule],
) -> tuple[DivisionLevel | None, list[UnitWarning]]:
    scope = ctx.scope(target)
    if target.kind is TargetKind.per_unit_coverage:
        return _coverage_gaps(target, ctx, evaluation, scope, nature, rules)
    if not judged_per_division(target):
        return None, []
    children = [ctx.tree.nodes[i] for i in ctx.tree.children.get(scope.id, [])]
    reported = target.indicator.level_enums
    children = [c for c in children if any(level.depth >= c.level.depth for level in reported)]
    out = []
    for child in sorted(children, key=lambda n: n.code):
        result = judge(target, replace(ctx, scope_id=child.id))
        matched = matching_rules(
            nature=nature, status=result.status, probability=_probability(result), rules=rules
        )
        level = highest(matched)
        if level is not None:
            out.append(
                UnitWarning(
                    child.id, child.code, child.name_zh, child.name_en, level, result.status, result.actual
                )
            )
    return (children[0].level if children else None), out


def _coverage_gaps(
    target: Target,
    ctx: EvaluationContext,
    evaluation: TargetEvaluation,
    scope: Node,
    nature: Nature,
    rules: Sequence[WarningRule],
) -> tuple[DivisionLevel | None, list[UnitWarning]]:
    """The units of a per-unit coverage target that do not meet it in the data year (no value: not
    met); each is lagging before the deadline and missed after it."""
    level = target.per_unit_level
    if level is None or evaluation.data_year is None:
        return level, []
    rows = ctx.data(target.indicator).rows.get(evaluation.data_year, {})
    final = evaluation.data_year >= target.deadline_year
    status = Status.missed if final else Status.lagging
    matched = matching_rules(nature=nature, status=status, probability=None, rules=rules)
    warned = highest(matched)
    if warned is None:
        return level, []
    threshold = coverage_threshold(target)
    out = []
    for unit in ctx.tree.descendants(scope.id, level=level):
        row = rows.get(unit.id)
        value = row.value if row is not None else None
        if value is not None and bool(is_met(value, target.comparator.value, threshold)):
            continue
        out.append(UnitWarning(unit.id, unit.code, unit.name_zh, unit.name_en, warned, status, value))
    return level, out
