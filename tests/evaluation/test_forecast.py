"""Trend forecasts at the deadline: weighted least squares, prediction interval, probability, gap."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from planwatch.evaluation.forecast import (
    LOGLINEAR_FALLBACK_NOTE,
    REASONS,
    Forecast,
    ForecastBatch,
    Reason,
    _t_cdf,
    _t_quantile_table,
    forecast_many,
    forecast_series,
)

YEARS = list(range(2019, 2024))
LINE = {year: 10.0 + 2.0 * (year - 2019) for year in YEARS}  # 10, 12, … 18; 22 in 2025
NOISY = {2018: 3.0, 2019: 4.5, 2020: 4.0, 2021: 6.5, 2022: 6.0, 2023: 8.0}


def one(
    series: dict[int, float],
    *,
    deadline: int = 2025,
    target: float | None = 22.0,
    baseline: float | None = 10.0,
    higher_is_better: bool = True,
    low: float | None = None,
    high: float | None = None,
    model: str = "linear",
    half_life: float = 5.0,
) -> Forecast:
    result = forecast_series(
        series,
        deadline=deadline,
        target=target,
        baseline=baseline,
        higher_is_better=higher_is_better,
        low=low,
        high=high,
        model=model,
        half_life=half_life,
    )
    assert result is not None
    return result


def t2_cdf(z: float) -> float:
    """Student t with 2 degrees of freedom, in closed form."""
    return 0.5 + z / (2.0 * math.sqrt(2.0 + z * z))


def wls_by_matrix(
    years: list[int], values: list[float], deadline: float, half_life: float
) -> tuple[float, float, int]:
    """Projection and prediction standard error from (XᵀWX)⁻¹, written independently of the module."""
    t = np.array(years, dtype=float)
    y = np.array(values, dtype=float)
    w = 0.5 ** ((t.max() - t) / half_life)
    x = np.column_stack([np.ones_like(t), t - 2000.0])
    xtwx_inv = np.linalg.inv(x.T @ (w[:, None] * x))
    beta = xtwx_inv @ (x.T @ (w * y))
    resid = y - x @ beta
    df = len(y) - 2
    s2 = float(resid @ (w * resid)) / df
    x0 = np.array([1.0, deadline - 2000.0])
    return float(x0 @ beta), math.sqrt(s2 * (1.0 + float(x0 @ xtwx_inv @ x0))), df


# --- exact fits -----------------------------------------------------------------------------------


def test_exact_line_projects_on_the_line_with_zero_width_interval() -> None:
    f = one(LINE)
    assert f.projected == pytest.approx(22.0, rel=1e-12)
    assert f.lower == f.projected == f.upper
    assert f.probability == 1.0  # 22 >= 22
    assert f.anticipated_gap == 0.0
    assert f.points == 5
    assert f.model == "linear"
    assert f.note == ""


def test_exact_line_probability_is_zero_or_one() -> None:
    assert one(LINE, target=22.01).probability == 0.0
    assert one(LINE, target=21.99).probability == 1.0
    assert one(LINE, target=22.0, higher_is_better=False).probability == 1.0
    assert one(LINE, target=21.99, higher_is_better=False).probability == 0.0
    assert one(LINE, target=22.01, higher_is_better=False).probability == 1.0


def test_exact_line_gap_is_share_of_required_progress_still_missing() -> None:
    # baseline 10, target 24: 14 required, projection 22 falls 2 short
    assert one(LINE, target=24.0).anticipated_gap == pytest.approx(2.0 / 14.0)


def test_trajectory_runs_from_first_data_year_to_deadline() -> None:
    f = one(LINE)
    assert list(f.trajectory) == list(range(2019, 2026))
    assert f.trajectory == pytest.approx({year: 10.0 + 2.0 * (year - 2019) for year in range(2019, 2026)})


def test_loglinear_on_exact_geometric_series() -> None:
    series = {year: 100.0 * 1.1 ** (year - 2019) for year in YEARS}
    f = one(series, model="loglinear", target=170.0, baseline=100.0)
    assert f.model == "loglinear"
    assert f.projected == pytest.approx(100.0 * 1.1**6, rel=1e-12)
    assert f.lower == f.projected == f.upper
    assert f.probability == 1.0
    assert f.anticipated_gap == 0.0
    assert f.trajectory[2024] == pytest.approx(100.0 * 1.1**5, rel=1e-12)
    assert one(series, model="loglinear", target=180.0, baseline=100.0).probability == 0.0


# --- hand-computed and independent references ----------------------------------------------------


def test_hand_computed_ordinary_least_squares_case() -> None:
    # Equal weights (half-life ∞): 1, 3, 2 in 2020–2022. Slope 0.5 through (2021, 2); residuals
    # −0.5, 1, −0.5 → σ̂² = 1.5 / 1. In 2023: ŷ = 3, se² = 1.5 (1 + 1/3 + 2²/2) = 5, t(1) quantile
    # 0.9 = tan(0.4π).
    series = {2020: 1.0, 2021: 3.0, 2022: 2.0}
    f = one(series, deadline=2023, target=3.0, baseline=1.0, half_life=math.inf)
    half_width = math.tan(0.4 * math.pi) * math.sqrt(5.0)
    assert f.projected == pytest.approx(3.0)
    assert f.lower == pytest.approx(3.0 - half_width)
    assert f.upper == pytest.approx(3.0 + half_width)
    assert f.probability == pytest.approx(0.5)
    # P(Y ≥ 3 + √5) = P(T₁ ≥ 1) = 1/2 − arctan(1)/π = 1/4
    assert one(series, deadline=2023, target=3.0 + math.sqrt(5.0), half_life=math.inf).probability == (
        pytest.approx(0.25)
    )


def test_weighted_point_estimate_matches_polyfit() -> None:
    years = list(NOISY)
    values = list(NOISY.values())
    half_life = 3.0
    w = 0.5 ** ((2023 - np.array(years, dtype=float)) / half_life)
    slope, intercept = np.polyfit(np.array(years, dtype=float) - 2020.0, values, 1, w=np.sqrt(w))
    f = one(NOISY, deadline=2027, half_life=half_life)
    assert f.projected == pytest.approx(intercept + slope * 7.0, rel=1e-12)
    assert f.trajectory[2018] == pytest.approx(intercept - slope * 2.0, rel=1e-12)


def test_interval_and_probability_match_wls_prediction_formula() -> None:
    series = {2020: 3.0, 2021: 4.5, 2022: 4.0, 2023: 6.5}  # 4 points: 2 degrees of freedom
    projected, se, df = wls_by_matrix(list(series), list(series.values()), 2026, 5.0)
    assert df == 2
    f = one(series, deadline=2026, target=9.0, baseline=3.0)
    q_80 = 0.8 / math.sqrt(0.18)  # Student t(2) quantile p is (2p − 1)/√(2p(1 − p)): 1.886 at p = 0.9
    assert f.projected == pytest.approx(projected, rel=1e-12)
    assert f.upper - f.projected == pytest.approx(q_80 * se, rel=1e-9)
    assert f.projected - f.lower == pytest.approx(q_80 * se, rel=1e-9)
    assert f.probability == pytest.approx(1.0 - t2_cdf((9.0 - projected) / se), rel=1e-12)


def test_interval_widens_with_level() -> None:
    narrow = forecast_many(
        [2019, 2020, 2021, 2022],
        [[1.0, 3.0, 2.0, 4.0]],
        deadline=2025,
        target=5,
        higher_is_better=True,
        baseline=1,
        level=0.5,
    )
    wide = forecast_many(
        [2019, 2020, 2021, 2022],
        [[1.0, 3.0, 2.0, 4.0]],
        deadline=2025,
        target=5,
        higher_is_better=True,
        baseline=1,
        level=0.95,
    )
    assert wide.lower[0] < narrow.lower[0] < narrow.projected[0] < narrow.upper[0] < wide.upper[0]


@pytest.mark.parametrize(
    ("df", "quantile"),  # Student t, one-sided 0.9 (80 % two-sided), from the printed tables
    [(1, 3.078), (2, 1.886), (3, 1.638), (5, 1.476), (10, 1.372), (30, 1.310)],
)
def test_t_quantile_matches_tables(df: int, quantile: float) -> None:
    assert _t_quantile_table(0.8, 30)[df] == pytest.approx(quantile, abs=5e-4)


def test_t_quantile_95_matches_tables() -> None:
    table = _t_quantile_table(0.95, 10)
    assert table[1] == pytest.approx(12.706, abs=5e-4)
    assert table[10] == pytest.approx(2.228, abs=5e-4)


def test_t_cdf_matches_closed_forms() -> None:
    z = np.linspace(-30.0, 30.0, 601)
    np.testing.assert_allclose(
        _t_cdf(z, np.ones(601, dtype=np.int64)), 0.5 + np.arctan(z) / np.pi, atol=1e-15
    )
    two = 0.5 + z / (2.0 * np.sqrt(2.0 + z * z))
    np.testing.assert_allclose(_t_cdf(z, np.full(601, 2, dtype=np.int64)), two, atol=1e-15)
    # ν = 3: 1/2 + (1/π)(θ + sinθ cosθ), θ = arctan(z/√3)
    theta = np.arctan(z / math.sqrt(3.0))
    three = 0.5 + (theta + np.sin(theta) * np.cos(theta)) / np.pi
    np.testing.assert_allclose(_t_cdf(z, np.full(601, 3, dtype=np.int64)), three, atol=1e-15)
    ends = _t_cdf(np.array([-np.inf, np.inf, np.nan]), np.array([4, 4, 4], dtype=np.int64))
    assert ends[0] == 0.0
    assert ends[1] == 1.0
    assert math.isnan(ends[2])


def test_t_cdf_tends_to_normal() -> None:
    # Φ(1.2815515655446004) = 0.9
    assert _t_cdf(np.array([1.2815515655446004]), np.array([400], dtype=np.int64))[0] == pytest.approx(
        0.9, abs=1e-3
    )


# --- loglinear -----------------------------------------------------------------------------------


def test_loglinear_interval_is_the_exponentiated_log_scale_interval() -> None:
    logs = {year: math.log(v) for year, v in NOISY.items()}
    on_logs = one(logs, deadline=2026, target=math.log(9.0))
    f = one(NOISY, deadline=2026, target=9.0, model="loglinear")
    assert f.model == "loglinear"
    assert f.projected == pytest.approx(math.exp(on_logs.projected), rel=1e-12)
    assert f.lower == pytest.approx(math.exp(on_logs.lower), rel=1e-12)
    assert f.upper == pytest.approx(math.exp(on_logs.upper), rel=1e-12)
    assert f.probability == pytest.approx(on_logs.probability, rel=1e-12)


def test_loglinear_falls_back_to_linear_when_a_value_is_not_positive() -> None:
    series = {**NOISY, 2018: 0.0}
    f = one(series, model="loglinear")
    assert f.model == "linear"
    assert f.note == LOGLINEAR_FALLBACK_NOTE
    linear = one(series)
    assert f.projected == linear.projected
    assert f.upper == linear.upper


def test_loglinear_ignores_non_positive_values_in_missing_years() -> None:
    batch = forecast_many(
        [2019, 2020, 2021, 2022],
        [[1.0, np.nan, 2.0, 4.0]],
        deadline=2025,
        target=5,
        higher_is_better=True,
        baseline=1,
        model="loglinear",
    )
    assert batch.model[0] == "loglinear"


def test_loglinear_target_at_or_below_zero_is_always_met() -> None:
    f = one(NOISY, model="loglinear", target=-1.0, baseline=-5.0)
    assert f.probability == 1.0
    assert one(NOISY, model="loglinear", target=0.0, higher_is_better=False, baseline=5).probability == 0.0


# --- directions and ranges ---------------------------------------------------------------------


def test_lower_is_better_probability_is_the_lower_tail() -> None:
    series = {2020: 9.0, 2021: 7.5, 2022: 8.0, 2023: 6.0}  # 2 degrees of freedom
    projected, se, _ = wls_by_matrix(list(series), list(series.values()), 2025, 5.0)
    f = one(series, target=5.0, baseline=9.0, higher_is_better=False)
    assert f.probability == pytest.approx(t2_cdf((5.0 - projected) / se), rel=1e-12)
    above = one(series, target=5.0, baseline=9.0, higher_is_better=True)
    assert f.probability + above.probability == pytest.approx(1.0)


def test_lower_is_better_gap() -> None:
    falling = {year: 20.0 - (year - 2019) for year in YEARS}  # 15 in 2024
    f = one(falling, deadline=2024, target=10.0, baseline=20.0, higher_is_better=False)
    assert f.anticipated_gap == pytest.approx(0.5)
    assert (
        one(falling, deadline=2024, target=16.0, baseline=20.0, higher_is_better=False).anticipated_gap == 0.0
    )


def test_gap_above_one_when_projected_worse_than_baseline() -> None:
    falling = {year: 20.0 - (year - 2019) for year in YEARS}  # 15 in 2024
    f = one(falling, deadline=2024, target=30.0, baseline=20.0, higher_is_better=True)
    assert f.anticipated_gap == pytest.approx(1.5)


def test_gap_is_nan_when_no_progress_was_required_or_no_baseline() -> None:
    assert math.isnan(one(LINE, target=22.0, baseline=25.0).anticipated_gap)
    assert math.isnan(one(LINE, target=22.0, baseline=22.0).anticipated_gap)
    assert math.isnan(one(LINE, baseline=None).anticipated_gap)


def test_no_target_gives_projection_without_probability() -> None:
    f = one(LINE, target=None)
    assert f.projected == pytest.approx(22.0)
    assert math.isnan(f.probability)
    assert math.isnan(f.anticipated_gap)


def test_range_target_exact_line() -> None:
    inside = one(LINE, target=None, low=21.0, high=23.0)
    assert inside.probability == 1.0
    assert inside.anticipated_gap == 0.0
    # band [24, 26], baseline 10 is 14 away, projection 22 is 2 away
    below = one(LINE, target=None, low=24.0, high=26.0)
    assert below.probability == 0.0
    assert below.anticipated_gap == pytest.approx(2.0 / 14.0)
    # overshooting to the far side of the band is distance too
    above = one(LINE, target=None, low=15.0, high=20.0)
    assert above.probability == 0.0
    assert above.anticipated_gap == pytest.approx(2.0 / 5.0)
    assert one(LINE, target=None, low=22.0, high=22.0).probability == 1.0


def test_range_target_probability_is_mass_inside_band() -> None:
    series = {2020: 3.0, 2021: 4.5, 2022: 4.0, 2023: 6.5}
    projected, se, _ = wls_by_matrix(list(series), list(series.values()), 2025, 5.0)
    f = one(series, target=None, baseline=3.0, low=6.0, high=8.0)
    expected = t2_cdf((8.0 - projected) / se) - t2_cdf((6.0 - projected) / se)
    assert f.probability == pytest.approx(expected, rel=1e-12)


def test_open_range_is_one_sided() -> None:
    series = {2020: 3.0, 2021: 4.5, 2022: 4.0, 2023: 6.5}
    open_band = one(series, target=None, baseline=3.0, low=7.0)
    at_least = one(series, target=7.0, baseline=3.0)
    assert open_band.probability == pytest.approx(at_least.probability)
    assert open_band.anticipated_gap == pytest.approx(at_least.anticipated_gap)


# --- data rules --------------------------------------------------------------------------------


def test_fewer_than_three_points_are_not_forecast() -> None:
    assert (
        forecast_series({2022: 1.0, 2023: 2.0}, deadline=2025, target=3, baseline=1, higher_is_better=True)
        is None
    )
    assert (
        forecast_series(
            {2021: 1.0, 2022: math.nan, 2023: 2.0}, deadline=2025, target=3, baseline=1, higher_is_better=True
        )
        is None
    )
    batch = forecast_many(
        [2021, 2022, 2023],
        [[1.0, np.nan, 2.0], [1.0, 2.0, 4.0]],
        deadline=2025,
        target=3,
        higher_is_better=True,
        baseline=1,
    )
    assert list(batch.reason) == [Reason.too_few_points.value, ""]
    assert batch.reason[0] == "fewer than 3 data points"
    assert list(batch.reason_code) == [REASONS.index(Reason.too_few_points), 0]
    assert list(batch.points) == [2, 3]
    assert list(batch.forecast) == [False, True]
    assert batch.model[0] == ""
    for field in (batch.projected, batch.lower, batch.upper, batch.probability, batch.anticipated_gap):
        assert math.isnan(field[0])
        assert not math.isnan(field[1])


def test_no_deadline_is_not_forecast() -> None:
    batch = forecast_many(
        [2021, 2022, 2023], [[1.0, 2.0, 4.0]], deadline=np.nan, target=3, higher_is_better=True, baseline=1
    )
    assert batch.reason[0] == Reason.no_deadline.value
    assert math.isnan(batch.projected[0])


def test_missing_years_are_skipped() -> None:
    years = [2018, 2019, 2020, 2021, 2022, 2023]
    values = [3.0, np.nan, 4.0, 6.5, np.nan, 8.0]
    kept = [0, 2, 3, 5]
    with_gaps = forecast_many(years, [values], deadline=2026, target=9, higher_is_better=True, baseline=3)
    without = forecast_many(
        [years[i] for i in kept],
        [[values[i] for i in kept]],
        deadline=2026,
        target=9,
        higher_is_better=True,
        baseline=3,
    )
    assert with_gaps.points[0] == 4
    for name in ("projected", "lower", "upper", "probability", "anticipated_gap"):
        assert getattr(with_gaps, name)[0] == pytest.approx(getattr(without, name)[0], rel=1e-12)


def test_weights_count_from_the_series_latest_data_year() -> None:
    # the last year missing: the weights of the other years are relative to 2022, as if 2023 did not exist
    missing_last = forecast_many(
        [2019, 2020, 2021, 2022, 2023],
        [[1.0, 3.0, 2.0, 5.0, np.nan]],
        deadline=2025,
        target=5,
        higher_is_better=True,
        baseline=1,
        half_life=2.0,
    )
    shorter = forecast_many(
        [2019, 2020, 2021, 2022],
        [[1.0, 3.0, 2.0, 5.0]],
        deadline=2025,
        target=5,
        higher_is_better=True,
        baseline=1,
        half_life=2.0,
    )
    assert missing_last.upper[0] == pytest.approx(shorter.upper[0], rel=1e-12)


def test_years_need_not_be_sorted() -> None:
    sorted_batch = forecast_many(
        [2020, 2021, 2022, 2023],
        [[3.0, 4.5, 4.0, 6.5]],
        deadline=2025,
        target=7,
        higher_is_better=True,
        baseline=3,
    )
    shuffled = forecast_many(
        [2022, 2020, 2023, 2021],
        [[4.0, 3.0, 6.5, 4.5]],
        deadline=2025,
        target=7,
        higher_is_better=True,
        baseline=3,
    )
    assert shuffled.upper[0] == pytest.approx(sorted_batch.upper[0], rel=1e-12)
    assert shuffled.probability[0] == pytest.approx(sorted_batch.probability[0], rel=1e-12)


def test_recent_years_weigh_more() -> None:
    # flat, then rising: the shorter the half-life, the more the recent rise counts
    series = {2016: 5.0, 2017: 5.0, 2018: 5.0, 2019: 5.0, 2020: 5.0, 2021: 6.0, 2022: 7.0, 2023: 8.0}
    ols = one(series, half_life=math.inf)
    default = one(series)
    short = one(series, half_life=1.0)
    assert ols.projected < default.projected < short.projected


def test_input_array_is_not_modified() -> None:
    values = np.array([[1.0, np.nan, 2.0, 4.0]])
    before = values.copy()
    forecast_many(
        [2019, 2020, 2021, 2022],
        values,
        deadline=2025,
        target=5,
        higher_is_better=True,
        baseline=1,
        model="loglinear",
    )
    np.testing.assert_array_equal(values, before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": [[1.0, 2.0]]}, "values must be"),
        ({"years": [2020, 2020, 2021]}, "distinct"),
        ({"model": "quadratic"}, "model must be"),
        ({"model": ["linear", "cubic"]}, "model must be"),
        ({"level": 1.0}, "level"),
        ({"half_life": 0.0}, "half_life"),
        ({"low": [5.0, 5.0], "high": [4.0, 6.0]}, "low <= high"),
        ({"target": [1.0, 2.0, 3.0]}, "target must be"),
    ],
)
def test_invalid_input_is_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "years": [2020, 2021, 2022],
        "values": [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]],
        "deadline": 2025,
        "target": 4.0,
        "higher_is_better": True,
        "baseline": 1.0,
    } | kwargs
    with pytest.raises(ValueError, match=message):
        forecast_many(**args)  # type: ignore[arg-type]


# --- batch = scalar ------------------------------------------------------------------------------


def test_batch_equals_scalar_series_by_series() -> None:
    rng = np.random.default_rng(7)
    years = np.arange(2015, 2025)
    n = 60
    values = 50.0 + np.cumsum(rng.normal(1.0, 3.0, size=(n, years.size)), axis=1)
    values[rng.random(values.shape) < 0.2] = np.nan
    values[0, :8] = np.nan  # too few points
    values[1, 3] = -1.0  # loglinear falls back
    deadline = rng.integers(2024, 2031, n).astype(float)
    target = 50.0 + rng.normal(10.0, 8.0, n)
    better = rng.random(n) < 0.6
    baseline = values[:, 0].copy()
    low = np.where(rng.random(n) < 0.2, target - 3.0, np.nan)
    high = np.where(np.isnan(low), np.nan, target + 3.0)
    model = np.where(rng.random(n) < 0.5, "linear", "loglinear")
    model[1] = "loglinear"
    batch = forecast_many(
        years,
        values,
        deadline=deadline,
        target=target,
        higher_is_better=better,
        baseline=baseline,
        low=low,
        high=high,
        model=model,
        half_life=4.0,
    )
    assert isinstance(batch, ForecastBatch)
    assert len(batch) == n
    assert batch.note[1] == LOGLINEAR_FALLBACK_NOTE
    assert batch.fallback[1]
    assert batch.model[1] == "linear"
    for i in range(n):
        scalar = forecast_series(
            {int(year): float(v) for year, v in zip(years, values[i], strict=True)},
            deadline=int(deadline[i]),
            target=float(target[i]),
            baseline=float(baseline[i]) if not np.isnan(baseline[i]) else None,
            higher_is_better=bool(better[i]),
            low=None if np.isnan(low[i]) else float(low[i]),
            high=None if np.isnan(high[i]) else float(high[i]),
            model=str(model[i]),
            half_life=4.0,
        )
        if not batch.forecast[i]:
            assert scalar is None
            continue
        assert scalar is not None
        for name in ("projected", "lower", "upper", "probability", "anticipated_gap"):
            assert getattr(scalar, name) == pytest.approx(
                float(getattr(batch, name)[i]), rel=1e-12, nan_ok=True
            )
        assert scalar.points == batch.points[i]
        assert scalar.model == batch.model[i]
        assert scalar.note == batch.note[i]
        assert scalar.trajectory[int(deadline[i])] == pytest.approx(scalar.projected, rel=1e-12)


def test_scalars_broadcast_to_all_series() -> None:
    batch = forecast_many(
        [2020, 2021, 2022],
        np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]),
        deadline=2024,
        target=4.0,
        higher_is_better=True,
        baseline=1.0,
    )
    assert list(batch.projected) == pytest.approx([5.0, -1.0])
    assert list(batch.probability) == [1.0, 0.0]
    np.testing.assert_allclose(batch.fitted([2020, 2024]), [[1.0, 5.0], [3.0, -1.0]], rtol=1e-12, atol=1e-12)


# --- properties ----------------------------------------------------------------------------------

value = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
positive = st.floats(min_value=0.1, max_value=1e3, allow_nan=False)


@st.composite
def series_cases(draw: st.DrawFn, values: st.SearchStrategy[float] = value) -> npt.NDArray[np.float64]:
    row = np.array(draw(st.lists(values, min_size=3, max_size=10)), dtype=float)
    holes = draw(st.lists(st.booleans(), min_size=row.size, max_size=row.size))
    keep = np.array(holes) & (np.cumsum(~np.array(holes)) >= 3)  # at least 3 stay
    row[keep] = np.nan
    return row


@given(
    series_cases(),
    st.integers(2015, 2040),
    value,
    st.booleans(),
    st.sampled_from(["linear", "loglinear"]),
    st.sampled_from([1.0, 5.0, math.inf]),
)
def test_probability_in_unit_interval_and_interval_ordered(
    row: npt.NDArray[np.float64], deadline: int, target: float, better: bool, model: str, half_life: float
) -> None:
    years = np.arange(2015, 2015 + row.size)
    batch = forecast_many(
        years,
        row[None, :],
        deadline=deadline,
        target=target,
        higher_is_better=better,
        baseline=row[0],
        model=model,
        half_life=half_life,
    )
    assert batch.forecast[0]
    assert 0.0 <= batch.probability[0] <= 1.0
    assert batch.lower[0] <= batch.projected[0] <= batch.upper[0]


@given(series_cases(positive), st.integers(2015, 2040))
def test_loglinear_interval_ordered_and_positive(row: npt.NDArray[np.float64], deadline: int) -> None:
    years = np.arange(2015, 2015 + row.size)
    batch = forecast_many(
        years,
        row[None, :],
        deadline=deadline,
        target=100.0,
        higher_is_better=True,
        baseline=row[0],
        model="loglinear",
    )
    assert batch.model[0] == "loglinear"
    assert 0.0 <= batch.lower[0] <= batch.projected[0] <= batch.upper[0]


@given(series_cases(), st.integers(2015, 2040), st.lists(value, min_size=2, max_size=20), st.booleans())
def test_probability_is_monotone_in_the_target(
    row: npt.NDArray[np.float64], deadline: int, targets: list[float], better: bool
) -> None:
    ordered = np.sort(np.array(targets))
    years = np.arange(2015, 2015 + row.size)
    rows = np.repeat(row[None, :], ordered.size, axis=0)
    batch = forecast_many(
        years, rows, deadline=deadline, target=ordered, higher_is_better=better, baseline=row[0]
    )
    steps = np.diff(batch.probability)
    if better:  # P(Y ≥ target) falls as the target rises
        assert np.all(steps <= 1e-12)
    else:
        assert np.all(steps >= -1e-12)


@given(series_cases(), st.integers(2015, 2040), value, st.sampled_from([1.0, 5.0, math.inf]))
def test_shifting_values_shifts_the_linear_projection(
    row: npt.NDArray[np.float64], deadline: int, shift: float, half_life: float
) -> None:
    years = np.arange(2015, 2015 + row.size)
    kwargs: dict[str, object] = {
        "deadline": deadline,
        "target": 0.0,
        "higher_is_better": True,
        "baseline": 0.0,
        "half_life": half_life,
    }
    base = forecast_many(years, row[None, :], **kwargs)  # type: ignore[arg-type]
    moved = forecast_many(years, row[None, :] + shift, **kwargs)  # type: ignore[arg-type]
    scale = 1e-9 * (abs(shift) + np.nanmax(np.abs(row)) + 1.0) * (1.0 + abs(deadline - 2015))
    assert moved.projected[0] == pytest.approx(base.projected[0] + shift, abs=scale)
