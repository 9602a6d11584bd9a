"""The data an evaluation reads: who may see which values, an indicator's yearly values per
division, and the value at a target's scope (reported there or rolled up from below)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.config import StatusThresholds
from planwatch.divisions.service import division_tree, population_by_division
from planwatch.divisions.tree import DivisionTree, Node
from planwatch.evaluation.assessments import latest_assessments
from planwatch.evaluation.measures import Measure, coverage_measure
from planwatch.evaluation.periods import annual_from_periods
from planwatch.evaluation.results import Reason
from planwatch.evaluation.rollup import aggregate, share_meeting
from planwatch.models import DataValue, Indicator, Plan, QualitativeAssessment, Target
from planwatch.models.enums import DivisionLevel, Frequency, PlanStatus, TargetKind, ValueSource, ValueStatus

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


@dataclass(frozen=True)
class Cell:
    """One division's value of an indicator in one year: an annual value as reported, or the year
    rolled up from its months or quarters (``periods.annual_from_periods``)."""

    division_id: int
    value: float | None
    numerator: float | None
    denominator: float | None
    source: ValueSource


class IndicatorData:
    """Yearly values of one indicator per division, loaded once per evaluation.

    Monthly and quarterly values become one value a year by the indicator's period aggregation
    (sum, last or mean; numerator and denominator alike); a sum over an incomplete year is left
    out, as ``periods.annual_from_periods`` documents. An annual value reported beside sub-annual
    ones wins. A year counts as simulated when any period behind it is.
    """

    def __init__(self, session: Session, indicator: Indicator, audience: Audience = OPERATOR) -> None:
        self.indicator = indicator
        self.rows: dict[int, dict[int, Cell]] = defaultdict(dict)
        self.partial: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
        """Year → division → (periods present, periods in a year) where the year is incomplete: its
        mean or last value stands for the year; an incomplete sum stands for nothing."""
        rows = [
            row
            for row in session.scalars(
                select(DataValue).where(DataValue.indicator_id == indicator.id, DataValue.deleted.is_(False))
            )
            if audience.sees(row)
        ]
        sub_annual = [row for row in rows if row.period != str(row.year)]
        for row in rows:
            if row.period == str(row.year):
                self.rows[row.year][row.division_id] = Cell(
                    row.division_id, row.value, row.numerator, row.denominator, row.source
                )
        if sub_annual and indicator.frequency is not Frequency.annual:
            self._roll_up_periods(sub_annual)

    def _roll_up_periods(self, rows: list[DataValue]) -> None:
        frame = pd.DataFrame(
            {
                "division_id": [r.division_id for r in rows],
                "period": [r.period for r in rows],
                "value": [math.nan if r.value is None else r.value for r in rows],
                "numerator": [math.nan if r.numerator is None else r.numerator for r in rows],
                "denominator": [math.nan if r.denominator is None else r.denominator for r in rows],
            }
        )
        simulated = {(r.division_id, r.year) for r in rows if r.source is ValueSource.simulated}
        annual = annual_from_periods(
            frame,
            frequency=self.indicator.frequency,
            method=self.indicator.period_aggregation,
            keys=["division_id"],
        )
        columns = [
            "division_id",
            "year",
            "value",
            "numerator",
            "denominator",
            "periods_present",
            "periods_expected",
        ]
        for division_id, year, value, numerator, denominator, present, expected in annual[columns].itertuples(
            index=False
        ):
            if division_id in self.rows[year]:
                continue  # an annual value wins
            if present < expected:
                self.partial[int(year)][int(division_id)] = (int(present), int(expected))
            if math.isnan(value):
                continue  # an incomplete sum is no value
            source = ValueSource.simulated if (division_id, year) in simulated else ValueSource.reported
            self.rows[int(year)][int(division_id)] = Cell(
                int(division_id), float(value), _or_none(numerator), _or_none(denominator), source
            )

    def years(self, up_to: int | None = None) -> list[int]:
        """The years with values, up to ``up_to`` when given (an evaluation never reads later)."""
        return sorted(y for y, cells in self.rows.items() if cells and (up_to is None or y <= up_to))


def _or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass
class EvaluationContext:
    """What one evaluation run loads once and every target shares."""

    session: Session
    year: int
    tree: DivisionTree
    population: dict[int, int]
    thresholds: StatusThresholds
    audience: Audience
    assessments: dict[int, QualitativeAssessment]
    cache: dict[int, IndicatorData] = field(default_factory=dict)
    scope_id: int | None = None
    """Judge every target at this division instead of its own scope (per-division warnings)."""

    def scope(self, target: Target) -> Node:
        return self.tree.nodes[self.scope_id if self.scope_id is not None else target.scope_division_id]

    @classmethod
    def load(
        cls,
        session: Session,
        year: int,
        targets: list[Target],
        thresholds: StatusThresholds | None,
        audience: Audience,
    ) -> EvaluationContext:
        population = {k: v[0] for k, v in population_by_division(session, year).items()}
        qualitative = [t.id for t in targets if t.kind is TargetKind.qualitative]
        assessments = latest_assessments(session, qualitative, year) if qualitative else {}
        return cls(
            session,
            year,
            division_tree(session),
            population,
            thresholds or StatusThresholds(),
            audience,
            assessments,
        )

    def data(self, indicator: Indicator) -> IndicatorData:
        found = self.cache.get(indicator.id)
        if found is None:
            found = self.cache[indicator.id] = IndicatorData(self.session, indicator, self.audience)
        return found


def measured_levels(indicator: Indicator, scope: Node) -> list[DivisionLevel]:
    """Levels below the scope where the indicator is reported, nearest first."""
    return sorted(
        (level for level in indicator.level_enums if level.depth > scope.level.depth),
        key=lambda level: level.depth,
    )


def scope_series(
    data: IndicatorData,
    tree: DivisionTree,
    scope: Node,
    population: dict[int, int],
    *,
    up_to: int | None = None,
) -> tuple[dict[int, float], bool, dict[int, tuple[int, int]]]:
    """The indicator's value at the scope per year (up to ``up_to``): reported there, or rolled up
    from below.

    Also returns, for rolled-up years, how many units reported out of how many exist.
    """
    indicator = data.indicator
    series: dict[int, float] = {}
    reported: dict[int, tuple[int, int]] = {}
    simulated = False
    unit_cache: dict[DivisionLevel, list[Node]] = {}
    for year in data.years(up_to):
        rows = data.rows[year]
        own = rows.get(scope.id)
        if own is not None and own.value is not None:
            series[year] = own.value
            simulated |= own.source is ValueSource.simulated
            continue
        for level in measured_levels(indicator, scope):
            units = unit_cache.setdefault(level, tree.descendants(scope.id, level=level))
            found = [rows[u.id] for u in units if u.id in rows]
            if not found:
                continue
            series[year] = aggregate_rows(indicator, found, population)
            reported[year] = (len(found), len(units))
            simulated |= any(r.source is ValueSource.simulated for r in found)
            break
    return series, simulated, reported


def aggregate_rows(indicator: Indicator, rows: list[Cell], population: dict[int, int]) -> float:
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


def coverage_threshold(target: Target) -> float:
    """What each unit must reach for a per-unit coverage target (每个街道至少1个): its value, else 1."""
    return target.value if target.value is not None else 1.0


def coverage_series(
    target: Target, data: IndicatorData, tree: DivisionTree, scope: Node, *, up_to: int | None = None
) -> tuple[Measure, bool, int, dict[int, int], dict[int, tuple[int, int]]] | Reason:
    """Share of units at ``per_unit_level`` under the scope whose value meets the target, per year
    up to ``up_to``."""
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
    threshold = coverage_threshold(target)
    shares: dict[int, float] = {}
    meeting: dict[int, int] = {}
    reported: dict[int, tuple[int, int]] = {}
    simulated = False
    for year in data.years(up_to):
        rows = data.rows[year]
        if not any(u.id in rows for u in units):
            continue
        values = [value_or_nan(rows.get(u.id)) for u in units]
        shares[year] = share_meeting(values, target.comparator.value, threshold)
        meeting[year] = round(shares[year] * len(units))
        reported[year] = (sum(1 for v in values if not math.isnan(v)), len(units))
        simulated |= any(rows[u.id].source is ValueSource.simulated for u in units if u.id in rows)
    measure = coverage_measure(shares, base_year=target.baseline_year)
    return measure, simulated, len(units), meeting, reported


def value_or_nan(row: Cell | None) -> float:
    return row.value if row is not None and row.value is not None else math.nan
