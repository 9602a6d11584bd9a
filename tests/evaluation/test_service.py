"""The evaluation service on a real database: values in, statuses out, computed by hand."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.errors import NotFoundError
from planwatch.evaluation.progress import Status
from planwatch.evaluation.service import evaluate_plan, evaluate_target, latest_data_year
from planwatch.models import DataValue, Division, Plan
from planwatch.models.enums import DivisionLevel, ValueSource, ValueStatus
from planwatch.plans.service import find_target, load_plan_file
from tests.conftest import FIXTURES


def districts(session: Session) -> list[Division]:
    return list(
        session.scalars(
            select(Division).where(Division.level == DivisionLevel.district).order_by(Division.code)
        )
    )


def put(session: Session, indicator_id: int, division: Division, year: int, **values: float) -> None:
    session.add(
        DataValue(
            indicator_id=indicator_id,
            division_id=division.id,
            period=str(year),
            year=year,
            source=ValueSource.reported,
            status=ValueStatus.approved,
            recorded_by="test",
            **values,
        )
    )


@pytest.fixture
def mini_plan(session: Session) -> Plan:
    load_plan_file(session, FIXTURES / "mini_plan.yaml")
    plan = session.scalar(select(Plan).where(Plan.code == "TEST-PLAN"))
    assert plan is not None
    return plan


def test_ratio_target_rolls_up_from_districts(session: Session, mini_plan: Plan) -> None:
    target = find_target(session, "T1", plan_code="TEST-PLAN")
    small, big = districts(session)[:2]
    # 2020: (40 + 10) / (100 + 300) = 12.5 %; 2023: (90 + 60) / (100 + 300) = 37.5 %.
    # The mean of the districts' percentages would be 21.7 % and 55 % and call this target ahead.
    put(session, target.indicator_id, small, 2020, value=40, numerator=40, denominator=100)
    put(session, target.indicator_id, big, 2020, value=10 / 3, numerator=10, denominator=300)
    put(session, target.indicator_id, small, 2023, value=90, numerator=90, denominator=100)
    put(session, target.indicator_id, big, 2023, value=20, numerator=60, denominator=300)
    session.flush()
    result = evaluate_target(session, target, 2023)
    assert result.baseline == pytest.approx(12.5)
    assert result.actual == pytest.approx(37.5)
    assert result.tau == pytest.approx(0.6)
    assert result.pi == pytest.approx(25 / 47.5)
    assert result.ratio == pytest.approx(25 / 47.5 / 0.6)
    assert result.status is Status.lagging
    assert not result.simulated


@pytest.mark.parametrize(
    ("value_2023", "status"),
    [(61, Status.achieved), (46, Status.on_track), (40, Status.lagging), (30, Status.seriously_lagging)],
)
def test_status_follows_progress(
    session: Session, mini_plan: Plan, value_2023: float, status: Status
) -> None:
    target = find_target(session, "T1", plan_code="TEST-PLAN")
    [district] = districts(session)[:1]
    put(session, target.indicator_id, district, 2020, value=25, numerator=25, denominator=100)
    put(session, target.indicator_id, district, 2023, value=value_2023, numerator=value_2023, denominator=100)
    session.flush()
    assert evaluate_target(session, target, 2023).status is status


def test_missing_year_uses_latest_earlier_data(session: Session, mini_plan: Plan) -> None:
    target = find_target(session, "T1", plan_code="TEST-PLAN")
    [district] = districts(session)[:1]
    put(session, target.indicator_id, district, 2020, value=25, numerator=25, denominator=100)
    put(session, target.indicator_id, district, 2022, value=46, numerator=46, denominator=100)
    session.flush()
    result = evaluate_target(session, target, 2024)
    assert result.data_year == 2022
    assert result.reason is not None
    assert "2022" in result.reason.en


def test_no_data_is_not_evaluable_with_a_reason(session: Session, mini_plan: Plan) -> None:
    target = find_target(session, "T1", plan_code="TEST-PLAN")
    result = evaluate_target(session, target, 2023)
    assert result.status is Status.not_evaluable
    assert result.reason is not None
    assert "base year" in result.reason.en


def test_incomplete_target_is_not_evaluable(session: Session, mini_plan: Plan) -> None:
    target = find_target(session, "T2", plan_code="TEST-PLAN")
    result = evaluate_target(session, target, 2023)
    assert result.status is Status.not_evaluable
    assert result.reason is not None
    assert "missing" in result.reason.en


def test_year_outside_the_plan_is_refused(session: Session, mini_plan: Plan) -> None:
    with pytest.raises(NotFoundError, match="choose a year from 2020 to 2025"):
        evaluate_plan(session, mini_plan, 2031)


def test_latest_data_year_of_a_plan_without_data_is_the_base_year(session: Session, mini_plan: Plan) -> None:
    assert latest_data_year(session, mini_plan) == 2020


@pytest.mark.parametrize("year", [2021, 2023, 2025])
def test_every_not_evaluable_in_the_demo_says_why(session: Session, year: int) -> None:
    from planwatch.evaluation.service import get_plan

    evaluation = evaluate_plan(session, get_plan(session), year)
    blind = [t for t in evaluation.targets if t.status is Status.not_evaluable]
    assert blind, "the demo has incomplete and qualitative targets"
    for result in blind:
        assert result.reason is not None, result.code
        assert result.reason.zh, result.code
        assert result.reason.en, result.code
        assert "not evaluated automatically" not in result.reason.en, result.code  # every kind is judged
