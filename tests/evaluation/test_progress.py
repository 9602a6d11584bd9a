"""Time progress, actual progress, the met check and the status rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from planwatch.config import StatusThresholds
from planwatch.evaluation.progress import (
    Status,
    actual_progress,
    annual_rate,
    band_progress,
    classify,
    classify_ratio,
    expected_change,
    is_met,
    progress_ratio,
    time_progress,
    trend_status,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def test_time_progress_is_share_of_elapsed_plan_years() -> None:
    assert time_progress(2023, 2020, 2025) == pytest.approx(0.6)
    assert time_progress(2020, 2020, 2025) == 0.0
    assert time_progress(2030, 2020, 2025) == 1.0


def test_time_progress_is_nan_when_deadline_not_after_base() -> None:
    assert math.isnan(float(time_progress(2023, 2025, 2025)))


@given(st.integers(1990, 2100), st.integers(1990, 2100), st.integers(1, 30))
def test_time_progress_stays_in_unit_interval(year: int, base: int, span: int) -> None:
    tau = float(time_progress(year, base, base + span))
    assert 0.0 <= tau <= 1.0


def test_actual_progress_for_higher_is_better() -> None:
    assert actual_progress(50, 40, 60, higher_is_better=True) == pytest.approx(0.5)


def test_actual_progress_for_lower_is_better() -> None:
    # crime falls from 100 towards 80: at 95 a quarter of the way
    assert actual_progress(95, 100, 80, higher_is_better=False) == pytest.approx(0.25)


def test_actual_progress_negative_when_moving_the_wrong_way() -> None:
    assert actual_progress(35, 40, 60, higher_is_better=True) == pytest.approx(-0.25)


def test_actual_progress_when_baseline_already_meets_target() -> None:
    assert actual_progress(99.5, 99.2, 99, higher_is_better=True) == 1.0
    assert actual_progress(98.0, 99.2, 99, higher_is_better=True) == 0.0


@given(finite, finite, finite)
@example(2.0, 1.1125369292536007e-308, 0.0)  # a subnormal required change overflowed with a warning
def test_actual_progress_mirrors_with_direction(actual: float, baseline: float, target: float) -> None:
    higher = float(actual_progress(actual, baseline, target, higher_is_better=True))
    lower = float(actual_progress(-actual, -baseline, -target, higher_is_better=False))
    assert higher == pytest.approx(lower, nan_ok=True)


@given(finite, finite)
def test_reaching_the_target_is_full_progress(baseline: float, target: float) -> None:
    pi = float(actual_progress(target, baseline, target, higher_is_better=target >= baseline))
    assert pi == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("actual", "comparator", "value", "expected"),
    [
        (61, ">", 60, True),
        (60, ">", 60, False),
        (60, ">=", 60, True),
        (1.9, "<=", 2, True),
        (2.1, "<", 2, False),
        (102, "~", 100, True),
        (103, "~", 100, False),
        (float("nan"), ">=", 1, False),
    ],
)
def test_is_met(actual: float, comparator: str, value: float, expected: bool) -> None:
    assert bool(is_met(actual, comparator, value)) is expected


def test_is_met_range() -> None:
    assert is_met([4.9, 5.5, 6.1], "=", low=5, high=6).tolist() == [False, True, False]


def test_is_met_refuses_trend_comparators() -> None:
    with pytest.raises(ValueError, match="trend"):
        is_met(1.0, "decrease", 0.0)


@pytest.mark.parametrize(
    ("pi", "status"),
    [
        (0.6 * 1.10, Status.ahead),
        (0.6 * 1.05, Status.ahead),
        (0.6 * 1.00, Status.on_track),
        (0.6 * 0.95, Status.on_track),
        (0.6 * 0.80, Status.lagging),
        (0.6 * 0.70, Status.lagging),
        (0.6 * 0.50, Status.seriously_lagging),
        (-0.2, Status.seriously_lagging),
    ],
)
def test_classify_by_ratio_of_actual_to_time_progress(pi: float, status: Status) -> None:
    assert classify(0.6, pi, met=False)[()] == status.value


def test_classify_met_target_is_achieved_whatever_the_ratio() -> None:
    assert classify(0.6, 0.1, met=True)[()] == Status.achieved.value


def test_classify_without_elapsed_time_is_not_evaluable() -> None:
    assert classify(0.0, 0.5, met=False)[()] == Status.not_evaluable.value


def test_classify_uses_configured_thresholds() -> None:
    strict = StatusThresholds(ahead=1.2, on_track=1.0, lagging=0.9)
    assert classify(0.5, 0.55, met=False, thresholds=strict)[()] == Status.on_track.value
    assert classify(0.5, 0.47, met=False, thresholds=strict)[()] == Status.lagging.value


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="ahead >= on_track >= lagging"):
        StatusThresholds(ahead=0.9, on_track=0.95, lagging=0.7)


@given(st.floats(0.01, 1), st.floats(-2, 3), st.floats(-2, 3))
def test_more_progress_never_gives_a_worse_status(tau: float, pi_a: float, pi_b: float) -> None:
    order = [
        s.value
        for s in (Status.missed, Status.seriously_lagging, Status.lagging, Status.on_track, Status.ahead)
    ]
    low, high = sorted((pi_a, pi_b))
    status = classify(np.array([tau, tau]), np.array([low, high]), np.array([False, False]))
    assert order.index(str(status[0])) <= order.index(str(status[1]))


def test_unmet_at_the_deadline_is_missed_not_on_track() -> None:
    assert classify(1.0, 0.99, met=False)[()] == Status.missed.value
    assert classify(1.0, 1.2, met=True)[()] == Status.achieved.value


def test_no_change_required_uses_the_met_flag() -> None:
    # baseline 10 and target "> 10": equal is not met, so no progress
    assert actual_progress(10, 10, 10, higher_is_better=True, met=False) == 0.0
    assert actual_progress(11, 10, 10, higher_is_better=True, met=True) == 1.0


def test_band_progress_counts_overshoot_as_distance() -> None:
    from planwatch.evaluation.progress import band_progress

    assert band_progress(4, 3, 5, 6) == pytest.approx(0.5)  # half-way from 3 to the band
    assert band_progress(5.5, 3, 5, 6) == 1.0  # inside
    assert band_progress(7, 3, 5, 6) == pytest.approx(0.5)  # 1 beyond the far side
    assert band_progress(9, 7, 5, 6) == pytest.approx(-2.0)  # from above, moved three times as far away
    assert band_progress(6.5, 5.5, 5, 6, met=False) == 0.0  # baseline was inside, now outside


@given(st.floats(0.1, 60), st.floats(0, 1), st.floats(0, 1), st.booleans())
def test_the_compounding_path_ends_at_the_rate_and_never_goes_back(
    rate: float, tau_a: float, tau_b: float, higher: bool
) -> None:
    assert float(expected_change(rate, 1.0, higher_is_better=higher)) == pytest.approx(rate)
    assert float(expected_change(rate, 0.0, higher_is_better=higher)) == pytest.approx(0.0, abs=1e-12)
    low, high = sorted((tau_a, tau_b))
    assert (
        expected_change(rate, low, higher_is_better=higher)
        <= expected_change(rate, high, higher_is_better=higher) + 1e-9
    )


def test_halfway_through_a_reduction_expects_more_than_half() -> None:
    # 13.5 % over five years is a constant yearly cut: 1 − 0.865^0.5 = 6.995 %, not the linear 6.75 %
    assert float(expected_change(13.5, 0.5, higher_is_better=False)) == pytest.approx(6.9946, abs=1e-4)


@given(st.floats(1, 1e6), st.floats(-20, 40), st.integers(1, 15))
def test_annual_rate_inverts_compound_growth(start: float, rate: float, years: int) -> None:
    end = start * (1 + rate / 100) ** years
    assert float(annual_rate(start, end, years)) == pytest.approx(rate, abs=1e-6)


def test_annual_rate_is_undefined_across_zero() -> None:
    assert np.isnan(annual_rate(0.0, 10.0, 3))
    assert np.isnan(annual_rate(-5.0, 10.0, 3))
    assert np.isnan(annual_rate(5.0, 10.0, 0))


ORDER = ["seriously_lagging", "lagging", "on_track", "ahead", "achieved"]


@given(st.floats(0, 3), st.floats(0, 3), st.booleans())
def test_a_higher_ratio_never_gives_a_worse_status(r_a: float, r_b: float, final: bool) -> None:
    low, high = sorted((r_a, r_b))
    worse = str(classify_ratio(low, False, final=final))
    better = str(classify_ratio(high, False, final=final))
    if final:
        assert worse == better == "missed"
    else:
        assert ORDER.index(worse) <= ORDER.index(better)


@given(st.floats(0, 1), st.floats(0, 1), st.booleans(), st.booleans())
def test_a_trend_with_more_changes_the_right_way_never_judges_worse(
    s_a: float, s_b: float, overall: bool, final: bool
) -> None:
    low, high = sorted((s_a, s_b))
    order = ["missed", "seriously_lagging", "lagging", "on_track", "achieved"]
    worse = str(trend_status(low, overall, final=final))
    better = str(trend_status(high, overall, final=final))
    assert order.index(worse) <= order.index(better)


def test_extreme_sizes_give_numbers_not_warnings() -> None:
    # a subnormal band distance or a huge π once raised "overflow" (warnings are errors here)
    assert float(band_progress(5.0, 1e-308, 2e-308, 3e-308)) == -np.inf
    assert float(progress_ratio(1e-310, 1e300)) == np.inf
