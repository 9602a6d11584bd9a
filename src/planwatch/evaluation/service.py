"""Evaluate the targets of a plan for a year from the values in the database.

This module gathers data (I/O) and hands plain numbers to the pure functions in ``progress``,
``rollup`` and ``measures``. The rules are documented in ``docs/evaluation.md``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from planwatch.config import StatusThresholds
from planwatch.divisions.service import division_tree, population_by_division
from planwatch.divisions.tree import DivisionTree, Node
from planwatch.errors import NotFoundError
from planwatch.evaluation.measures import (
    Measure,
    coverage_measure,
    cumulative_measure,
    increment_measure,
    level_measure,
)
from planwatch.evaluation.progress import (
    Status,
    actual_progress,
    classify,
    is_met,
    progress_ratio,
    time_progress,
)
from planwatch.evaluation.rollup import aggregate, share_meeting
from planwatch.models import DataValue, Indicator, Plan, Target
from planwatch.models.enums import Direction, DivisionLevel, TargetKind, ValueSource

EVALUATED_KINDS = frozenset(
    {TargetKind.level, TargetKind.increment, TargetKind.cumulative, TargetKind.per_unit_coverage}
)


@dataclass(frozen=True)
class Reason:
    zh: str
    en: str


@dataclass
class TargetEvaluation:
    """The evaluation of one target in one year."""

    target_id: int
    code: str
    year: int
    status: Status
    reason: Reason | None = None
    data_year: int | None = None
    actual: float | None = None
    """The judged measure in the data year (value, increase, cumulative sum or share)."""
    baseline: float | None = None
    target: float | None = None
    tau: float | None = None
    pi: float | None = None
    ratio: float | None = None
    simulated: bool = False
    measure: Measure | None = None
    units_total: int | None = None
    units_meeting: int | None = None


@dataclass
class PlanEvaluation:
    plan_id: int
    year: int
    targets: list[TargetEvaluation] = field(default_factory=list)

    @property
    def counts(self) -> dict[Status, int]:
        counter = Counter(t.status for t in self.targets)
        return {status: counter.get(status, 0) for status in Status}

    @property
    def simulated(self) -> bool:
        return any(t.simulated for t in self.targets)


@dataclass(frozen=True)
class _Point:
    value: float
    simulated: bool


class _Data:
    """Yearly values of one indicator per division, loaded once per evaluation."""

    def __init__(self, session: Session, indicator: Indicator) -> None:
        self.indicator = indicator
        self.rows: dict[int, dict[int, DataValue]] = defaultdict(dict)
        for row in session.scalars(select(DataValue).where(DataValue.indicator_id == indicator.id)):
            if row.period == str(row.year):  # annual values; sub-annual roll-up comes with issue 5
                self.rows[row.year][row.division_id] = row

    def years(self) -> list[int]:
        return sorted(self.rows)


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
    session: Session, plan: Plan, year: int, *, thresholds: StatusThresholds | None = None
) -> PlanEvaluation:
    """Evaluate every target of ``plan`` with the data up to ``year``."""
    check_year(plan, year)
    tree = division_tree(session)
    targets = session.scalars(
        select(Target)
        .where(Target.plan_id == plan.id)
        .options(selectinload(Target.indicator))
        .order_by(Target.position)
    ).all()
    cache: dict[int, _Data] = {}
    population = {k: v[0] for k, v in population_by_division(session, year).items()}
    result = PlanEvaluation(plan.id, year)
    for target in targets:
        data = cache.get(target.indicator_id)
        if data is None:
            data = cache[target.indicator_id] = _Data(session, target.indicator)
        result.targets.append(_evaluate(target, year, data, tree, population, thresholds))
    return result


def evaluate_target(
    session: Session, target: Target, year: int, *, thresholds: StatusThresholds | None = None
) -> TargetEvaluation:
    check_year(target.plan, year)
    tree = division_tree(session)
    population = {k: v[0] for k, v in population_by_division(session, year).items()}
    return _evaluate(target, year, _Data(session, target.indicator), tree, population, thresholds)


def _not_evaluable(target: Target, year: int, zh: str, en: str, **extra: object) -> TargetEvaluation:
    return TargetEvaluation(target.id, target.code, year, Status.not_evaluable, Reason(zh, en), **extra)  # type: ignore[arg-type]


def _evaluate(
    target: Target,
    year: int,
    data: _Data,
    tree: DivisionTree,
    population: dict[int, int],
    thresholds: StatusThresholds | None,
) -> TargetEvaluation:
    if target.incomplete:
        return _not_evaluable(
            target,
            year,
            "目标数值缺失(原文未给出),待管理员补录",
            "the target's number is missing in the source; an administrator can fill it in",
        )
    if target.kind not in EVALUATED_KINDS:
        return _not_evaluable(
            target,
            year,
            f"暂不支持“{target.kind.zh}”类目标的自动评估",
            f"targets of kind '{target.kind.value}' are not evaluated automatically yet",
        )
    scope = tree.nodes[target.scope_division_id]
    if target.kind is TargetKind.per_unit_coverage:
        measure, simulated, units_total, meeting = _coverage(target, data, tree, scope)
    else:
        series, simulated = _scope_series(data, tree, scope, population)
        measure = _measure(target, series)
        units_total, meeting = None, {}
    if measure is None:
        return _not_evaluable(
            target,
            year,
            f"缺少基期({target.baseline_year}年)数据",
            f"no baseline: no data for the base year {target.baseline_year}",
            simulated=simulated,
        )
    available = [
        y for y, v in measure.by_year.items() if y <= year and y > target.baseline_year and not math.isnan(v)
    ]
    if year <= target.baseline_year:
        return _not_evaluable(
            target,
            year,
            "评估年份为基期,尚无进度可评",
            "the evaluation year is the base year",
            measure=measure,
            simulated=simulated,
        )
    if not available:
        return _not_evaluable(
            target,
            year,
            f"截至{year}年无数据",
            f"no data after the base year up to {year}",
            measure=measure,
            simulated=simulated,
        )
    data_year = max(available)
    actual = measure.by_year[data_year]
    higher = target.indicator.direction is Direction.higher_better
    goal = measure.target
    if target.kind is TargetKind.level and target.range_low is not None and target.range_high is not None:
        goal = target.range_low if higher else target.range_high
    tau = float(time_progress(data_year, target.baseline_year, target.deadline_year))
    pi = float(actual_progress(actual, measure.baseline, goal, higher_is_better=higher))
    met = bool(_met(target, actual, measure))
    status = Status(str(classify(tau, pi, met, thresholds)))
    reason = None
    if data_year < year:
        reason = Reason(
            f"{year}年无数据,按{data_year}年数据评估", f"no data for {year}; evaluated on {data_year}"
        )
    return TargetEvaluation(
        target.id,
        target.code,
        year,
        status,
        reason,
        data_year=data_year,
        actual=actual,
        baseline=measure.baseline,
        target=goal,
        tau=tau,
        pi=pi,
        ratio=float(progress_ratio(tau, pi)),
        simulated=simulated,
        measure=measure,
        units_total=units_total,
        units_meeting=meeting.get(data_year),
    )


def _met(target: Target, actual: float, measure: Measure) -> bool:
    if target.kind is TargetKind.per_unit_coverage:
        return actual >= 100.0 - 1e-9
    if target.kind in {TargetKind.increment, TargetKind.cumulative}:
        comparator = target.comparator.value if target.comparator.value in {">=", ">", "<=", "<"} else ">="
        return bool(is_met(actual, comparator, measure.target))
    if target.range_low is not None and target.range_high is not None:
        return bool(is_met(actual, "=", low=target.range_low, high=target.range_high))
    return bool(is_met(actual, target.comparator.value, measure.target))


def _measure(target: Target, series: dict[int, float]) -> Measure | None:
    base = target.baseline_year
    baseline = target.baseline_value if target.baseline_value is not None else series.get(base)
    if target.kind is TargetKind.cumulative:
        assert target.value is not None  # noqa: S101 - complete cumulative targets have a value
        return cumulative_measure(series, base_year=base, target=target.value)
    if baseline is None or math.isnan(baseline):
        return None
    if target.kind is TargetKind.increment:
        assert target.value is not None  # noqa: S101
        total = target.value * (target.deadline_year - base) if target.per == "年" else target.value
        return increment_measure(series, base_year=base, baseline=baseline, target=total)
    goal = target.value if target.value is not None else math.nan
    return level_measure(series, baseline=baseline, target=goal)


def _measured_levels(indicator: Indicator, scope: Node) -> list[DivisionLevel]:
    """Levels below the scope where the indicator is reported, nearest first."""
    return sorted(
        (level for level in indicator.level_enums if level.depth > scope.level.depth),
        key=lambda level: level.depth,
    )


def _scope_series(
    data: _Data, tree: DivisionTree, scope: Node, population: dict[int, int]
) -> tuple[dict[int, float], bool]:
    """The indicator's value at the scope per year: reported there, or rolled up from below."""
    indicator = data.indicator
    series: dict[int, float] = {}
    simulated = False
    unit_cache: dict[DivisionLevel, list[Node]] = {}
    for year in data.years():
        rows = data.rows[year]
        own = rows.get(scope.id)
        if own is not None and own.value is not None:
            series[year] = own.value
            simulated |= own.source is ValueSource.simulated
            continue
        for level in _measured_levels(indicator, scope):
            units = unit_cache.setdefault(level, tree.descendants(scope.id, level=level))
            found = [rows[u.id] for u in units if u.id in rows]
            if not found:
                continue
            series[year] = _aggregate_rows(indicator, found, population)
            simulated |= any(r.source is ValueSource.simulated for r in found)
            break
    return series, simulated


def _aggregate_rows(indicator: Indicator, rows: list[DataValue], population: dict[int, int]) -> float:
    nan = math.nan
    return aggregate(
        indicator.aggregation.value,
        [r.value if r.value is not None else nan for r in rows],
        numerators=[r.numerator if r.numerator is not None else nan for r in rows],
        denominators=[r.denominator if r.denominator is not None else nan for r in rows],
        factor=indicator.factor or 1.0,
        weights=[population.get(r.division_id, nan) for r in rows],
        comparator=indicator.condition_comparator.value if indicator.condition_comparator else None,
        threshold=indicator.condition_threshold,
    )


def _coverage(
    target: Target, data: _Data, tree: DivisionTree, scope: Node
) -> tuple[Measure | None, bool, int | None, dict[int, int]]:
    """Share of units at ``per_unit_level`` under the scope whose value meets the target."""
    level = target.per_unit_level
    assert level is not None  # noqa: S101 - enforced by the catalogue schema
    units = tree.descendants(scope.id, level=level)
    if not units or level.value not in data.indicator.levels:
        return None, False, len(units) or None, {}
    comparator = target.comparator.value if target.comparator.value in {">=", ">", "<=", "<", "="} else ">="
    threshold = target.value if target.value is not None else 1.0
    shares: dict[int, float] = {}
    meeting: dict[int, int] = {}
    simulated = False
    for year in data.years():
        rows = data.rows[year]
        if not any(u.id in rows for u in units):
            continue
        values = [_value_or_nan(rows.get(u.id)) for u in units]
        shares[year] = share_meeting(values, comparator, threshold)
        meeting[year] = round(shares[year] * len(units))
        simulated |= any(rows[u.id].source is ValueSource.simulated for u in units if u.id in rows)
    if target.baseline_year not in shares:
        return None, simulated, len(units), meeting
    return coverage_measure(shares, base_year=target.baseline_year), simulated, len(units), meeting


def _value_or_nan(row: DataValue | None) -> float:
    return row.value if row is not None and row.value is not None else math.nan


def get_plan(session: Session, code: str | None = None) -> Plan:
    """A plan by code (latest version), or the only/first master plan when no code is given."""
    query = select(Plan).order_by(Plan.code, Plan.version.desc())
    if code is not None:
        query = query.where(Plan.code == code)
    plan = session.scalars(query).first()
    if plan is None:
        msg = f"no plan with code {code!r} is loaded" if code else "no plan is loaded; run `planwatch init`"
        raise NotFoundError(msg)
    return plan


def latest_data_year(session: Session, plan: Plan) -> int:
    """The latest year in the plan's range that has any value for the plan's indicators."""
    indicator_ids = select(Target.indicator_id).where(Target.plan_id == plan.id)
    years = session.scalars(
        select(DataValue.year).where(DataValue.indicator_id.in_(indicator_ids)).distinct()
    ).all()
    in_range = [y for y in years if y in plan_years(plan)]
    return max(in_range) if in_range else plan.base_year
