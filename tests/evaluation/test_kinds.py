"""Each kind of target the evaluation supports, on a real database, with figures worked by hand."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.evaluation.progress import Status
from planwatch.evaluation.service import TargetEvaluation, evaluate_target
from planwatch.models import DataValue, Division, Plan, Target
from planwatch.models.enums import DivisionLevel, ValueSource, ValueStatus
from planwatch.plans.service import find_target, load_plan_file
from tests.conftest import FIXTURES

JINJIANG = "510104"


@pytest.fixture
def plan(session: Session) -> Plan:
    load_plan_file(session, FIXTURES / "kinds_plan.yaml")
    found = session.scalar(select(Plan).where(Plan.code == "KINDS"))
    assert found is not None
    return found


def division(session: Session, code: str) -> Division:
    found = session.scalar(select(Division).where(Division.code == code))
    assert found is not None
    return found


def record(session: Session, target: Target, values: dict[int, float], *, code: str = JINJIANG) -> None:
    where = division(session, code)
    for year, value in values.items():
        session.add(
            DataValue(
                indicator_id=target.indicator_id,
                division_id=where.id,
                period=str(year),
                year=year,
                value=value,
                source=ValueSource.reported,
                status=ValueStatus.approved,
                recorded_by="test",
            )
        )
    session.flush()


def evaluate(session: Session, code: str, values: dict[int, float], year: int) -> TargetEvaluation:
    target = find_target(session, code, plan_code="KINDS")
    record(session, target, values)
    return evaluate_target(session, target, year)


def test_increment_is_the_change_since_the_base_year(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-INC", {2020: 100, 2023: 160}, 2023)
    assert result.actual == 60
    assert result.target == 100
    assert result.pi == pytest.approx(0.6)
    assert result.status is Status.on_track


def test_per_year_increment_judges_each_year(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-INC-YEAR", plan_code="KINDS")
    record(session, target, {2020: 100, 2021: 135, 2022: 160, 2023: 200})
    first = evaluate_target(session, target, 2021)
    assert first.actual == 35
    assert first.status is Status.achieved
    later = evaluate_target(session, target, 2023)
    assert later.actual == 40  # the latest year's increase, which met 30 ...
    assert later.target == 30
    assert later.status is Status.missed  # ... but 2022's increase of 25 did not, and that year is over
    assert later.reason is not None
    assert "met in 2 of 3 years; short in 2022" in later.reason.en


def test_per_year_increment_names_years_it_cannot_judge(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-INC-YEAR", plan_code="KINDS")
    record(session, target, {2020: 100, 2021: 135, 2023: 200, 2024: 240})
    result = evaluate_target(session, target, 2024)
    assert result.data_year == 2024
    assert result.reason is not None
    assert "no increase can be computed for 2022, 2023" in result.reason.en
    assert "no data for 2024" not in result.reason.en


def test_cumulative_sums_yearly_additions_and_names_gaps(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-CUM", {2020: 7, 2021: 10, 2023: 15}, 2023)
    assert result.actual == 25  # 2020 is the base year and does not count
    assert result.pi == pytest.approx(0.5)
    assert result.status is Status.lagging  # r = 0.5 / 0.6
    assert result.reason is not None
    assert "no data for 2022: not in the sum" in result.reason.en


def test_range_target_from_above_moves_down(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-RANGE", {2020: 7, 2023: 6.5}, 2023)
    assert result.target == 6
    assert result.pi == pytest.approx(0.5)
    assert result.status is Status.lagging
    inside = evaluate_target(session, find_target(session, "K-RANGE", plan_code="KINDS"), 2023)
    assert inside.status is Status.lagging


def test_range_target_met_inside(session: Session, plan: Plan) -> None:
    assert evaluate(session, "K-RANGE", {2020: 4, 2022: 5.5}, 2022).status is Status.achieved


def test_strict_target_equal_to_baseline_is_not_progress(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-STRICT", plan_code="KINDS")
    record(session, target, {2020: 10, 2023: 10, 2025: 10})
    assert evaluate_target(session, target, 2023).status is Status.seriously_lagging
    assert evaluate_target(session, target, 2025).status is Status.missed


def test_partial_reporting_is_said(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-INC", {2020: 100, 2023: 160}, 2023)
    assert result.units_reported == 1
    assert result.units_expected == 20
    assert result.reason is not None
    assert "not every unit reported (2020: 1 of 20, 2023: 1 of 20 units)" in result.reason.en


def test_missing_baseline_keeps_the_series(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-INC", {2021: 120, 2023: 160}, 2023)
    assert result.status is Status.not_evaluable
    assert result.measure is not None
    assert result.measure.by_year == {2021: 120, 2023: 160}  # still charted
    assert result.reason is not None
    assert "no baseline" in result.reason.en


def test_per_unit_coverage_counts_units_meeting_it(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-COV", plan_code="KINDS")
    streets = list(
        session.scalars(
            select(Division)
            .where(
                Division.level == DivisionLevel.street, Division.parent_id == division(session, JINJIANG).id
            )
            .order_by(Division.code)
        )
    )
    n = len(streets)
    assert n >= 10
    for index, street in enumerate(streets):
        record(
            session,
            target,
            {2020: 1 if index < n // 2 else 0, 2023: 0 if index == 0 else 2},
            code=street.code,
        )
    result = evaluate_target(session, target, 2023)
    assert result.units_total == n
    assert result.units_meeting == n - 1
    share0 = (n // 2) / n * 100
    assert result.baseline == pytest.approx(share0)
    assert result.actual == pytest.approx((n - 1) / n * 100)
    assert result.pi == pytest.approx(((n - 1) / n * 100 - share0) / (100 - share0))


def test_coverage_on_an_indicator_not_reported_per_unit_says_so(session: Session, plan: Plan) -> None:
    from planwatch.models import Indicator

    target = find_target(session, "K-COV", plan_code="KINDS")
    indicator = session.get(Indicator, target.indicator_id)
    assert indicator is not None
    indicator.levels = ["district"]
    session.flush()
    result = evaluate_target(session, target, 2023)
    assert result.status is Status.not_evaluable
    assert result.reason is not None
    assert "not reported at street level" in result.reason.en


def test_overshooting_a_range_is_not_ahead(session: Session, plan: Plan) -> None:
    # range 5–6 %, from 3 % below it; 8 % overshoots by as much as the baseline fell short
    result = evaluate(session, "K-RANGE", {2020: 3, 2022: 8}, 2022)
    assert result.pi == pytest.approx(1 - 2 / 2)
    assert result.status is Status.seriously_lagging


def test_after_the_deadline_the_deadline_year_counts(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-RANGE", plan_code="KINDS")
    target.deadline_year = 2023
    session.flush()
    record(session, target, {2020: 3, 2023: 5.5, 2024: 9})
    result = evaluate_target(session, target, 2024)
    assert result.data_year == 2023
    assert result.status is Status.achieved
    assert result.reason is not None
    assert "the deadline was 2023" in result.reason.en


def test_no_baseline_at_the_deadline_is_judged_on_the_value(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-STRICT", plan_code="KINDS")
    record(session, target, {2024: 9, 2025: 12})
    assert evaluate_target(session, target, 2025).status is Status.achieved
    early = evaluate_target(session, target, 2024)
    assert early.status is Status.not_evaluable


def test_coverage_names_units_without_data(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-COV", plan_code="KINDS")
    streets = list(
        session.scalars(
            select(Division)
            .where(
                Division.level == DivisionLevel.street, Division.parent_id == division(session, JINJIANG).id
            )
            .order_by(Division.code)
        )
    )
    for index, street in enumerate(streets):
        values = {2020: 1.0} if index % 2 else {2020: 1.0, 2023: 1.0}
        record(session, target, values, code=street.code)
    result = evaluate_target(session, target, 2023)
    assert result.units_reported == (len(streets) + 1) // 2
    assert result.reason is not None
    assert "not every unit reported" in result.reason.en
