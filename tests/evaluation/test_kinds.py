"""Each kind of target the evaluation supports, on a real database, with figures worked by hand."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.evaluation.data import OPERATOR
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


def record(
    session: Session,
    target: Target,
    values: dict[int, float],
    *,
    code: str = JINJIANG,
    indicator_id: int | None = None,
) -> None:
    """Approved annual values of the target's indicator (or ``indicator_id``) in division ``code``."""
    where = division(session, code)
    for year, value in values.items():
        session.add(
            DataValue(
                indicator_id=indicator_id or target.indicator_id,
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


def record_months(session: Session, target: Target, years: dict[int, tuple[range, float]]) -> None:
    """Approved monthly values in Jinjiang: year → (the months, the value of each)."""
    where = division(session, JINJIANG)
    for year, (months, value) in years.items():
        for month in months:
            session.add(
                DataValue(
                    indicator_id=target.indicator_id,
                    division_id=where.id,
                    period=f"{year}-{month:02d}",
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
    assert first.status is Status.on_track  # met so far; 2022–2025 are still to come
    assert first.tau == pytest.approx(0.2)
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


def test_average_annual_rate_compares_the_achieved_cagr_with_the_required_one(
    session: Session, plan: Plan
) -> None:
    result = evaluate(session, "K-CAGR", {2020: 100, 2023: 121}, 2023)
    assert result.actual == pytest.approx((1.21 ** (1 / 3) - 1) * 100)  # 6.56 % a year
    assert result.target == 7
    assert result.ratio == pytest.approx(6.5602 / 7, abs=1e-4)
    assert result.status is Status.lagging  # 0.7 <= 0.937 < 0.95
    assert result.reason is not None
    # 100 × 1.07^5 = 140.26 needs (140.26 / 121)^(1/2) − 1 = 7.66 % in each of the two years left
    assert "the remaining 2 years need 7.66 % average annual growth" in result.reason.en


def test_average_annual_rate_is_not_achieved_before_the_deadline(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-CAGR", {2020: 100, 2023: 125.97}, 2023)
    assert result.actual == pytest.approx(8.0, abs=1e-3)
    assert result.status is Status.ahead


def test_average_annual_rate_at_the_deadline(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-CAGR", plan_code="KINDS")
    record(session, target, {2020: 100, 2025: 141})
    result = evaluate_target(session, target, 2025)
    assert result.status is Status.achieved  # 7.11 % a year
    assert result.forecast is None  # the deadline has data: nothing left to forecast


def test_average_annual_rate_missed_at_the_deadline(session: Session, plan: Plan) -> None:
    assert evaluate(session, "K-CAGR", {2020: 100, 2025: 139}, 2025).status is Status.missed  # 6.81 %


def test_rate_of_change_follows_the_compounding_path(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-CUT", {2020: 1.0, 2023: 0.93}, 2023)
    assert result.actual == pytest.approx(7.0)  # a 7 % reduction since 2020
    expected = (1 - 0.865**0.6) * 100  # 8.335 %, not the linear 0.6 × 13.5 = 8.1 %
    assert result.ratio == pytest.approx(7.0 / expected)
    assert result.status is Status.lagging  # r = 0.84
    assert result.reason is not None
    assert "the compounding path expects 8.33 % by 2023" in result.reason.en


def test_rate_of_change_met_early_is_achieved(session: Session, plan: Plan) -> None:
    assert evaluate(session, "K-CUT", {2020: 1.0, 2023: 0.86}, 2023).status is Status.achieved


def test_rate_of_change_without_a_positive_baseline_says_so(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-CUT", {2021: 1.0, 2023: 0.9}, 2023)
    assert result.status is Status.not_evaluable
    assert result.reason is not None
    assert "no baseline" in result.reason.en


def test_trend_counts_the_latest_year_on_year_changes(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-TREND", {2020: 100, 2021: 95, 2022: 97, 2023: 90}, 2023)
    assert result.pi == pytest.approx(2 / 3)  # the share of changes that went down
    assert result.score == pytest.approx(-1.25)  # a trend has no pace: the middle of lagging's band
    assert result.status is Status.lagging
    assert result.reason is not None
    assert "2 of the last 3 year-on-year changes went down (2021: -5, 2022: +2, 2023: -7)" in result.reason.en


def test_trend_falling_every_year_is_on_track_then_achieved(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-TREND", plan_code="KINDS")
    record(session, target, {2020: 100, 2021: 95, 2022: 91, 2023: 90, 2024: 88, 2025: 80})
    assert evaluate_target(session, target, 2023).status is Status.on_track
    assert evaluate_target(session, target, 2025).status is Status.achieved


def test_trend_rising_is_seriously_lagging_then_missed(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-TREND", plan_code="KINDS")
    record(session, target, {2020: 100, 2021: 103, 2022: 104, 2025: 110})
    assert evaluate_target(session, target, 2022).status is Status.seriously_lagging
    result = evaluate_target(session, target, 2025)
    assert result.status is Status.missed  # 2025 has no 2024: the changes that exist are judged
    assert result.reason is not None
    assert (
        "0 of the last 2 year-on-year changes went down (2021: +3, 2022: +1); +10 since" in result.reason.en
    )


def test_trend_needs_two_consecutive_years(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-TREND", {2020: 100, 2022: 97}, 2022)
    assert result.status is Status.not_evaluable
    assert result.reason is not None
    assert "two consecutive years" in result.reason.en


def test_monthly_values_are_summed_into_the_year_and_an_incomplete_year_is_left_out(
    session: Session, plan: Plan
) -> None:
    target = find_target(session, "K-MONTHLY", plan_code="KINDS")
    record_months(session, target, {2020: (range(1, 13), 100.0), 2022: (range(1, 13), 150.0)})
    record_months(session, target, {2023: (range(1, 7), 150.0)})  # 2023 has only half a year
    result = evaluate_target(session, target, 2023)
    assert result.baseline == 1200  # 12 × 100
    assert result.actual == 1800  # 2022: 12 × 150; 2023's six months are not a year
    assert result.data_year == 2022
    assert result.pi == pytest.approx(0.5)
    assert result.reason is not None
    assert "incomplete years left out of the sums (2023: 6 of 12 periods)" in result.reason.en


def test_forecast_reads_nothing_after_the_evaluation_year(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-INC", plan_code="KINDS")
    record(session, target, {2020: 100, 2021: 120, 2022: 140, 2023: 160, 2024: 900})
    result = evaluate_target(session, target, 2023)
    assert result.forecast is not None
    assert result.forecast.points == 4  # 2020–2023 (the increase since 2020: 0, 20, 40, 60)
    assert result.forecast.projected == pytest.approx(100)  # 20 a year reaches 100 in 2025
    assert result.forecast.lower == pytest.approx(100)  # an exact line: no spread
    assert result.forecast.probability == 1.0
    later = evaluate_target(session, target, 2025)  # 2025 has no data yet: 2020–2024 project to it
    assert later.forecast is not None
    assert later.forecast.points == 5


def test_rate_target_forecasts_the_level_it_implies(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-CAGR", {2020: 100, 2021: 105, 2022: 110.25, 2023: 115.7625}, 2023)
    assert result.forecast is not None
    assert result.forecast_scale == "value"
    assert result.forecast.model == "loglinear"
    assert result.forecast.projected == pytest.approx(100 * 1.05**5)  # 5 % a year, exactly
    assert result.forecast.probability == 0.0  # 127.6 < 100 × 1.07^5 = 140.3


def test_per_year_increment_met_every_year_is_achieved_at_the_deadline(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-INC-YEAR", plan_code="KINDS")
    record(session, target, {2020: 100, 2021: 130, 2022: 160, 2023: 190, 2024: 220, 2025: 250})
    assert evaluate_target(session, target, 2025).status is Status.achieved


def test_rate_of_change_with_a_zero_baseline_says_so(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-CUT", {2020: 0.0, 2023: 0.9}, 2023)
    assert result.status is Status.not_evaluable
    assert result.reason is not None
    assert "the baseline 0 is not positive" in result.reason.en


def test_relative_target_takes_the_reference_of_the_data_year_or_the_latest_before(
    session: Session, plan: Plan
) -> None:
    target = find_target(session, "K-REL", plan_code="KINDS")
    reference = target.reference_indicator
    assert reference is not None
    record(session, target, {2020: 0.30, 2023: 0.32})
    # the standard is reported for the city; none for 2023
    record(session, target, {2020: 0.333, 2022: 0.35}, code="510100", indicator_id=reference.id)
    result = evaluate_target(session, target, 2023)
    assert result.target == 0.35  # 2022's standard, the latest up to 2023
    assert result.pi == pytest.approx((0.32 - 0.30) / (0.35 - 0.30))  # 0.4
    assert result.status is Status.seriously_lagging  # r = 0.4 / 0.6
    assert result.reason is not None
    assert "reference: Ambulance standard in 2022 is 0.35" in result.reason.en
    assert evaluate(session, "K-REL", {2024: 0.36}, 2024).status is Status.achieved  # 0.36 > 0.35


def test_relative_target_without_reference_values_says_what_to_import(session: Session, plan: Plan) -> None:
    result = evaluate(session, "K-REL", {2020: 0.30, 2023: 0.32}, 2023)
    assert result.status is Status.not_evaluable
    assert result.reason is not None
    assert "k_standard has no values yet" in result.reason.en


def test_a_ceiling_on_growth_is_judged_on_the_growth_itself(session: Session, plan: Plan) -> None:
    # energy use may grow at most 3 % a year; it grew 10 % a year: over the ceiling, whatever the
    # indicator's direction
    over = evaluate(session, "K-CAP", {2020: 100, 2021: 110, 2022: 121, 2023: 133.1}, 2023)
    assert over.actual == pytest.approx(10.0)
    assert over.status is Status.lagging
    assert over.forecast is not None
    assert over.forecast.probability < 0.01  # P(value in 2025 <= 100 × 1.03^5) under a 10 % trend


def test_a_kept_ceiling_is_on_track_and_forecast_to_hold(session: Session, plan: Plan) -> None:
    kept = evaluate(session, "K-CAP", {2020: 100, 2021: 102, 2022: 104.04, 2023: 106.1208}, 2023)
    assert kept.actual == pytest.approx(2.0)
    assert kept.status is Status.on_track
    assert kept.forecast is not None
    assert kept.forecast.probability > 0.99


def test_below_the_scope_a_division_counts_from_its_own_base_year(session: Session, plan: Plan) -> None:
    from dataclasses import replace

    from planwatch.evaluation.data import EvaluationContext
    from planwatch.evaluation.judges import judge

    target = find_target(session, "K-CAGR-BASE", plan_code="KINDS")  # city baseline 2000 in the catalogue
    record(session, target, {2020: 100, 2021: 107, 2022: 114.49, 2023: 122.5043})  # 7 % a year
    ctx = EvaluationContext.load(session, 2023, [target], None, OPERATOR)
    jinjiang = division(session, JINJIANG)
    district = judge(target, replace(ctx, scope_id=jinjiang.id))
    assert district.actual == pytest.approx(7.0)  # from Jinjiang's own 100, not the city's 2000
    assert district.status is Status.on_track


def test_a_monthly_mean_of_an_incomplete_year_counts_and_says_so(session: Session, plan: Plan) -> None:
    target = find_target(session, "K-MEAN-MONTHLY", plan_code="KINDS")
    record_months(session, target, {2020: (range(1, 13), 20.0), 2023: (range(1, 4), 14.0)})  # 2023: Jan–Mar
    result = evaluate_target(session, target, 2023)
    assert result.actual == 14.0  # the mean of the three months there are
    assert result.pi == pytest.approx(0.6)  # (20 − 14) / (20 − 10)
    assert result.reason is not None
    assert "incomplete years taken from the periods present (2023: 3 of 12 periods)" in result.reason.en
