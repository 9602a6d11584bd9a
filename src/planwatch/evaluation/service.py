"""Evaluate the targets of a plan for a year from the values in the database.

This module gathers data (I/O) and hands plain numbers to the pure functions in ``progress``,
``rollup`` and ``measures``. The rules are documented in ``docs/evaluation.md``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

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
    yearly_increase_measure,
)
from planwatch.evaluation.progress import (
    APPROX_TOLERANCE,
    Status,
    actual_progress,
    band_progress,
    classify,
    is_met,
    progress_ratio,
    time_progress,
)
from planwatch.evaluation.rollup import aggregate, share_meeting
from planwatch.models import DataValue, Indicator, Plan, Target
from planwatch.models.enums import (
    Direction,
    DivisionLevel,
    PlanKind,
    PlanStatus,
    TargetKind,
    ValueSource,
    ValueStatus,
)

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
    units_reported: int | None = None
    units_expected: int | None = None


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


PUBLISHED_PLANS = frozenset({PlanStatus.approved, PlanStatus.in_force, PlanStatus.revised, PlanStatus.closed})
APPROVED_VALUES = frozenset({ValueStatus.approved, ValueStatus.locked})


@dataclass(frozen=True)
class Audience:
    """Whom the figures are for [ACC-4]. Unapproved values count only in the divisions listed in
    ``unapproved_in`` (None: everywhere, for the operator at the server); draft plans are hidden
    unless ``drafts``."""

    unapproved_in: frozenset[int] | None = None
    drafts: bool = True

    def sees(self, row: DataValue) -> bool:
        return (
            row.status in APPROVED_VALUES
            or self.unapproved_in is None
            or row.division_id in self.unapproved_in
        )

    def may_see(self, plan: Plan) -> bool:
        return self.drafts or plan.status in PUBLISHED_PLANS


OPERATOR = Audience()
"""The CLI at the server: everything."""
PUBLIC = Audience(unapproved_in=frozenset(), drafts=False)
"""The anonymous public: published plans, approved values."""


class _Data:
    """Yearly values of one indicator per division, loaded once per evaluation."""

    def __init__(self, session: Session, indicator: Indicator, audience: Audience = OPERATOR) -> None:
        self.indicator = indicator
        self.rows: dict[int, dict[int, DataValue]] = defaultdict(dict)
        for row in session.scalars(
            select(DataValue).where(DataValue.indicator_id == indicator.id, DataValue.deleted.is_(False))
        ):
            # annual values; sub-annual roll-up comes with the full evaluation engine
            if row.period == str(row.year) and audience.sees(row):
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
    session: Session,
    plan: Plan,
    year: int,
    *,
    thresholds: StatusThresholds | None = None,
    audience: Audience = OPERATOR,
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
            data = cache[target.indicator_id] = _Data(session, target.indicator, audience)
        result.targets.append(_evaluate(target, year, data, tree, population, thresholds))
    return result


def evaluate_target(
    session: Session,
    target: Target,
    year: int,
    *,
    thresholds: StatusThresholds | None = None,
    audience: Audience = OPERATOR,
) -> TargetEvaluation:
    check_year(target.plan, year)
    tree = division_tree(session)
    population = {k: v[0] for k, v in population_by_division(session, year).items()}
    return _evaluate(target, year, _Data(session, target.indicator, audience), tree, population, thresholds)


FIXED_COMPARATORS = frozenset({">=", ">", "<=", "<", "=", "~"})


def _not_evaluable(target: Target, year: int, reason: Reason, **extra: Any) -> TargetEvaluation:
    return TargetEvaluation(target.id, target.code, year, Status.not_evaluable, reason, **extra)


def _join(reasons: list[Reason]) -> Reason | None:
    if not reasons:
        return None
    return Reason(";".join(r.zh for r in reasons), "; ".join(r.en for r in reasons))


def _evaluate(
    target: Target,
    year: int,
    data: _Data,
    tree: DivisionTree,
    population: dict[int, int],
    thresholds: StatusThresholds | None,
) -> TargetEvaluation:
    if target.incomplete:
        reason = Reason(
            "目标数值缺失(原文未给出),待管理员补录",
            "the target's number is missing in the source; an administrator can fill it in",
        )
        return _not_evaluable(target, year, reason)
    if target.kind not in EVALUATED_KINDS:
        reason = Reason(
            f"暂不支持“{target.kind.zh}”类目标的自动评估",
            f"targets of kind '{target.kind.value}' are not evaluated automatically yet",
        )
        return _not_evaluable(target, year, reason)
    bounds = (
        (target.range_low, target.range_high)
        if target.range_low is not None and target.range_high is not None
        else None
    )
    if target.comparator.value not in FIXED_COMPARATORS and bounds is None:
        reason = Reason(
            f"“{target.comparator.zh}”不是{target.kind.zh}类目标可评估的比较方式",
            f"comparator '{target.comparator.value}' cannot be evaluated for a {target.kind.value} target",
        )
        return _not_evaluable(target, year, reason)
    scope = tree.nodes[target.scope_division_id]
    notes: list[Reason] = []
    units_total: int | None = None
    meeting: dict[int, int] = {}
    reported: dict[int, tuple[int, int]] = {}
    if target.kind is TargetKind.per_unit_coverage:
        coverage = _coverage(target, data, tree, scope)
        if isinstance(coverage, Reason):
            return _not_evaluable(target, year, coverage)
        measure, simulated, units_total, meeting, reported = coverage
    else:
        series, simulated, reported = _scope_series(data, tree, scope, population)
        measure = _measure(target, series)
    extra: dict[str, Any] = {"measure": measure, "simulated": simulated}
    base, deadline = target.baseline_year, target.deadline_year
    if year <= base:
        reason = Reason("评估年份不晚于基期,尚无进度可评", "the evaluation year is not after the base year")
        return _not_evaluable(target, year, reason, **extra)
    if deadline <= base:
        reason = Reason("目标年不晚于基期,无法计算序时进度", "the deadline is not after the base year")
        return _not_evaluable(target, year, reason, **extra)
    horizon = min(year, deadline)  # after its deadline a target is judged on its deadline year
    available = [y for y, v in measure.by_year.items() if base < y <= horizon and not math.isnan(v)]
    if not available:
        reason = Reason(f"基期后至{horizon}年无数据", f"no data after the base year up to {horizon}")
        return _not_evaluable(target, year, reason, **extra)
    data_year = max(available)
    if horizon < year:
        notes.append(
            Reason(f"目标年为{deadline}年,按目标年评估", f"the deadline was {deadline}; judged on {deadline}")
        )
    if data_year < horizon and not measure.per_period:
        notes.append(
            Reason(
                f"{horizon}年无数据,按{data_year}年数据评估",
                f"no data for {horizon}; evaluated on {data_year}",
            )
        )
    notes.extend(_gap_notes(measure, base, data_year))
    notes.extend(_reporting_notes(target, measure, reported, base, data_year))
    actual = measure.by_year[data_year]
    met = _met(target, actual, measure)
    done: dict[str, Any] = {
        "data_year": data_year,
        "actual": actual,
        "baseline": measure.baseline,
        "simulated": simulated,
        "measure": measure,
        "units_total": units_total,
        "units_meeting": meeting.get(data_year),
        "units_reported": reported.get(data_year, (None, None))[0],
        "units_expected": reported.get(data_year, (None, None))[1],
    }
    if measure.per_period:
        return _per_period(target, year, measure, data_year, notes, done)
    if math.isnan(measure.baseline):
        if data_year >= deadline and target.kind is TargetKind.level:
            notes.append(
                Reason(
                    "缺少基期数据,按目标年数值直接判定",
                    "no baseline: judged at the deadline on the value alone",
                )
            )
            status = Status.achieved if met else Status.missed
            return TargetEvaluation(
                target.id, target.code, year, status, _join(notes), target=measure.target, tau=1.0, **done
            )
        reason = Reason(f"缺少基期({base}年)数据", f"no baseline: no data for the base year {base}")
        return _not_evaluable(target, year, reason, **extra)
    tau = float(time_progress(data_year, base, deadline))
    band = _band(target, measure)
    if band is not None:
        goal = band[0] if measure.baseline < band[0] else band[1]
        pi = float(band_progress(actual, measure.baseline, *band, met=met))
    else:
        goal = measure.target
        higher = target.indicator.direction is Direction.higher_better
        pi = float(actual_progress(actual, measure.baseline, goal, higher_is_better=higher, met=met))
    status = Status(str(classify(tau, pi, met, thresholds)))
    return TargetEvaluation(
        target.id,
        target.code,
        year,
        status,
        _join(notes),
        target=goal,
        tau=tau,
        pi=pi,
        ratio=float(progress_ratio(tau, pi)),
        **done,
    )


def _per_period(
    target: Target, year: int, measure: Measure, data_year: int, notes: list[Reason], done: dict[str, Any]
) -> TargetEvaluation:
    """每年新增 N: each year is complete once it has data and must meet N on its own; the target
    is achieved so far only if every judged year met it."""
    judged = {y: v for y, v in measure.by_year.items() if y <= data_year and not math.isnan(v)}
    short = sorted(y for y, v in judged.items() if not _met(target, v, measure))
    listed = "、".join(map(str, short))
    notes.append(
        Reason(
            f"逐年考核:{len(judged)}年中{len(judged) - len(short)}年达标"
            + (f",{listed}年未达标" if short else ""),
            f"judged year by year: met in {len(judged) - len(short)} of {len(judged)} years"
            + (f"; short in {', '.join(map(str, short))}" if short else ""),
        )
    )
    actual = measure.by_year[data_year]
    pi = actual / measure.target if measure.target else math.nan
    status = Status.missed if short else Status.achieved
    return TargetEvaluation(
        target.id,
        target.code,
        year,
        status,
        _join(notes),
        target=measure.target,
        tau=1.0,
        pi=pi,
        ratio=pi,
        **done,
    )


def _gap_notes(measure: Measure, base: int, data_year: int) -> list[Reason]:
    gaps = [y for y in measure.gaps if base < y <= data_year]
    if not gaps:
        return []
    listed = "、".join(map(str, gaps))
    if measure.per_period:
        return [
            Reason(
                f"{listed}年缺少数据,当年新增无法计算",
                f"no increase can be computed for {', '.join(map(str, gaps))}",
            )
        ]
    return [
        Reason(f"{listed}年无数据,累计未计入", f"no data for {', '.join(map(str, gaps))}: not in the sum")
    ]


def _reporting_notes(
    target: Target, measure: Measure, reported: dict[int, tuple[int, int]], base: int, data_year: int
) -> list[Reason]:
    """Name every year behind the figure in which fewer units reported than exist."""
    if target.kind is TargetKind.cumulative or measure.per_period:
        years = [y for y in sorted(reported) if base <= y <= data_year]
    else:
        years = [base, data_year]
    partial = [(y, *reported[y]) for y in years if y in reported and reported[y][0] < reported[y][1]]
    if not partial:
        return []
    zh = "、".join(f"{y}年{got}/{expected}" for y, got, expected in partial)
    en = ", ".join(f"{y}: {got} of {expected}" for y, got, expected in partial)
    return [Reason(f"部分单元未报送数据({zh})", f"not every unit reported ({en} units)")]


def _band(target: Target, measure: Measure) -> tuple[float, float] | None:
    """The band a two-sided target (a range, ``=`` or ``~``) must land in, else None."""
    if target.range_low is not None and target.range_high is not None:
        return target.range_low, target.range_high
    value = measure.target
    if target.kind is not TargetKind.level or math.isnan(value):
        return None
    if target.comparator.value == "=":
        return value, value
    if target.comparator.value == "~":
        spread = abs(value) * APPROX_TOLERANCE
        return value - spread, value + spread
    return None


def _met(target: Target, actual: float, measure: Measure) -> bool:
    if target.kind is TargetKind.per_unit_coverage:
        return actual >= 100.0 - 1e-9
    if target.range_low is not None and target.range_high is not None:
        return bool(is_met(actual, "=", low=target.range_low, high=target.range_high))
    return bool(is_met(actual, target.comparator.value, measure.target))


def _measure(target: Target, series: dict[int, float]) -> Measure:
    base = target.baseline_year
    stock = series.get(base, math.nan)
    baseline = target.baseline_value if target.baseline_value is not None else stock
    goal = target.value if target.value is not None else math.nan
    if target.kind is TargetKind.cumulative:
        return cumulative_measure(series, base_year=base, target=goal)
    if target.kind is TargetKind.increment and target.per == "年":
        return yearly_increase_measure(series, base_year=base, target=goal)
    if target.kind is TargetKind.increment and not math.isnan(baseline):
        return increment_measure(series, base_year=base, baseline=baseline, target=goal)
    # a level target, or an increment without its base-year stock: show the values themselves
    return level_measure(series, baseline=baseline, target=goal)


def _measured_levels(indicator: Indicator, scope: Node) -> list[DivisionLevel]:
    """Levels below the scope where the indicator is reported, nearest first."""
    return sorted(
        (level for level in indicator.level_enums if level.depth > scope.level.depth),
        key=lambda level: level.depth,
    )


def _scope_series(
    data: _Data, tree: DivisionTree, scope: Node, population: dict[int, int]
) -> tuple[dict[int, float], bool, dict[int, tuple[int, int]]]:
    """The indicator's value at the scope per year: reported there, or rolled up from below.

    Also returns, for rolled-up years, how many units reported out of how many exist.
    """
    indicator = data.indicator
    series: dict[int, float] = {}
    reported: dict[int, tuple[int, int]] = {}
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
            reported[year] = (len(found), len(units))
            simulated |= any(r.source is ValueSource.simulated for r in found)
            break
    return series, simulated, reported


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
) -> tuple[Measure, bool, int, dict[int, int], dict[int, tuple[int, int]]] | Reason:
    """Share of units at ``per_unit_level`` under the scope whose value meets the target."""
    level = target.per_unit_level
    assert level is not None  # noqa: S101 - enforced by the catalogue schema
    units = tree.descendants(scope.id, level=level)
    if not units:
        return Reason(f"范围内没有{level.zh}级单元", f"there are no {level.value} units in the scope")
    if level.value not in data.indicator.levels:
        return Reason(
            f"该指标不在{level.zh}级填报,无法逐个单元核查",
            f"the indicator is not reported at {level.value} level, so units cannot be checked one by one",
        )
    threshold = target.value if target.value is not None else 1.0
    shares: dict[int, float] = {}
    meeting: dict[int, int] = {}
    reported: dict[int, tuple[int, int]] = {}
    simulated = False
    for year in data.years():
        rows = data.rows[year]
        if not any(u.id in rows for u in units):
            continue
        values = [_value_or_nan(rows.get(u.id)) for u in units]
        shares[year] = share_meeting(values, target.comparator.value, threshold)
        meeting[year] = round(shares[year] * len(units))
        reported[year] = (sum(1 for v in values if not math.isnan(v)), len(units))
        simulated |= any(rows[u.id].source is ValueSource.simulated for u in units if u.id in rows)
    measure = coverage_measure(shares, base_year=target.baseline_year)
    return measure, simulated, len(units), meeting, reported


def _value_or_nan(row: DataValue | None) -> float:
    return row.value if row is not None and row.value is not None else math.nan


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
    data = _Data(session, target.indicator, audience)
    population = {k: v[0] for k, v in population_by_division(session, year).items()}
    level = children[0].level
    coverage = target.kind is TargetKind.per_unit_coverage and target.per_unit_level is not None
    coverage = coverage and target.per_unit_level.depth > level.depth  # type: ignore[union-attr]
    out = []
    for child in sorted(children, key=lambda n: n.code):
        if coverage:
            result = _coverage(target, data, tree, child)
            series, simulated = ({}, False) if isinstance(result, Reason) else (result[0].by_year, result[1])
        else:
            series, simulated, _ = _scope_series(data, tree, child, population)
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
